"""The race after the search: the top configurations and the baseline on more paired seeds.

A search scores each configuration on one seed, so a lucky seed can take
rank 1. The race trains the configurations that reached the full budget (the
best of them, as many as one Hyperband iteration trains that far: `race_size`),
and the baseline, on `[hyperband] race_seeds` more seeds, the same seeds for
all (`AuxLossHyperModel.seeded(seed, paired=True)`), on the validation split
the search ranked by, and drops those a paired test calls worse than the
leader as it goes (`race_rule`). The baseline also trains on
`baseline_seeds` seeds when the race gave it fewer: its seeds are the
leaderboard's noise floor, the race's included, so they are not paid twice.

Scores go to `race.csv` (and the baseline's to `baseline_seeds.csv`) as they
come: a resumed search trains only what it lacks, and the rule replayed on
the saved scores gives the same drops. Only the search's own scores are read
back: those files carry its run id (`RunDir.owns_files`), and another
search's are removed before it starts (`Search.claim`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras_tuner as kt
import pandas as pd

from auxsearch.core.atomic import atomic_open
from auxsearch.core.rundir import RunDir
from auxsearch.core.space import SearchSpace
from auxsearch.core.tapspace import active_taps, format_taps
from auxsearch.core.tasks import counted_score
from auxsearch.data.dataset import Dataset
from auxsearch.kt.oracle import hyperband_brackets
from auxsearch.results.race_rule import run_rule
from auxsearch.results.rows import baseline_rows, finished, row_values, tapped_rows
from auxsearch.results.tables import leaderboard
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.trial.report import chance_score

logger = logging.getLogger(__name__)

# Called after each training of the race: config, its taps ("": the baseline), seed,
# score (None: diverged) and seconds.
RaceHook = Callable[[str, str, int, "float | None", float], None]


def race_size(max_epochs: int, factor: int) -> int:
    """How many configurations race: as many as one Hyperband iteration trains to the full budget.

    The race takes the best of those that reached it (by the leaderboard), so
    repeating the brackets (`hyperband_iterations`) makes the search larger,
    not the race. Always at least the baseline and one more.
    """
    return max(2, sum(rounds[-1][0] for rounds in hyperband_brackets(max_epochs, factor)
                      if rounds[-1][1] == max_epochs))


def paired_seeds(space: SearchSpace) -> list[int]:
    """The seeds of the race and of the baseline's noise floor, in order."""
    band = space.hyperband
    count = max(band.race_seeds, band.baseline_seeds)
    return [space.seed + 10_000 * i for i in range(1, count + 1)]


@dataclass
class RaceResult:
    """What the race did.

    Attributes:
        scores: Per configuration, its scores by seed, in seed order (None:
            its training diverged).
        dropped: Per dropped configuration, after how many seeds.
        racing: The configurations still in the race at its end.
        baseline: The baseline's configuration id.
        trainings: How many trainings the race and the noise floor took.
    """

    scores: dict[str, dict[int, float | None]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    racing: list[str] = field(default_factory=list)
    baseline: str | None = None
    trainings: int = 0


class Race:
    """Races a finished search's configurations that reached the full budget.

    Args:
        space: The search space.
        hypermodel: The search's HyperModel.
        data: The search's data.
        run_dir: The run directory.
    """

    def __init__(self, space: SearchSpace, hypermodel: AuxLossHyperModel, data: Dataset,
                 run_dir: RunDir) -> None:
        self.space, self.hypermodel, self.data, self.run_dir = space, hypermodel, data, run_dir
        self.objective: kt.Objective = hypermodel.objective
        self.chance = chance_score(hypermodel.task, self.objective.name,
                                   (data.x_val, data.labels("val")))

    def run(self, on_score: RaceHook | None = None) -> RaceResult:
        """Trains the race and the noise floor, resuming from `race.csv`."""
        done = finished(leaderboard(self.run_dir.root, self.objective))
        untapped = baseline_rows(done)
        seeds = paired_seeds(self.space)
        if untapped.empty or not seeds:
            return RaceResult()
        base = untapped.iloc[0]["config"]
        band = self.space.hyperband
        top = tapped_rows(done).head(race_size(band.max_epochs, band.factor) - 1)
        raced = pd.concat([top, untapped])
        values = {row["config"]: row_values(row) for _, row in raced.iterrows()}
        saved = self.run_dir.race_scores()
        result = RaceResult(baseline=base)
        result.scores = {c: dict(saved.get(c, {})) for c in values}

        def score(config: str, i: int) -> float:
            if seeds[i] not in result.scores[config]:
                self._train(config, values[config], seeds[i], result, on_score)
            return counted_score(result.scores[config][seeds[i]], self.chance,
                                 self.objective.direction)

        raced = run_rule(list(values), band.race_seeds, self.objective.direction == "max",
                         score)
        result.racing, result.dropped = raced.racing, dict(raced.dropped)
        for seed in seeds[:band.baseline_seeds]:  # the noise floor, the race's seeds first
            if seed not in result.scores[base]:
                self._train(base, values[base], seed, result, on_score)
        return result

    def _train(self, config: str, values: dict, seed: int, result: RaceResult,
               on_score: RaceHook | None) -> None:
        started = time.perf_counter()
        twin = self.hypermodel.seeded(seed, paired=True)
        hp = twin.hyperparameters(values)
        data = self.data
        try:
            history = twin.fit(hp, twin.build(hp), data.x_train, data.labels("train"),
                               validation_data=(data.x_val, data.labels("val")),
                               epochs=self.space.hyperband.max_epochs, verbose=0)
            curve = history.history[self.objective.name]
            score: float | None = float(max(curve) if self.objective.direction == "max"
                                        else min(curve))
        except kt.errors.FailedTrialError:  # the loss diverged: it learnt nothing
            score = None
        result.scores[config][seed] = score
        result.trainings += 1
        self._save(result)
        logger.info("race, config %s seed %d: %s", config, seed, score)
        if on_score:
            on_score(config, format_taps(active_taps(values)), seed, score,
                     time.perf_counter() - started)

    def _save(self, result: RaceResult) -> None:
        rows = [{"config": c, "seed": s, "score": v}
                for c, by_seed in result.scores.items() for s, v in by_seed.items()]
        with atomic_open(self.run_dir.race) as stream:
            pd.DataFrame(rows, columns=["config", "seed", "score"]).to_csv(stream, index=False)
        base = result.scores.get(result.baseline, {})
        with atomic_open(self.run_dir.baseline_seeds) as stream:
            pd.DataFrame({"seed": list(base), "score": list(base.values())}).to_csv(
                stream, index=False)
