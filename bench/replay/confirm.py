"""The confirmation after a replayed search, simulated on the table's seed noise.

`confirm --top 3 --seeds S` retrains the leaderboard's top 3 and the
baseline on the test split. A table has validation curves, not test
examples, so a confirmation is simulated: on each of its seeds (a table
seed, drawn with replacement, the same for every configuration: paired),
a configuration's accuracy is its recorded full-budget score on that seed,
and its per-example outcomes on `examples` test examples are drawn around it
with `confirmation.simulation`'s noise model (the trainings agree on which
examples are hard). Then the design runs on them: the fixed design (one
look at S seeds, Holm) or the sequential one (a look after every seed,
stopping when settled), by the same test `confirm` runs, and a verdict with
no claim is "not settled" where the two trained on different shares of
their seeds (`decisions.unsettled`, by the leaderboard's chance rule).

The tables hold 3 to 5 seeds, so a confirmation of up to 10 seeds resamples
them: the power at a seed limit is the power on those seeds' spread, not on
new seeds. `seed_limits` measures the power and the epochs at each limit
(`python -m bench.replay.confirm`), and `train_or_fail_limits` the same on
the train-or-fail model at the committed deep_plain run's rates.

Only accuracy is simulated (a 0/1 score per example).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auxsearch.confirmation.sequential import Design, look_statistics
from auxsearch.confirmation.simulation import outcomes, train_or_fail, type_one_error
from auxsearch.core.tasks import learnt
from auxsearch.core.verdicts import BETTER, NO_DIFFERENCE, NOT_SETTLED, SEEDS
from bench.replay.table import Table, load_table

AGREEMENT = 0.8  # how much trainings agree on which examples are hard (the simulation's)
TOP = 3  # configurations confirmed besides the baseline (confirm's default)
LIMITS = tuple(range(2, 11))  # the seed limits `seed_limits` measures
GAIN = 2.0  # the power target holds where the best gain over the baseline exceeds GAIN epsilon
POWER = 0.8  # the power target
# The committed deep_plain run (results/deep_plain/confirmed.csv): the baseline trained on 0
# of 9 seeds; the top three on 6 of 8, 7 of 9 and 5 of 9, at 0.62 +- 0.12 when they did.
DEEP_PLAIN = {"baseline": 0.0, "trains": (6 / 8, 7 / 9, 5 / 9), "trained_score": 0.62,
              "trained_spread": 0.12}


def confirm_batch(table: Table, configs: list[int], max_seeds: int, sequential: bool,
                  examples: int, rng: np.random.Generator,
                  replays: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Simulates `replays` confirmations of `configs` against the baseline at once.

    Returns:
        Each replay's trainings (the baseline's included), shape (replays,),
        and its verdicts (replays, len(configs)).
    """
    seeds = rng.integers(len(table.meta["seeds"]), size=(replays, max_seeds))
    rows = np.array(configs + [table.baseline])
    accuracy = table.final[rows[None, :, None], seeds[:, None, :]]  # (replays, K + 1, seeds)
    scores = outcomes(rng, accuracy, examples, AGREEMENT)
    differences = scores[:, :-1] - scores[:, -1:]  # (replays, K, seeds, examples)
    design = Design(max_seeds, max_seeds if not sequential else min(2, max_seeds))
    test = design.test(len(configs), 0.01 if sequential else None, span=1.0, batch=replays)
    for k in design.looks:
        test.look(*look_statistics(differences[:, :, :k]))
        if test.done:
            break
    stopped = np.asarray(design.looks)[test.stopped]  # (replays, K)
    verdicts = test.verdicts(table.meta["direction"]).astype(object)
    # "Not settled": no claim while the two trained on different shares of the seeds so far.
    so_far = np.cumsum(learnt(accuracy, table.meta["chance"], table.meta["direction"]), axis=-1)
    at = stopped[..., None] - 1
    mine = np.take_along_axis(so_far[:, :-1], at, -1)[..., 0]
    base = np.take_along_axis(np.broadcast_to(so_far[:, -1:], so_far[:, :-1].shape), at,
                              -1)[..., 0]
    verdicts[(verdicts == NO_DIFFERENCE) & (mine != base)] = NOT_SETTLED
    return stopped.sum(axis=1) + stopped.max(axis=1), verdicts


def confirm_trainings(table: Table, configs: list[int], max_seeds: int, sequential: bool,
                      examples: int, rng: np.random.Generator) -> tuple[int, list[str]]:
    """Simulates `confirm` of `configs` against the baseline; its trainings and verdicts.

    Args:
        table: The table.
        configs: The configurations confirmed (the baseline apart), best first.
        max_seeds: `--seeds`: the most seeds each trains.
        sequential: Whether the sequential design runs (else one look at the end).
        examples: Test examples per training.
        rng: The replay's generator.

    Returns:
        The trainings spent (the baseline's included) and each configuration's
        verdict (one of `core.verdicts.VERDICTS`).
    """
    if not configs:
        return 0, []
    trainings, verdicts = confirm_batch(table, configs, max_seeds, sequential, examples, rng)
    return int(trainings[0]), [str(v) for v in verdicts[0]]


