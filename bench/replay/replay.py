"""`run`: every strategy replayed many times on each table, at several budgets.

Budgets are multiples of one Hyperband iteration's epochs on the table
(75 for max_epochs = 9, factor = 3: the default search's). Replay `r`
gives every strategy the same random generator and oracle seed, so the
strategies are compared on paired replays. The work is spread over
processes (one replay of one strategy at one budget each).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from auxsearch.core.verdicts import SEEDS  # confirm's default seed limit
from bench.replay.confirm import TOP, confirm_trainings
from bench.replay.strategies import STRATEGIES, Outcome, hyperband_epochs
from bench.replay.table import Table, load_table

MULTIPLES = (1, 3, 10)  # budgets, in default searches
ANYTIME = 10  # the multiple whose anytime curves give `epochs_to_p90`
# Keras Tuner's Hyperband, the reference, also searches this far (in default searches), so
# that its anytime curve reaches the epochs every other strategy spends at ANYTIME (a
# race's included): the comparison at equal epochs spent reads it there.
REFERENCE, REACH = "kt-hyperband", 13
TODAY_SEEDS = 5  # today's reference: the fixed `confirm --top 3 --seeds 5`
EXAMPLES = 360  # test examples of a table that does not say (the digits' 20%)


@dataclass(frozen=True)
class Job:
    """One replay: a strategy on a table at a budget (`multiple`: in default searches)."""

    table: str
    strategy: str
    multiple: int
    replay: int


@dataclass(frozen=True)
class Work:
    """One replay of some strategies on a table at every budget.

    One search serves every budget, and strategies that differ only after
    it (the race) share it (`strategies`), so a replay's strategies run in
    one process.
    """

    table: str
    strategies: tuple[str, ...]
    multiples: tuple[int, ...]
    replay: int


@dataclass(frozen=True)
class Replayed:
    """What one replay found, in the table's terms.

    Attributes:
        job: The replay.
        choice: The configuration the strategy picked.
        regret: Its true score's distance from the table's best (>= 0).
        select_regret: Its distance from the best true score among the
            configurations the search trained to the full budget (NaN if it
            trained none; may be < 0 for a pick short of the full budget).
        heldout_gain: On the table's seeds its race did not train on, its
            score's lead over the mean configuration the search trained to
            the full budget (NaN without a race or a seed left over).
        spent: The epochs it trained.
        curve: `(epochs spent, regret of the incumbent)` after each trial
            (NaN before a first incumbent); kept for the anytime budget only.
        confirmed: The epochs to a confirmed answer: the search, its race and
            a sequential `confirm` at its default seed limit (simulated: see
            `confirm`) of those left in the race (at most 3; without a race, the top 3);
            NaN for a strategy with no leaderboard.
        today: The same for today's pipeline: the search without a race, the
            noise floor, and the fixed `confirm --top 3 --seeds 5`.
        verdict: The confirmation's verdict on rank 1 ("" without one).
        outcome: The strategy's `Outcome` (its trials), for later analyses.
    """

    job: Job
    choice: int
    regret: float
    select_regret: float
    spent: int
    curve: tuple[tuple[int, float], ...]
    outcome: Outcome
    confirmed: float = float("nan")
    today: float = float("nan")
    verdict: str = ""
    heldout_gain: float = float("nan")


@lru_cache(maxsize=8)
def _table(path: str) -> Table:
    return load_table(path)


def run_work(work: Work) -> list[Replayed]:
    """Runs one replay of its strategies at every budget (in whichever process)."""
    table = _table(work.table)
    done = []
    for strategy in work.strategies:
        multiples = work.multiples
        if strategy == REFERENCE and ANYTIME in multiples:
            multiples += (REACH,)
        outcomes = STRATEGIES[strategy](table, [m * hyperband_epochs(table) for m in multiples],
                                        work.replay)
        done += [_replayed(table, Job(work.table, strategy, m, work.replay), outcome)
                 for m, outcome in zip(multiples, outcomes)]
    return done


def _replayed(table: Table, job: Job, outcome: Outcome) -> Replayed:
    """What a replay's outcome says in the table's terms (and its pipeline's confirmation)."""
    curve = ()
    if job.multiple >= ANYTIME:
        curve = tuple((spent, float("nan") if config is None else float(table.regret(config)))
                      for spent, config in outcome.curve)
    select = float("nan")
    if outcome.full:
        truth = table.truth[outcome.full]
        best = truth.max() if table.maximize else truth.min()
        mine = table.truth[outcome.choice]
        select = float(best - mine if table.maximize else mine - best)
    heldout = float("nan")
    if outcome.held_out and outcome.full:
        held = table.final[:, outcome.held_out].mean(axis=1)
        lead = held[outcome.choice] - held[outcome.full].mean()
        heldout = float(lead if table.maximize else -lead)
    confirmed = today = float("nan")
    verdict = ""
    if outcome.ranked:  # a leaderboard: the pipeline's confirmation
        # What `confirm` takes by default: those left in the race, or the top 3.
        top = (outcome.survivors or [c for c in outcome.ranked if c != table.baseline])[:TOP]
        examples = table.meta.get("examples", {}).get("test", EXAMPLES)
        rng = np.random.default_rng([job.replay, 7])
        trainings, verdicts = confirm_trainings(table, top, SEEDS, True, examples, rng)
        confirmed = outcome.spent + table.max_epochs * trainings
        search = outcome.spent - outcome.race_spent
        today = search + table.max_epochs * (2 + (len(top) + 1) * TODAY_SEEDS)
        verdict = verdicts[0] if top and top[0] == outcome.choice else "baseline"
    return Replayed(job, outcome.choice, float(table.regret(outcome.choice)), select,
                    outcome.spent,
                    curve, outcome if job.multiple == 1 else Outcome(outcome.choice,
                                                                      outcome.spent),
                    confirmed, today, verdict, heldout)


def regret_at(one: Replayed, spent: float, worst: float) -> float:
    """The regret of a replay's incumbent once `spent` epochs were trained.

    From its anytime curve; `worst` before its first incumbent.
    """
    found = worst
    for epochs, regret in one.curve:
        if epochs > spent:
            break
        if not np.isnan(regret):
            found = regret
    return found


def replay(tables: Sequence[str | Path], strategies: Sequence[str], replays: int = 100,
           multiples: Sequence[int] = MULTIPLES, workers: int | None = None,
           ) -> list[Replayed]:
    """Replays each strategy `replays` times per table and budget.

    Args:
        tables: Table folders.
        strategies: Names in `STRATEGIES`.
        replays: Integer, replays per strategy, table and budget.
        multiples: The budgets, in default searches' epochs.
        workers: Processes to spread the replays over (default: the CPUs).

    Returns:
        Every replay's `Replayed`, by table, replay, strategy and budget.

    Raises:
        KeyError: If a strategy is unknown.
    """
    for name in strategies:
        if name not in STRATEGIES:
            raise KeyError(name)
    works = [Work(str(t), tuple(strategies), tuple(multiples), r) for t in tables
             for r in range(replays)]
    return [one for found in pool_map(run_work, works, workers) for one in found]


def pool_map(function: Callable[[Any], Any], jobs: list[Any],
             workers: int | None = None) -> list[Any]:
    """`function` of each job, in order: in this process, or in `workers` processes.

    Args:
        function: A module-level function (pickled to the workers).
        jobs: Its arguments, one per call.
        workers: Processes (default: the CPUs); 1 runs here.
    """
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return [function(job) for job in jobs]
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with context.Pool(workers) as pool:
        return pool.map(function, jobs, chunksize=max(1, len(jobs) // (workers * 8)))


def anytime(replayed: Sequence[Replayed], epsilon: float, until: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The anytime curves of some replays, on a grid of 1 .. `until` epochs.

    Returns:
        `(epochs, share within epsilon, median regret)`: after each number
        of epochs spent, the share of replays whose incumbent's true score
        is within `epsilon` of the best, and the median incumbent's regret
        (a replay without an incumbent yet counts as not within, and as the
        largest regret).
    """
    epochs = np.arange(1, until + 1)
    regrets = np.full((len(replayed), len(epochs)), np.inf)
    for i, one in enumerate(replayed):
        for spent, regret in one.curve:
            if spent <= until and not np.isnan(regret):
                regrets[i, spent - 1:] = regret
    within = (regrets <= epsilon + 1e-12).mean(axis=0)
    return epochs, within, np.median(regrets, axis=0)
