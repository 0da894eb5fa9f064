"""Confirmation statistics: the table of configurations against the baseline.

Input, per configuration: per-example test scores of shape (k seeds, n
examples), the seeds paired (seed i of every configuration used the same
batch order and initial weights of the shared layers) and the examples the
same test split. A score is 1/0 for accuracy, the absolute error for MAE, so
a seed's metric is the mean of its row. A configuration may have fewer seeds
than the baseline (the sequential design stopped it): it pairs with the
baseline's first k.

The verdicts come from the design (`sequential`: the look test, the
boundaries, Holm over the K comparisons); `summarise` lays them out with the
rest. The means' intervals are a bootstrap over seeds and examples, crossed
(every seed is scored on the same examples, so each resample draws one set
of seed indices and one set of example indices): it keeps a bimodal
0.90/0.08/0.08 as it is and stays in the metric's range. It is not the
verdict's test: with 2 to 5 seeds it takes the seeds' spread for the
population's, which nearly doubles a fixed design's error of "better or
worse" (see `sequential`).
A seed-level exact sign-flip test is reported beside the verdict; with S = 3
it cannot go below p = 0.25. Training reliability (seeds that learnt, by the
leaderboard's chance rule) is compared with Fisher's exact test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.stats

from auxsearch.confirmation.decisions import Decision, fixed, unsettled
from auxsearch.confirmation.sequential import ALPHA, MIN_SEEDS
from auxsearch.core import rules
from auxsearch.core.errors import DataError
from auxsearch.core.tasks import learnt
from auxsearch.core.verdicts import CLAIMS, EQUIVALENT, NOT_SETTLED
from auxsearch.results.holm import holm

RESAMPLES = 4000  # bootstrap resamples: the smallest p is 2 / 4001
_EXACT_FLIPS = 16  # up to 2**16 sign patterns are enumerated; beyond, sampled
_BLOCK = 2_000_000  # example weights drawn per block (memory, not results)


def _counts(rng: np.random.Generator, size: int, rows: int) -> np.ndarray:
    """How often each of `size` indices is drawn, in `rows` resamples of `size`."""
    drawn = rng.integers(0, size, (rows, size)) + size * np.arange(rows)[:, None]
    return np.bincount(drawn.ravel(), minlength=rows * size).reshape(rows, size).astype(float)


def _resampled_means(stack: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of each (S, n) table of `stack` (m, S, n) over crossed resamples.

    Returns (m, resamples). The resamples depend only on (S, n, resamples,
    seed), so every table, and every call with the same seed, shares them.
    """
    _, seeds, n = stack.shape
    rng = np.random.default_rng(seed)
    seed_counts = _counts(rng, seeds, resamples)
    means = np.empty((stack.shape[0], resamples))
    block = max(1, _BLOCK // n)
    for start in range(0, resamples, block):
        stop = min(start + block, resamples)
        per_seed = stack @ _counts(rng, n, stop - start).T  # (m, S, b)
        means[:, start:stop] = np.einsum("msb,bs->mb", per_seed, seed_counts[start:stop])
    return means / (seeds * n)


def _interval(observed: float, resampled: np.ndarray, level: float,
              low: float | None, high: float | None) -> tuple[float, float]:
    ends = np.quantile(resampled, [(1 - level) / 2, (1 + level) / 2])
    # min/max with the observed value only absorb rounding; the bounds clip likewise.
    lo, hi = min(float(ends[0]), observed), max(float(ends[1]), observed)
    return (lo if low is None else max(lo, low)), (hi if high is None else min(hi, high))


def _table(scores: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    table = np.asarray(scores, dtype=float)
    if table.ndim != 2 or not table.size:
        raise DataError(f"scores must be a table of shape (seeds, examples); got {table.shape}")
    if shape is not None and table.shape != shape:
        raise DataError(f"paired scores must share one shape (seeds, examples): got "
                        f"{table.shape} and {shape}")
    if not np.isfinite(table).all():
        raise DataError("scores must be finite numbers")
    return table


def sign_flip_test(differences: np.ndarray, seed: int = 0) -> float:
    """The two-sided sign-flip permutation p of S paired per-seed differences.

    Exact (all 2**S sign patterns) up to S = 16; its smallest p is 2 / 2**S,
    so 0.25 at S = 3 and 0.5 at S = 2. Beyond S = 16, 2**16 random patterns.
    """
    d = np.asarray(differences, dtype=float).ravel()
    if d.size <= _EXACT_FLIPS:
        signs = ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1) * 2 - 1
    else:
        signs = np.random.default_rng(seed).choice([-1, 1], (2 ** _EXACT_FLIPS, d.size))
    sums = np.abs(signs @ d)
    extreme = np.count_nonzero(sums >= abs(d.sum()) - 1e-9 * (np.abs(d).sum() + 1e-12))
    if d.size > _EXACT_FLIPS:
        return (extreme + 1) / (signs.shape[0] + 1)
    return extreme / signs.shape[0]


def trained_seeds(scores: np.ndarray, chance: float | None, direction: str) -> int:
    """How many seeds (rows) learnt, by the leaderboard's chance rule.

    Without a chance score nothing is flagged, as on the leaderboard.
    """
    means = _table(scores).mean(axis=1)
    if chance is None:
        return len(means)
    return sum(learnt(float(m), chance, direction) for m in means)


def _decimals(half_width: float) -> int:
    """Two significant digits of the interval's half-width, 2 to 4 decimals."""
    if not half_width > 0:
        return 3
    return int(np.clip(1 - math.floor(math.log10(half_width)), 2, 4))


def _training(config: str, trained: int, baseline_trained: int, seeds: int) -> str:
    if trained == baseline_trained:
        return f"both trained on {trained} of {seeds} seeds"
    if trained == seeds:
        return (f"the baseline failed to train on {seeds - baseline_trained} of {seeds} "
                f"seeds, {config} trained on all {seeds}")
    if baseline_trained == seeds:
        return (f"{config} failed to train on {seeds - trained} of {seeds} seeds, "
                f"the baseline trained on all {seeds}")
    return f"baseline trained on {baseline_trained} of {seeds} seeds, {config} on {trained}"


def _p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"


def verdict_line(config: str, decision: Decision, trained: int | None,
                 baseline_trained: int | None) -> str:
    """One readable line: verdict, difference [interval], p, seeds, training.

    For example "0021: better than the baseline, +0.33 [+0.15, +0.47],
    p = 0.0015, settled after 3 seeds; the baseline failed to train on 3 of 3
    seeds, 0021 trained on all 3", or "0021: not settled after 2 seeds
    (limit 4): the baseline trained on 1 of 2, 0021 on 2 of 2; more seeds
    would tell (...)". `trained` None (no chance score) leaves the training
    out; the training counts are over the configuration's seeds.
    """
    places = _decimals(decision.detectable)
    numbers = (f"{decision.delta:+.{places}f} "
               f"[{decision.low:+.{places}f}, {decision.high:+.{places}f}]")
    seeds = decision.stopped
    if decision.verdict in CLAIMS:
        line = (f"{config}: {decision.verdict} than the baseline, {numbers}, "
                f"{_p(decision.p_value)}, settled after {seeds} seeds")
    elif decision.verdict == EQUIVALENT:
        line = (f"{config}: equivalent to the baseline (within "
                f"±{decision.margin:.{places}f}), {numbers}, settled after {seeds} seeds")
    elif decision.verdict == NOT_SETTLED and trained is not None and baseline_trained is not None:
        limit = "" if decision.limit is None else f" (limit {decision.limit})"
        stop = ", stopped as futile" if decision.futile else ""
        return (f"{config}: not settled after {seeds} seeds{limit}{stop}: the baseline trained "
                f"on {baseline_trained} of {seeds}, {config} on {trained} of {seeds}; more "
                f"seeds would tell ({numbers}, {_p(decision.p_value)})")
    else:
        stop = ", stopped as futile" if decision.futile else ""
        if decision.unbounded:
            # Early looks spend little alpha: with a few noisy seeds the
            # interval is the whole range, and "detects about ±1" says nothing.
            numbers = f"{decision.delta:+.{_decimals(abs(decision.delta))}f}"
            power = "too few seeds for its interval to exclude any difference"
        else:
            power = f"this design detects about ±{decision.detectable:.{places}f}"
        line = (f"{config}: no detectable difference from the baseline, {numbers}, "
                f"{_p(decision.p_value)} after {seeds} seeds{stop} ({power})")
    if trained is not None and baseline_trained is not None:
        line += "; " + _training(config, trained, baseline_trained, seeds)
    return line


def _paired(scores: dict[str, np.ndarray], baseline: str) -> dict[str, np.ndarray]:
    """The tables, checked: each has the baseline's examples and at most its seeds."""
    if baseline not in scores:
        raise DataError(f"scores have no baseline {baseline!r}; got {sorted(scores)}")
    reference = _table(scores[baseline])
    tables = {}
    for name, scored in scores.items():
        table = _table(scored)
        if table.shape[1] != reference.shape[1] or table.shape[0] > reference.shape[0]:
            raise DataError(
                f"paired scores need the baseline's examples and at most its seeds (a "
                f"configuration pairs with the baseline's first seeds): {name!r} has shape "
                f"{table.shape}, the baseline {reference.shape}")
        tables[name] = table
    return tables


def bootstrap_intervals(tables: dict[str, np.ndarray], level: float = 1 - ALPHA,
                        resamples: int = RESAMPLES, seed: int = 0, low: float | None = None,
                        high: float | None = None) -> dict[str, tuple[float, float]]:
    """Each table's bootstrap percentile interval of the mean over seeds and examples.

    Tables of one shape share resamples. An interval never leaves [low,
    high]: every resampled mean is a mean of scores. With few seeds (S = 3)
    it is rough: it sees the seeds' spread only through S values, and tends
    to be too narrow.
    """
    tables = {name: _table(table) for name, table in tables.items()}
    intervals = {}
    for shape in dict.fromkeys(table.shape for table in tables.values()):
        names = [name for name, table in tables.items() if table.shape == shape]
        resampled = _resampled_means(np.stack([tables[name] for name in names]), resamples,
                                     seed)
        for name, means in zip(names, resampled):
            intervals[name] = _interval(float(tables[name].mean()), means, level, low, high)
    return intervals


def summarise(scores: dict[str, np.ndarray], baseline: str, direction: str,
              chance: float | None, low: float | None = None, high: float | None = None,
              alpha: float = ALPHA, resamples: int = RESAMPLES, seed: int = 0,
              decisions: dict[str, Decision] | None = None) -> pd.DataFrame:
    """The confirmation table: every configuration against the baseline.

    The verdicts are the design's (`decisions`, from `sequential`); by
    default the fixed design's: one look at each configuration's seeds (the
    look test of `sequential.look_statistics`), Holm's step-down over the K
    comparisons. A configuration may have fewer seeds than the baseline: it
    is paired with the baseline's first k, and every comparison column uses
    those k. Columns: `delta_vs_baseline` and its interval `delta_low` /
    `delta_high` at the settling look's nominal level (the design's repeated
    confidence interval), `detectable` (half its width), `p_raw` (the look's
    p), `p_bound` (the nominal level it had to reach), `p_value` (`p_raw` on
    the scale of alpha: below it when rejected), `verdict`, `look` (the
    seeds of the settling look), `settled` (a boundary settled it), the
    seed-level exact sign-flip test `p_seeds` (Holm-adjusted; coarse: it
    cannot go below 0.25 at 3 seeds), and `p_trained`, Fisher's exact test
    of trained/failed seeds against the baseline's (not adjusted). Each
    mean's `ci_low` / `ci_high` is a (1 - alpha) bootstrap percentile
    interval over seeds and examples (rough with few seeds).

    Args:
        scores: Per configuration, per-example scores (k, n), paired by seed
            and example with the baseline's (S, n), k <= S.
        baseline: The key of the baseline in `scores`.
        direction: "max" or "min", the metric's better direction.
        chance: The chance score of a constant prediction, or None.
        low: The metric's lowest value (0 for accuracy and MAE), or None.
        high: Its highest value (1 for accuracy; None for MAE).
        alpha: The family-wise level of the verdicts.
        resamples: Bootstrap resamples of the means' intervals.
        seed: The resamples' random seed.
        decisions: Per configuration, the design's `Decision`; default: the
            fixed design's.

    Returns:
        One row per configuration, the baseline's included (its comparison
        columns NaN, its delta 0, its verdict ""), best mean first.

    Raises:
        SpaceError: If `direction` is neither "max" nor "min", or `alpha` or
            `resamples` is out of range.
        DataError: If `baseline` is missing, the tables are not paired, a
            configuration has fewer than 2 seeds, or a decision is missing.
    """
    rules.check("direction", direction)
    if not 0 < alpha < 1 or resamples < 1:
        rules.fail("alpha, resamples", "in (0, 1) and >= 1", (alpha, resamples), "summarise")
    tables = _paired(scores, baseline)
    reference = tables[baseline]
    others = [name for name in tables if name != baseline]
    diffs = {name: tables[name] - reference[:len(tables[name])] for name in others}
    if decisions is None:
        short = [name for name in others if len(tables[name]) < MIN_SEEDS]
        if short:
            raise DataError(f"a comparison needs at least {MIN_SEEDS} paired seeds; "
                            f"{short[0]!r} has {len(tables[short[0]])}")
        span = None if low is None or high is None else high - low
        decisions = dict(zip(others, fixed([diffs[name] for name in others], direction,
                                           alpha, span)))
    missing = [name for name in others if name not in decisions]
    if missing:
        raise DataError(f"no decision for {missing[0]!r}; decided: {sorted(decisions)}")
    intervals = bootstrap_intervals(tables, 1 - alpha, resamples, seed, low, high)
    p_seeds = dict(zip(others, holm([sign_flip_test(diffs[name].mean(axis=1), seed)
                                     for name in others])))
    rows = []
    for name, table in tables.items():
        seeds = len(table)
        per_seed = table.mean(axis=1)
        mean = float(table.mean())
        ci_low, ci_high = intervals[name]
        k = trained_seeds(table, chance, direction)
        row = {"config": name, "baseline": name == baseline, "n_seeds": seeds, "mean": mean,
               "std": float(np.std(per_seed, ddof=1)) if seeds > 1 else math.nan,
               "ci_low": ci_low, "ci_high": ci_high, "trained": f"{k}/{seeds}",
               "trained_seeds": k, "delta_vs_baseline": 0.0, "delta_low": math.nan,
               "delta_high": math.nan, "detectable": math.nan, "p_raw": math.nan,
               "p_bound": math.nan, "p_value": math.nan, "p_seeds": math.nan,
               "p_trained": math.nan, "significant": False, "verdict": "", "look": math.nan,
               "settled": False}
        if name == baseline:
            places = _decimals((ci_high - ci_low) / 2)
            row["line"] = (f"{name}: the baseline, {mean:.{places}f} "
                           f"[{ci_low:.{places}f}, {ci_high:.{places}f}]")
            if chance is not None:
                row["line"] += f"; trained on {k} of {seeds} seeds"
        else:
            base_k = trained_seeds(reference[:seeds], chance, direction)
            known = chance is not None
            decision = unsettled(decisions[name], k if known else None,
                                 base_k if known else None)
            row.update(delta_vs_baseline=decision.delta, delta_low=decision.low,
                       delta_high=decision.high, detectable=decision.detectable,
                       p_raw=decision.p_raw, p_bound=decision.p_bound,
                       p_value=decision.p_value, p_seeds=p_seeds[name],
                       significant=decision.verdict in CLAIMS,
                       verdict=decision.verdict, look=decision.look,
                       settled=decision.settled,
                       p_trained=float(scipy.stats.fisher_exact(
                           [[k, seeds - k], [base_k, seeds - base_k]])[1]))
            row["line"] = verdict_line(name, decision, k if known else None,
                                       base_k if known else None)
        row["scores"] = ";".join(f"{v:.4f}" for v in per_seed)
        rows.append(row)
    table = pd.DataFrame(rows)
    return (table.sort_values("mean", ascending=direction == "min", kind="stable")
            .reset_index(drop=True))