def type_one(table: Table, examples: int, max_seeds: int = SEEDS,
             simulations: int = 4000) -> float:
    """The sequential design's rate of "better" when every configuration equals the baseline.

    Simulated on the table's noise: the baseline's mean and its seed-to-seed
    spread at the full budget.
    """
    final = table.final[table.baseline]
    mean = float(np.clip(final.mean(), 0.02, 0.98))
    rates = type_one_error(float(final.std(ddof=1)), examples, TOP, max_seeds, mean=mean,
                           simulations=simulations)
    return rates.better


@dataclass(frozen=True)
class Limit:
    """The confirmation at one seed limit.

    Attributes:
        source: The table's name, or the model simulated.
        gain: The best configuration's true gain over the baseline, in epsilon
            (NaN for a simulated model).
        limit: The seed limit (`--seeds`).
        power: The share of confirmations that called the best configuration better.
        unsettled: The share that called it "not settled".
        type_one: The rate of "better" with nothing to find at the table's noise.
        epochs: The mean epochs the confirmation spent (trainings x max_epochs).
        replays: How many confirmations were simulated.
    """

    source: str
    gain: float
    limit: int
    power: float
    unsettled: float
    type_one: float
    epochs: float
    replays: int


def seed_limits(table: Table, limits: Sequence[int] = LIMITS, replays: int = 1000,
                examples: int | None = None, seed: int = 0) -> list[Limit]:
    """The sequential confirmation of the table's true top `TOP` at each seed limit.

    Rank 1 is the configuration with the best true score (its mean over the
    table's seeds), confirmed with the next `TOP - 1` (Holm over `TOP`), as
    `confirm` takes what the race left. The seeds are the table's, resampled.
    """
    examples = examples or table.meta.get("examples", {}).get("test", 360)
    order = np.argsort(-table.truth if table.maximize else table.truth, kind="stable")
    top = [int(c) for c in order if c != table.baseline][:TOP]
    gain = abs(table.truth[top[0]] - table.truth[table.baseline]) / table.epsilon
    out = []
    for limit in limits:
        rng = np.random.default_rng([seed, limit])
        trainings, verdicts = confirm_batch(table, top, limit, True, examples, rng, replays)
        out.append(Limit(table.name, float(gain), limit, float(np.mean(verdicts[:, 0] == BETTER)),
                         float(np.mean(verdicts[:, 0] == NOT_SETTLED)),
                         type_one(table, examples, limit, 4 * replays), float(trainings.mean())
                         * table.max_epochs, replays))
    return out


def train_or_fail_limits(limits: Sequence[int] = LIMITS, simulations: int = 1000,
                         examples: int = 360, max_epochs: int = 9, seed: int = 0) -> list[Limit]:
    """`seed_limits` on the train-or-fail model at the committed deep_plain run's
    rates (`DEEP_PLAIN`): the power of its top three against a baseline that
    never trains, and the type-I error with equal rates (all four trained on
    6 of 8 seeds)."""
    settings = {"trained_score": DEEP_PLAIN["trained_score"],
                "trained_spread": DEEP_PLAIN["trained_spread"]}
    out = []
    for limit in limits:
        power = train_or_fail(DEEP_PLAIN["baseline"], DEEP_PLAIN["trains"], examples, limit,
                              simulations=simulations, seed=seed, **settings)
        rate = DEEP_PLAIN["trains"][0]
        null = train_or_fail(rate, [rate] * TOP, examples, limit, simulations=simulations,
                             seed=seed + 1, **settings)
        out.append(Limit("train-or-fail (deep_plain's rates)", float("nan"), limit, power.power,
                         power.unsettled, null.better, power.trainings * max_epochs,
                         simulations))
    return out


def choose(rows: Sequence[Limit]) -> int | None:
    """The smallest limit whose power is >= `POWER` for every source whose gain
    exceeds `GAIN` epsilon (a simulated model counts); None if none is."""
    needed = [r for r in rows if not r.gain <= GAIN]  # NaN (a model) counts
    for limit in sorted({r.limit for r in needed}):
        if all(r.power >= POWER for r in needed if r.limit == limit):
            return limit
    return None


def markdown(rows: Sequence[Limit]) -> str:
    """The rows as a markdown table."""
    lines = ["| source | gain (eps) | limit | power | not settled | type-I | epochs |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.source} | {r.gain:.2f} | {r.limit} | {r.power:.2f} | {r.unsettled:.2f} | "
              f"{r.type_one:.3f} | {r.epochs:.0f} |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m bench.replay.confirm TABLE...`: power and epochs at each seed limit."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("tables", nargs="+")
    parser.add_argument("--replays", type=int, default=1000)
    args = parser.parse_args(argv)
    rows = [row for path in args.tables for row in seed_limits(load_table(path),
                                                              replays=args.replays)]
    rows += train_or_fail_limits(simulations=args.replays)
    print(markdown(rows))
    print(f"\nthe smallest limit with power >= {POWER} wherever the gain exceeds {GAIN} eps: "
          f"{choose(rows)}")


if __name__ == "__main__":
    main()
