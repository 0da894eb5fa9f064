"""The ablation of the confirmed winner: which of its taps are needed, and at what weight.

After `confirm`, the best configuration it calls better than the baseline
(by its confirmed mean) is ablated (Fawcett & Hoos 2016, ablation analysis):
one variant per tap, that tap removed, and with `weights` one at 3x and one
at 1/3 of each tap's weight, clipped to the space's weight range. The
variants train on the winner's confirmation seeds in the same order
(paired: a seed fixes the batch order and the initial weights of the user's
model), at the full budget, and are scored on the test split by confirm's
own per-example score, whatever the task. The winner is not retrained: its
confirm scores are reused, and it trains only the further seeds a variant
needs (stored, as every training here, in `confirm_scores/`, so a killed
ablation resumes).

After each seed from the second on, each open variant is tested against
the winner, one-sided, for "needed" and for "not needed" within the margin
(`noninferiority`: why one-sided non-inferiority); a settled variant trains
no more. A one-tap winner needs no variant: without its tap it is the
baseline, which `confirm` called worse, so its tap is needed by confirm's
comparison. The smallest configuration is the winner without its
not-needed taps; where it differs from every variant (two or more taps
dropped, at least one left) it is tested the same way.

`ablation.csv` has one row per variant: `config` (the winner), `tap` (the
tap as the leaderboard writes it; for the smallest, its taps), `variant`
(`without`, `x3`, `x1/3`, `smallest`, or `baseline` for a one-tap winner's
comparison read from confirm), `difference` (the winner minus the variant
on the metric's better side: positive, the tap helps), its interval `low`,
`high` (the design's repeated confidence interval, within the metric's
range), `verdict` (`core.verdicts.TAP_VERDICTS`) and `seeds`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auxsearch.confirmation.decisions import Decision
from auxsearch.confirmation.noninferiority import AblationDesign
from auxsearch.confirmation.run import seed_of, train_round  # confirm's own round: one source
from auxsearch.confirmation.sequential import look_statistics
from auxsearch.confirmation.store import ScoreStore, split_fingerprint
from auxsearch.core import names
from auxsearch.core.atomic import atomic_open
from auxsearch.core.rundir import RunPath
from auxsearch.core.tapspace import AuxLoss, active_taps
from auxsearch.core.tasks import METRIC_RANGES
from auxsearch.core.verdicts import BETTER, NEEDED, NOT_NEEDED
from auxsearch.packing.policy import resolve_pack
from auxsearch.results.rows import row_values
from auxsearch.results.tables import saved_leaderboard
from auxsearch.search.run import open_run

logger = logging.getLogger(__name__)

COLUMNS = ["config", "tap", "variant", "difference", "low", "high", "verdict", "seeds"]
WITHOUT, SMALLEST, BASELINE = "without", "smallest", "baseline"
FACTORS = {"x3": 3.0, "x1/3": 1 / 3}  # `--weights`: each tap's weight times these


@dataclass(frozen=True)
class Variant:
    """One configuration the winner is compared with.

    Attributes:
        name: Its id in logs and the score store (`<winner>-a<i>`).
        tap: The tap it changes, as the leaderboard writes it (the
            smallest's: its taps).
        kind: `without`, `x3`, `x1/3` or `smallest`.
        values: Its hyperparameter values.
    """

    name: str
    tap: str
    kind: str
    values: dict[str, Any]


def winner_of(confirmed: pd.DataFrame) -> pd.Series | None:
    """The best configuration `confirm` called better (its table is best mean first)."""
    better = confirmed[confirmed["verdict"] == BETTER]
    return None if better.empty else better.iloc[0]


def _taps_text(losses: list[AuxLoss]) -> str:
    return ";".join(str(loss) for loss in losses)


class Ablation:
    """The ablation of a confirmed run's winner, planned; `run` trains and writes it.

    Args:
        run_dir: The run directory `confirm` just confirmed.
        confirmed: `confirm`'s table, with its `attrs["scores"]` (each
            configuration's per-example test scores, (seeds, examples))
            and `attrs["margin"]`.
        seeds: The most seeds a variant trains (confirm's `--seeds`).
        weights: Whether each tap also gets a variant at 3x and 1/3 its weight.
        pack: Trainings at once (as `confirm`'s `pack`).
    """

    def __init__(self, run_dir: RunPath, confirmed: pd.DataFrame, seeds: int,
                 weights: bool = False, pack: int | str | None = None) -> None:
        self.confirmed = confirmed
        self.seeds = seeds
        self.design = AblationDesign(seeds)
        self.margin = float(confirmed.attrs["margin"])
        self.scores: dict[str, np.ndarray] = confirmed.attrs["scores"]
        self.search = search = open_run(run_dir)
        row = winner_of(confirmed)
        self.winner: str | None = None if row is None else str(row["config"])
        self.variants: list[Variant] = []
        self.taps: list[AuxLoss] = []
        if self.winner is None:
            return
        board = saved_leaderboard(search.run_dir, search.hypermodel.objective)
        self.values = row_values(board.set_index("config").loc[self.winner])
        self.taps = list(active_taps(self.values).values())
        space = search.hypermodel.space
        low, high = space.weight_range
        for tap in self.taps:
            others = [t for t in self.taps if t.layer != tap.layer]
            if len(self.taps) > 1:
                self._add(str(tap), WITHOUT, space.values_of(others))
            for kind, factor in FACTORS.items() if weights else ():
                weight = float(np.clip(tap.weight * factor, low, high))
                if not np.isclose(weight, tap.weight):
                    changed = AuxLoss(tap.layer, weight, tap.kind, tap.schedule, tap.units)
                    self._add(str(tap), kind, space.values_of(
                        [changed if t.layer == tap.layer else t for t in self.taps]))
        self.pack = pack
        metric = names.objective_metric(search.hypermodel.objective.name)
        low_m, high_m = METRIC_RANGES.get(metric, (None, None))
        self.span = None if low_m is None or high_m is None else high_m - low_m
        self.sign = 1.0 if search.hypermodel.objective.direction == "max" else -1.0

    def _add(self, tap: str, kind: str, values: dict[str, Any]) -> Variant:
        variant = Variant(f"{self.winner}-a{len(self.variants) + 1}", tap, kind, values)
        self.variants.append(variant)
        return variant

    @property
    def planned(self) -> tuple[int, int]:
        """`(trainings, epochs)` at most: every variant and the winner to the seed limit,
        and the smallest configuration where two taps or more might go."""
        if self.winner is None:
            return 0, 0
        smallest = self.seeds if len(self.taps) > 2 else 0
        have = len(self.scores[self.winner])
        trainings = (len(self.variants) * self.seeds + smallest
                     + (max(0, self.seeds - have) if self.variants else 0))
        return trainings, trainings * self.search.space.hyperband.max_epochs

    def run(self, on_score: Callable[[str, int, float], None] | None = None) -> pd.DataFrame:
        """Trains the variants seed by seed, tests them; writes `ablation.csv`.

        Returns:
            The table of `ablation.csv` (no rows where `confirm` called
            nothing better); `attrs["design"]` says the design in a line,
            `attrs["trainings"]` counts the trainings (`attrs["kept"]` of
            them read back from an earlier run with the same settings).
        """
        rows: list[dict[str, Any]] = []
        self.trainings = self.kept = 0
        if self.winner is not None:
            search = self.search
            data = search.data
            pack = resolve_pack(search.hypermodel.trainer, self.search.space.training.pack
                                if self.pack is None else self.pack, data.x_train,
                                data.labels("train"), {})
            self.store = ScoreStore(search.run_dir.confirm_scores, {
                "run_id": search.run_dir.run_id(), "ablation_of": self.winner,
                "seeds": self.seeds, "margin": self.margin,
                "test_split": split_fingerprint(data.x_test, data.y_test)})
            self.per_seed = {self.winner: list(self.scores[self.winner])}
            if len(self.taps) == 1:
                rows.append(self._from_confirm())
            found = self._test(self.variants, pack, on_score)
            rows += [self._row(v.tap, v.kind, d) for v, d in zip(self.variants, found)]
            smallest = self._smallest(found)
            if smallest is not None:
                rows += [self._row(smallest.tap, SMALLEST, d)
                         for d in self._test([smallest], pack, on_score)]
        table = pd.DataFrame(rows, columns=COLUMNS)
        with atomic_open(self.search.run_dir.ablation) as stream:
            table.to_csv(stream, index=False)
        table.attrs["design"] = self.design.describe(max(1, len(self.variants)), self.margin)
        table.attrs["trainings"], table.attrs["kept"] = self.trainings, self.kept
        logger.info("ablation: %d trainings (%d read back); %s", self.trainings, self.kept,
                    table.attrs["design"])
        return table

    def _smallest(self, found: list[Decision]) -> Variant | None:
        """The winner without its not-needed taps, where that is no variant already."""
        dropped = {v.tap for v, d in zip(self.variants, found)
                   if v.kind == WITHOUT and d.verdict == NOT_NEEDED}
        kept = [t for t in self.taps if str(t) not in dropped]
        if len(dropped) < 2 or not kept:
            return None  # one dropped: a variant; all: the baseline, which confirm tested
        return Variant(f"{self.winner}-s", _taps_text(kept), SMALLEST,
                       self.search.hypermodel.space.values_of(kept))

    def _test(self, variants: list[Variant], pack: int,
              on_score: Callable[[str, int, float], None] | None) -> list[Decision]:
        """Runs the sequential test of `variants` against the winner; their decisions."""
        if not variants:
            return []
        test = self.design.test(len(variants), self.margin, self.span)
        for v in variants:
            self.per_seed[v.name] = []
        training = list(variants)
        for repetition in range(self.seeds):
            jobs = [(v.name, v.values, repetition) for v in training]
            if len(self.per_seed[self.winner]) <= repetition:
                jobs.append((self.winner, self.values, repetition))
            self.kept += train_round(self.search, jobs, pack, self.per_seed, on_score,
                                      self.store)
            self.trainings += len(jobs)
            if repetition + 1 < self.design.looks[0]:
                continue
            delta, se = np.full((1, len(variants)), np.nan), np.full((1, len(variants)), np.nan)
            df = 1
            winner = np.stack(self.per_seed[self.winner][:repetition + 1])
            for h, v in enumerate(variants):
                if test.open[0, h]:
                    mine = np.stack(self.per_seed[v.name])
                    delta[0, h], se[0, h], df = look_statistics(self.sign * (winner - mine))
            test.look(delta, se, df)
            training = [v for v, open_ in zip(variants, test.open[0]) if open_]
            if not training:
                break
        return test.decisions(self.design.looks)

    def _row(self, tap: str, kind: str, decision: Decision) -> dict[str, Any]:
        seeds = ";".join(str(seed_of(self.search, r)) for r in range(decision.stopped))
        return {"config": self.winner, "tap": tap, "variant": kind,
                "difference": decision.delta, "low": decision.low, "high": decision.high,
                "verdict": decision.verdict, "seeds": seeds}

    def _from_confirm(self) -> dict[str, Any]:
        """A one-tap winner's row: confirm's comparison with the baseline (called worse)."""
        row = self.confirmed.set_index("config").loc[self.winner]
        ends = sorted(self.sign * row[["delta_low", "delta_high"]].astype(float))
        return {"config": self.winner, "tap": str(self.taps[0]), "variant": BASELINE,
                "difference": self.sign * float(row["delta_vs_baseline"]), "low": ends[0],
                "high": ends[1], "verdict": NEEDED, "seeds": row["seeds"]}
