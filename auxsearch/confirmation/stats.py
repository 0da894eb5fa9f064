"""Confirmation statistics: paired comparisons of configurations with the baseline.

Input, per configuration: per-example test scores of shape (S seeds, n
examples), the seeds paired (seed i of every configuration used the same
batch order and initial weights of the shared layers) and the examples the
same test split. A score is 1/0 for accuracy, the absolute error for MAE, so
a seed's metric is the mean of its row.

The verdict rests on a paired bootstrap over seeds and examples: it uses all
n*S paired per-example results (far more power than S numbers), keeps the
seed-to-seed variation (a bimodal 0.90/0.08/0.08 is resampled, not averaged
away) and assumes no normality. Seeds and examples are crossed (every seed
is scored on the same examples), so each resample draws one set of seed
indices and one set of example indices, the same for the configuration and
the baseline. A seed-level exact sign-flip test is reported beside it; with
S = 3 it cannot go below p = 0.25. Holm's step-down correction covers the K
comparisons with the baseline. Training reliability (seeds that learnt, by
the leaderboard's chance rule) is compared with Fisher's exact test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from auxsearch.core import rules
from auxsearch.core.errors import DataError
from auxsearch.core.tasks import learnt

ALPHA = 0.05  # the significance level of the verdict, after Holm's correction
RESAMPLES = 4000  # bootstrap resamples: the smallest p is 2 / 4001
VERDICTS = ("better", "worse", "no detectable difference")
_EXACT_FLIPS = 16  # up to 2**16 sign patterns are enumerated; beyond, sampled
_BLOCK = 2_000_000  # example weights drawn per block (memory, not results)


@dataclass(frozen=True)
class Difference:
    """A paired difference (configuration - baseline) of mean scores.

    Attributes:
        delta: The observed difference of the means.
        low: The lower end of its bootstrap percentile interval.
        high: The upper end.
        p_value: The two-sided bootstrap p-value, not adjusted.
    """

    delta: float
    low: float
    high: float
    p_value: float

    @property
    def detectable(self) -> float:
        """Half the interval's width: a true difference this large reaches p <
        alpha (unadjusted) about half the time; 1.4 times larger, 80% of it."""
        return (self.high - self.low) / 2


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


def _difference(delta: float, resampled: np.ndarray, level: float,
                low: float | None, high: float | None) -> Difference:
    span = None if low is None or high is None else high - low
    lo, hi = _interval(delta, resampled, level, None if span is None else -span, span)
    below = (np.count_nonzero(resampled <= 0) + 1) / (resampled.size + 1)
    above = (np.count_nonzero(resampled >= 0) + 1) / (resampled.size + 1)
    return Difference(delta, lo, hi, min(1.0, 2 * min(below, above)))


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


def paired_bootstrap(config: np.ndarray, baseline: np.ndarray, level: float = 1 - ALPHA,
                     resamples: int = RESAMPLES, seed: int = 0, low: float | None = None,
                     high: float | None = None) -> Difference:
    """The paired hierarchical bootstrap of mean(config) - mean(baseline).

    `config` and `baseline` are per-example scores (S, n), paired by seed and
    example; `level` is the percentile interval's coverage; `seed` fixes the
    resamples. With a bounded metric ([low, high]) the interval stays within
    [low - high, high - low].
    """
    diff = _table(config) - _table(baseline, np.shape(config))
    resampled = _resampled_means(diff[None], resamples, seed)[0]
    return _difference(float(diff.mean()), resampled, level, low, high)


def mean_interval(scores: np.ndarray, level: float = 1 - ALPHA, resamples: int = RESAMPLES,
                  seed: int = 0, low: float | None = None,
                  high: float | None = None) -> tuple[float, float]:
    """The bootstrap percentile interval of the mean over seeds and examples.

    It never leaves [low, high]: every resampled mean is a mean of scores.
    With few seeds (S = 3) it is rough: it sees the seeds' spread only
    through S values, and tends to be too narrow.
    """
    table = _table(scores)
    resampled = _resampled_means(table[None], resamples, seed)[0]
    return _interval(float(table.mean()), resampled, level, low, high)


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


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    known = ~np.isnan(p)
    q = p[known]
    order = np.argsort(q, kind="stable")
    steps = np.maximum.accumulate((q.size - np.arange(q.size)) * q[order])
    ranked = np.empty(q.size)
    ranked[order] = np.minimum(1.0, steps)
    adjusted[known] = ranked
    return adjusted


def trained_seeds(scores: np.ndarray, chance: float | None, direction: str) -> int:
    """How many seeds (rows) learnt, by the leaderboard's chance rule.

    Without a chance score nothing is flagged, as on the leaderboard.
    """
    means = _table(scores).mean(axis=1)
    if chance is None:
        return len(means)
    return sum(learnt(float(m), chance, direction) for m in means)


def verdict(delta: float, p_value: float, direction: str, alpha: float = ALPHA) -> str:
    """"better", "worse" or "no detectable difference" (p: Holm-adjusted)."""
    if not p_value < alpha or delta == 0:
        return VERDICTS[2]
    return VERDICTS[0] if (delta > 0) == (direction == "max") else VERDICTS[1]


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


def verdict_line(config: str, outcome: str, diff: Difference, p_value: float,
                 trained: int | None, baseline_trained: int | None, seeds: int) -> str:
    """One readable line: verdict, difference [interval], adjusted p, training.

    For example "0022: better than the baseline, +0.56 [+0.31, +0.83],
    p < 0.001; the baseline failed to train on 2 of 3 seeds, 0022 trained on
    all 3". `trained` None (no chance score) leaves the training out.
    """
    places = _decimals(diff.detectable)
    phrase = {"better": "better than the baseline", "worse": "worse than the baseline"}.get(
        outcome, "no detectable difference from the baseline")
    line = (f"{config}: {phrase}, {diff.delta:+.{places}f} "
            f"[{diff.low:+.{places}f}, {diff.high:+.{places}f}], "
            + ("p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"))
    if outcome == VERDICTS[2]:
        line += f" (this design detects about ±{diff.detectable:.{places}f})"
    if trained is not None and baseline_trained is not None:
        line += "; " + _training(config, trained, baseline_trained, seeds)
    return line


def summarise(scores: dict[str, np.ndarray], baseline: str, direction: str,
              chance: float | None, low: float | None = None, high: float | None = None,
              alpha: float = ALPHA, resamples: int = RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """The confirmation table: every configuration against the baseline.

    The verdict's test is the paired bootstrap (`paired_bootstrap`), Holm-
    adjusted over the K comparisons: `p_value` (`p_raw` before adjusting),
    `significant` is `p_value < alpha`. `p_seeds` is the exact sign-flip
    test on the S per-seed differences, Holm-adjusted separately (coarse at
    small S: at S = 3 and K = 3 it cannot go below 0.75). `p_trained` is
    Fisher's exact test of trained/failed seeds against the baseline's, not
    adjusted. `detectable` is half the width of the difference's interval.
    Intervals are (1 - alpha) bootstrap percentile intervals, unadjusted.

    Args:
        scores: Per configuration, per-example scores (S, n), paired.
        baseline: The key of the baseline in `scores`.
        direction: "max" or "min", the metric's better direction.
        chance: The chance score of a constant prediction, or None.
        low: The metric's lowest value (0 for accuracy and MAE), or None.
        high: Its highest value (1 for accuracy; None for MAE).
        alpha: The verdict's significance level.
        resamples: Bootstrap resamples.
        seed: The resamples' random seed.

    Returns:
        One row per configuration, the baseline's included (its comparison
        columns NaN, its delta 0, its verdict ""), best mean first.

    Raises:
        SpaceError: If `direction` is neither "max" nor "min", or `alpha` or
            `resamples` is out of range.
        DataError: If `baseline` is missing or the tables are not paired.
    """
    from scipy import stats

    rules.check("direction", direction)
    if not 0 < alpha < 1 or resamples < 1:
        rules.fail("alpha, resamples", "in (0, 1) and >= 1", (alpha, resamples), "summarise")
    if baseline not in scores:
        raise DataError(f"scores have no baseline {baseline!r}; got {sorted(scores)}")
    reference = _table(scores[baseline])
    tables = {name: _table(table, reference.shape) for name, table in scores.items()}
    others = [name for name in tables if name != baseline]
    seeds = reference.shape[0]
    stack = np.stack([tables[name] for name in tables]
                     + [tables[name] - reference for name in others])
    resampled = _resampled_means(stack, resamples, seed)
    level = 1 - alpha
    diffs = {name: _difference(float((tables[name] - reference).mean()),
                               resampled[len(tables) + i], level, low, high)
             for i, name in enumerate(others)}
    p_values = dict(zip(others, holm([diffs[name].p_value for name in others])))
    p_seeds = dict(zip(others, holm([
        sign_flip_test((tables[name] - reference).mean(axis=1), seed) for name in others])))
    base_trained = trained_seeds(reference, chance, direction)
    rows = []
    for i, (name, table) in enumerate(tables.items()):
        per_seed = table.mean(axis=1)
        mean = float(table.mean())
        ci_low, ci_high = _interval(mean, resampled[i], level, low, high)
        k = trained_seeds(table, chance, direction)
        row = {"config": name, "baseline": name == baseline, "seeds": seeds, "mean": mean,
               "std": float(np.std(per_seed, ddof=1)) if seeds > 1 else math.nan,
               "ci_low": ci_low, "ci_high": ci_high, "trained": f"{k}/{seeds}",
               "trained_seeds": k, "delta_vs_baseline": 0.0, "delta_low": math.nan,
               "delta_high": math.nan, "detectable": math.nan, "p_raw": math.nan,
               "p_value": math.nan, "p_seeds": math.nan, "p_trained": math.nan,
               "significant": False, "verdict": ""}
        if name == baseline:
            places = _decimals((ci_high - ci_low) / 2)
            row["line"] = (f"{name}: the baseline, {mean:.{places}f} "
                           f"[{ci_low:.{places}f}, {ci_high:.{places}f}]")
            if chance is not None:
                row["line"] += f"; trained on {k} of {seeds} seeds"
        else:
            diff = diffs[name]
            row.update(delta_vs_baseline=diff.delta, delta_low=diff.low, delta_high=diff.high,
                       detectable=diff.detectable, p_raw=diff.p_value, p_value=p_values[name],
                       p_seeds=p_seeds[name], significant=bool(p_values[name] < alpha),
                       verdict=verdict(diff.delta, p_values[name], direction, alpha),
                       p_trained=float(stats.fisher_exact(
                           [[k, seeds - k], [base_trained, seeds - base_trained]])[1]))
            known = chance is not None
            row["line"] = verdict_line(name, row["verdict"], diff, p_values[name],
                                       k if known else None, base_trained if known else None,
                                       seeds)
        row["scores"] = ";".join(f"{v:.4f}" for v in per_seed)
        rows.append(row)
    table = pd.DataFrame(rows)
    return (table.sort_values("mean", ascending=direction == "min", kind="stable")
            .reset_index(drop=True))
