"""The search strategies a replay compares, each run against a table instead of training.

Each strategy spends epochs as a search would and picks a configuration;
every evaluation reads one seed's curve from the table (drawn once per
configuration and replay, so a promotion continues the same training), and
a trial's score is the best objective over its own epochs, as Keras Tuner
scores it. A strategy returns an `Outcome`: the configuration it picked,
the epochs it spent, and its incumbent after every trial (the anytime curve).

- `baseline`: no taps; one training.
- `random-search`: configurations drawn uniformly from the table, each
  trained to the full budget; the best score wins.
- `one-epoch-topk`: half the budget screens configurations for one epoch
  each; the best K continue to the full budget with the other half.
- `kt-hyperband`: Keras Tuner's own `HyperbandOracle` (in memory, driven
  through its public calls), picked as Keras Tuner picks: its best trial of
  any budget.
- `model-hyperband`: the model-based sampler (`search.sampler`) inside
  `BaselineHyperbandOracle` (the baseline always trained to the full
  budget), picked by the leaderboard's rule (`results.ranking`), no race:
  the sampler against Keras Tuner's. `model-hyperband/largest` models BOHB's
  largest budget instead of pooling by rank, `model-hyperband/staged` ranks
  tap sets before weights.
- `auxsearch`: what `auxsearch run` does by default (`HyperbandSpec`'s
  sampler and race), the race and the baseline's noise floor after the
  search. `auxsearch/today`: what it did before this benchmark (random
  sampling, no race); `auxsearch/random`: random sampling with the race;
  `auxsearch/race=R`: the default sampler with a race of R seeds.

Hyperband strategies repeat their brackets (`hyperband_iterations`) to
spend a larger budget; the others spend it as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras_tuner as kt
import numpy as np

from auxsearch.core import names
from auxsearch.core.errors import SearchFailed
from auxsearch.core.space import HyperbandSpec
from auxsearch.core.tapspace import TapSpace, active_taps
from auxsearch.core.tasks import learnt
from auxsearch.kt.memory import hyperband_iteration, in_memory
from auxsearch.kt.oracle import hyperband_brackets
from auxsearch.results.ranking import rank_key
from auxsearch.search.race import race_size
from auxsearch.search.sampler import SamplerSettings, TapSampler
from auxsearch.search.tuner import BaselineHyperbandOracle
from bench.replay.race import race
from bench.replay.table import Table

_DEFAULTS = HyperbandSpec()  # what `auxsearch run` does when a space says nothing


@dataclass
class Outcome:
    """What one replayed search did.

    Attributes:
        choice: The configuration it picked (an id of the table): the
            leaderboard's rank 1, after the race if there was one.
        spent: The epochs it trained, the race's and the noise floor's in.
        curve: `(epochs spent, incumbent)` after every trial.
        trials: `(config, seed, start, end, score)` of every trial, in order.
        full: The configurations the search trained to the full budget.
        search_choice: The leaderboard's rank 1 before the race.
        race_spent: The epochs of the race and the noise floor.
        ranked: The leaderboard's order, rank 1 (`choice`) first.
        survivors: The tapped configurations left in the race, best first.
        held_out: The table's seeds the race did not train on (none without one).
    """

    choice: int
    spent: int
    curve: list[tuple[int, int]] = field(default_factory=list)
    trials: list[tuple[int, int, int, int, float]] = field(default_factory=list)
    full: list[int] = field(default_factory=list)
    search_choice: int | None = None
    race_spent: int = 0
    ranked: list[int] = field(default_factory=list)
    survivors: list[int] = field(default_factory=list)
    held_out: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.search_choice is None:
            self.search_choice = self.choice


# A strategy: (table, budgets in epochs, replay) -> one outcome per budget.
Strategy = Callable[[Table, Sequence[int], int], list[Outcome]]

# The last searches run in this process, by (table, oracle, sampler, iterations, replay):
# a replay runs every strategy in turn, so those that share a search find it here.
_SEARCHES: dict[tuple, tuple[list, list[int]]] = {}
_SEARCHES_KEPT = 8


class Evaluator:
    """Answers a replayed search's trainings from a table.

    Args:
        table: The `Table`.
        rng: The replay's random generator (it draws each configuration's seed).
    """

    def __init__(self, table: Table, rng: np.random.Generator) -> None:
        self.table = table
        self.rng = rng
        self.seeds: dict[int, int] = {}
        self.spent = 0
        self.trials: list[tuple[int, int, int, int, float]] = []

    def seed(self, config: int) -> int:
        """The seed (an index into the table's) a configuration trains with."""
        if config not in self.seeds:
            self.seeds[config] = int(self.rng.integers(len(self.table.meta["seeds"])))
        return self.seeds[config]

    def train(self, config: int, start: int, end: int) -> float:
        """Trains epochs `start + 1 .. end` of a configuration; its score (NaN: diverged)."""
        seed = self.seed(config)
        score = self.table.score(config, seed, start, end)
        self.spent += end - start
        self.trials.append((config, seed, start, end, score))
        return score


class Incumbent:
    """The configuration a strategy would pick now, by one of two rules.

    `rule = "leaderboard"`: auxsearch's (each configuration's longest-trained
    trial; full budget first, see `results.ranking`). `rule = "best"`:
    Keras Tuner's `get_best_trials`, the best score of any trial.
    """

    def __init__(self, table: Table, rule: str) -> None:
        self.table, self.rule = table, rule
        self.keys: dict[int, tuple[Any, ...]] = {}  # each configuration's longest trial
        self.ends: dict[int, int] = {}  # the epochs of that trial
        self.best: tuple[Any, ...] | None = None

    def add(self, config: int, end: int, score: float) -> None:
        """Counts a completed trial of `config` that reached epoch `end`."""
        table = self.table
        if np.isnan(score):
            return
        if self.rule == "best":
            key = (-score if table.maximize else score, config)
            self.best = key if self.best is None else min(self.best, key)
            return
        flagged = not learnt(score, table.meta["chance"], table.meta["direction"])
        key = (rank_key(end == table.max_epochs, flagged, end, score, table.maximize), config)
        if end >= self.ends.get(config, 0):  # a shorter, later trial does not replace it
            self.keys[config], self.ends[config] = key, end
            self.best = min(self.keys.values())

    def ranked(self) -> list[int]:
        """Every configuration with a completed trial, by the leaderboard's rule."""
        return [int(key[-1]) for key in sorted(self.keys.values())]

    @property
    def config(self) -> int | None:
        """The incumbent's id; `None` before a trial completed."""
        return None if self.best is None else int(self.best[-1])


def tap_space(table: Table) -> TapSpace:
    """The table's discretised tap space."""
    spec = table.meta["tapspace"]
    return TapSpace(spec["layers"], spec["weight_range"], spec["kinds"], spec["schedules"],
                    spec["head_units"], spec["hint_layers"], spec["max_taps"],
                    weight_grid=spec["weight_grid"])


def hyperband_epochs(table: Table) -> int:
    """The epochs of one Hyperband iteration on the table's budget."""
    total = 0
    for rounds in hyperband_brackets(table.max_epochs, table.meta["factor"]):
        start = 0
        for size, end in rounds:
            total += size * (end - start)
            start = end
    return total


def run_baseline(table: Table, budget: int, replay: int) -> Outcome:
    evaluator = Evaluator(table, _rng(replay))
    evaluator.train(table.baseline, 0, table.max_epochs)
    return Outcome(table.baseline, evaluator.spent, [(evaluator.spent, table.baseline)],
                   evaluator.trials)


def run_random_search(table: Table, budget: int, replay: int) -> Outcome:
    rng = _rng(replay)
    evaluator, incumbent = Evaluator(table, rng), Incumbent(table, "best")
    count = min(len(table.configs), max(1, budget // table.max_epochs))
    curve = []
    for config in rng.permutation(len(table.configs))[:count]:
        incumbent.add(int(config), table.max_epochs,
                      evaluator.train(int(config), 0, table.max_epochs))
        curve.append((evaluator.spent, incumbent.config))
    return _outcome(table, incumbent, evaluator.spent, curve, evaluator.trials)


def run_one_epoch_topk(table: Table, budget: int, replay: int) -> Outcome:
    rng = _rng(replay)
    evaluator, incumbent = Evaluator(table, rng), Incumbent(table, "best")
    full = table.max_epochs
    screened = min(len(table.configs), max(1, budget // 2))
    keep = max(1, (budget - screened) // max(1, full - 1))
    curve, first = [], {}
    for config in rng.permutation(len(table.configs))[:screened]:
        first[int(config)] = evaluator.train(int(config), 0, 1)
        curve.append((evaluator.spent, incumbent.config))
    sign = -1 if table.maximize else 1
    ranked = sorted((c for c, s in first.items() if not np.isnan(s)),
                    key=lambda c: sign * first[c])
    for config in ranked[:keep]:
        incumbent.add(config, full, evaluator.train(config, 1, full))
        curve.append((evaluator.spent, incumbent.config))
    return _outcome(table, incumbent, evaluator.spent, curve, evaluator.trials)


def hyperband_runner(kind: str, settings: SamplerSettings | None = None,
                     race_seeds: int | None = None, sampler: str | None = None) -> Strategy:
    """A Hyperband strategy: `kt` (Keras Tuner's oracle) or `auxsearch`.

    `auxsearch` is `BaselineHyperbandOracle` with `sampler` ("model" or
    "random"; default: `auxsearch run`'s), the model's `settings`, and a race
    of `race_seeds` (default: `auxsearch run`'s).

    One search of as many iterations as the largest budget needs; a smaller
    budget's search is its first iterations (the same trials, as a search of
    fewer iterations trains them: the oracles draw from their seed and the
    trials so far). `auxsearch` then races the full-budget configurations on
    `race_seeds` more seeds and trains the baseline's noise floor.
    """
    seeds = _DEFAULTS.race_seeds if race_seeds is None else race_seeds
    model = (sampler or _DEFAULTS.sampler) == "model"

    def search(table: Table, iterations: int, replay: int) -> tuple[list, list[int]]:
        """The search's trials and each one's Hyperband iteration."""
        space = tap_space(table)
        objective = kt.Objective(table.meta["objective"], table.meta["direction"])
        common = dict(max_epochs=table.max_epochs, factor=table.meta["factor"],
                      hyperband_iterations=iterations, seed=replay + 1)
        if kind == "kt":
            oracle = in_memory(kt.oracles.HyperbandOracle)(objective, **common)
        else:
            oracle = in_memory(BaselineHyperbandOracle)(
                objective, config_key=space.key,
                sampler=TapSampler(space, table.maximize, settings) if model else None,
                **common)
        hp = kt.HyperParameters()
        space.declare(hp)
        oracle.update_space(hp)
        evaluator = Evaluator(table, _rng(replay))
        done = _drive(oracle, table, space, evaluator)
        return evaluator.trials, done

    def run(table: Table, budgets: Sequence[int], replay: int) -> list[Outcome]:
        iterations = [max(1, round(b / hyperband_epochs(table))) for b in budgets]
        # Strategies that differ only after the search (the race) share it: the
        # sampler is most of a replay's time.
        key = (str(table.path), kind, model, repr(settings), max(iterations), replay)
        if key not in _SEARCHES:
            while len(_SEARCHES) >= _SEARCHES_KEPT:
                _SEARCHES.pop(next(iter(_SEARCHES)))
            _SEARCHES[key] = search(table, max(iterations), replay)
        all_trials, done = _SEARCHES[key]
        rule = "best" if kind == "kt" else "leaderboard"
        outcomes = []
        for budget, count in zip(budgets, iterations):
            trials = [t for t, it in zip(all_trials, done) if it < count]
            incumbent, curve, spent = Incumbent(table, rule), [], 0
            for config, _, start, end, score in trials:
                incumbent.add(config, end, score)
                spent += end - start
                curve.append((spent, incumbent.config))
            outcome = _outcome(table, incumbent, spent, curve, trials)
            if kind != "kt":
                _race(table, outcome, incumbent, seeds, np.random.default_rng(
                    [20261203, replay, budget]))
            outcomes.append(outcome)
        return outcomes

    return run


def _race(table: Table, outcome: Outcome, incumbent: Incumbent, seeds: int,
          rng: np.random.Generator) -> None:
    """Races a search's top full-budget configurations and the baseline; updates its pick."""
    full = set(outcome.full)
    top = [c for c in incumbent.ranked() if c in full and c != table.baseline]
    raced = top[:race_size(table.max_epochs, table.meta["factor"]) - 1]
    raced += [table.baseline] if table.baseline in full else []
    left, spent, held = race(table, raced, seeds, _DEFAULTS.baseline_seeds, rng)
    outcome.held_out = held if seeds else []  # without a race, no seed is held out of it
    outcome.choice = left[0] if left else outcome.choice
    outcome.ranked = left + [c for c in incumbent.ranked() if c not in left]
    outcome.survivors = [c for c in left if c != table.baseline]
    outcome.race_spent = spent
    outcome.spent += spent
    if left:  # the anytime curve's last point: the race's pick
        outcome.curve.append((outcome.spent, outcome.choice))


def _lookups(table: Table, space: TapSpace) -> tuple[dict, dict]:
    """A table's configuration ids by key and by values (made once per table)."""
    if "_lookups" not in table.__dict__:
        table.__dict__["_lookups"] = (
            {space.key(values): i for i, values in enumerate(table.configs)},
            {frozenset(values.items()): i for i, values in enumerate(table.configs)})
    return table.__dict__["_lookups"]


def _drive(oracle: kt.Oracle, table: Table, space: TapSpace, evaluator: Evaluator) -> list[int]:
    """Runs an oracle's search on a simulated clock: one trial at a time, to its end.

    Returns:
        Each trial's Hyperband iteration (the evaluator keeps the trials).
    """
    index, by_values = _lookups(table, space)
    # A layer twice in the slots (Keras Tuner's own sampling may): tapped once, as trained.
    canonical = lambda values: space.key(space.values_of(list(active_taps(values).values())))  # noqa: E731
    iterations: list[int] = []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":  # STOPPED: the plan is spent
            return iterations
        iterations.append(hyperband_iteration(oracle))
        values = trial.hyperparameters.values
        config = by_values.get(frozenset(names.user_values(values).items()))
        if config is None:
            config = index.get(space.key(values))
        if config is None:
            config = index[canonical(values)]
        start, end = values.get(names.INITIAL_EPOCH, 0), values.get(names.EPOCHS)
        score = evaluator.train(config, start, end)
        if np.isnan(score):
            trial.status = "FAILED"
            trial.message = "the loss became nan"
        else:
            oracle.update_trial(trial.trial_id, {table.meta["objective"]: score,
                                                 names.CHANCE_SCORE: table.meta["chance"]},
                                step=end - start - 1)
            trial.status = "COMPLETED"
        try:
            oracle.end_trial(trial)
        except (SearchFailed, RuntimeError):  # too many failures in a row: it ends
            return iterations


def _outcome(table: Table, incumbent: Incumbent, spent: int, curve: list[tuple[int, int]],
             trials: list[tuple[int, int, int, int, float]]) -> Outcome:
    choice = incumbent.config if incumbent.config is not None else table.baseline
    full = sorted({c for c, _, _, end, score in trials
                   if end == table.max_epochs and not np.isnan(score)})
    return Outcome(choice, spent, curve, trials, full)


def _rng(replay: int) -> np.random.Generator:
    """The replay's generator: the same for every strategy (paired replays)."""
    return np.random.default_rng([20261203, replay])


def each_budget(run: Callable[[Table, int, int], Outcome]) -> Strategy:
    """A strategy of one budget at a time, as a strategy of several."""
    def runs(table: Table, budgets: Sequence[int], replay: int) -> list[Outcome]:
        return [run(table, budget, replay) for budget in budgets]
    return runs


STRATEGIES: dict[str, Strategy] = {
    "baseline": each_budget(run_baseline),
    "random-search": each_budget(run_random_search),
    "one-epoch-topk": each_budget(run_one_epoch_topk),
    "kt-hyperband": hyperband_runner("kt"),
    "model-hyperband": hyperband_runner("auxsearch", sampler="model", race_seeds=0),
    "model-hyperband/largest": hyperband_runner(
        "auxsearch", SamplerSettings(pool="largest"), sampler="model", race_seeds=0),
    "model-hyperband/staged": hyperband_runner(
        "auxsearch", SamplerSettings(staged=True), sampler="model", race_seeds=0),
    "auxsearch": hyperband_runner("auxsearch"),
    "auxsearch/today": hyperband_runner("auxsearch", sampler="random", race_seeds=0),
    "auxsearch/random": hyperband_runner("auxsearch", sampler="random"),
    # The race's seeds, to choose its default by.
    **{f"auxsearch/race={r}": hyperband_runner("auxsearch", race_seeds=r) for r in (0, 3, 4)},
}

__all__ = ["STRATEGIES", "Evaluator", "Incumbent", "Outcome"]
