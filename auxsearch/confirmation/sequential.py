"""The sequential confirmation: a look after every seed, stopping when a verdict is settled.

Every configuration still undecided and the baseline train one more paired
seed, then each comparison is tested on the seeds so far (the
configuration's k seeds against the baseline's first k). What decides:

- **The test at a look** (`look_statistics`) is a paired t-test on the
  difference of the mean scores, crossed over seeds and test examples: its
  variance is the seeds' (the variance of the k per-seed differences, over
  k) plus the test set's sampling variance (the examples' mean square less
  the seed-by-example interaction's, as in a two-way random-effects
  analysis of variance), on k - 1 degrees of freedom. Why not the paired
  bootstrap of the fixed design: with 2 to 5 seeds the bootstrap sees the
  seeds' spread through k values as if they were the population: its
  variance is (k - 1)/k too small and it has no degrees of freedom, so with
  a seed spread of 0.02 its "better or worse" rate under the null is 0.09
  at 3 seeds instead of 0.05, and 0.21 at a spread of 0.05 (the noise
  model of `simulation`, 360 examples). With many seeds both agree.
  Satterthwaite's degrees of freedom are too optimistic at 2 to 3 seeds;
  k - 1, the seeds', is the conservative choice. A seed mean square below
  the interaction's counts as the interaction's (0/1 scores make two seeds
  tie often, and a tie is not certainty).
- **Boundaries** (`boundaries.t_levels`): Lan–DeMets alpha spending of
  O'Brien–Fleming type over the looks at k = min_seeds .. max_seeds
  (information fraction k / max_seeds), the nominal levels calibrated for a
  t statistic; a look rejects "no difference" when its p is at or below the
  look's nominal level. The family-wise error of "better" and "worse"
  claims is alpha, as in the fixed design: in simulation (`simulation`) at
  most alpha with normal seed noise, and up to 0.054 with scores clipped to
  bimodal seed outcomes at 10 seeds (the t-test is slightly liberal for
  short-tailed differences); "better" alone stays near alpha / 2.
- **Holm over the K configurations, with the looks** (Maurer & Bretz 2013,
  the graphical approach for group-sequential trials): each unrejected
  hypothesis is tested at the boundaries of level alpha / m, m the
  unrejected ones; a rejection at any look frees its share, and the others
  are tested again, at every look so far, against the new level's
  boundaries. At one look this is Holm's step-down procedure.
- **Equivalence** (TOST, Schuirmann 1987): a configuration whose difference's
  interval at the look's nominal level (the repeated confidence interval of
  the level-alpha design) lies within [-margin, +margin] stops as
  equivalent. It keeps its share of alpha and is not tested again, which
  only makes claims rarer.
- A configuration undecided at max_seeds has no detectable difference.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import stats

from auxsearch.confirmation.boundaries import t_levels
from auxsearch.core import rules

ALPHA = 0.05  # the family-wise level of "better" and "worse" claims
MIN_SEEDS = 2  # the first look: a seed-level test needs two seeds
MARGIN_SHARE = 0.01  # the default margin: 1% of the metric's range, or of the baseline's mean
VERDICTS = ("better", "worse", "equivalent", "no detectable difference")
FUTILITY = 0.1  # the conditional power below which a comparison stops early (non-binding)


def check_seeds(seeds: int, key: str = "seeds") -> int:
    """Checks an upper limit of seeds: at least 2 (a look compares seeds).

    Raises:
        SpaceError: `<key> must be >= 2 ...; got <value>`.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral):
        rules.fail(key, "an integer", seeds)
    return rules.check("seeds", seeds, key)


def check_margin(margin: float | None, key: str = "margin") -> float | None:
    """Checks an equivalence margin: None (the default) or a number > 0.

    Raises:
        SpaceError: `<key> must be ...; got <value>`.
    """
    if margin is not None and (isinstance(margin, bool) or not isinstance(margin, numbers.Real)
                               or not math.isfinite(margin) or margin <= 0):
        rules.fail(key, "a number > 0, in the metric's units (e.g. 0.01 for accuracy)", margin)
    return None if margin is None else float(margin)


def default_margin(low: float | None, high: float | None, baseline_mean: float) -> float:
    """One point of a bounded metric's range (0.01 for accuracy), else 1% of
    the baseline's mean, as the leaderboard's "learnt" rule measures."""
    if low is not None and high is not None:
        return MARGIN_SHARE * (high - low)
    return MARGIN_SHARE * abs(baseline_mean)


@dataclass(frozen=True)
class Design:
    """When the sequential confirmation looks, and at what level.

    Attributes:
        max_seeds: The most seeds a configuration trains (`--seeds`).
        min_seeds: The seeds of the first look (at most `max_seeds`).
        alpha: The family-wise level of "better" and "worse" claims.
        futility: A comparison whose conditional power under its current
            trend falls below this stops early as "no detectable
            difference" (non-binding: it only makes claims rarer); None:
            never.
    """

    max_seeds: int
    min_seeds: int = MIN_SEEDS
    alpha: float = ALPHA
    futility: float | None = FUTILITY

    def __post_init__(self) -> None:
        check_seeds(self.max_seeds)
        check_seeds(self.min_seeds, "min_seeds")
        if not 0 < self.alpha < 1:
            rules.fail("alpha", "in (0, 1)", self.alpha)

    @property
    def looks(self) -> tuple[int, ...]:
        """The seeds at each look: min_seeds .. max_seeds, one look a seed."""
        return tuple(range(min(self.min_seeds, self.max_seeds), self.max_seeds + 1))

    def bounds(self, hypotheses: int) -> np.ndarray:
        """Nominal levels (hypotheses, looks): row m - 1 at level alpha / m."""
        return np.stack([t_levels(self.looks, self.max_seeds, self.alpha / m)
                         for m in range(1, hypotheses + 1)])

    def test(self, hypotheses: int, margin: float | np.ndarray | None = None,
             span: float | None = None, batch: int = 1) -> SequentialTest:
        """A `SequentialTest` of this design for K comparisons."""
        return SequentialTest(self.bounds(hypotheses), margin, span, batch,
                              np.asarray(self.looks) / self.max_seeds, self.futility)

    def describe(self, hypotheses: int, margin: float | None) -> str:
        """The design in one line, for people."""
        looks = self.looks
        when = (f"one look at {looks[0]} seeds" if len(looks) == 1 else
                f"a look after every seed from {looks[0]} to {looks[-1]}")
        line = (f"{when}, O'Brien-Fleming-type alpha spending (Lan-DeMets), Holm over "
                f"{hypotheses} with recycling, family-wise alpha {self.alpha:g} for "
                "better/worse")
        if margin is not None:
            line += f"; stops as equivalent within ±{margin:.3g}"
        if self.futility is not None and len(looks) > 1:
            line += (f"; stops as futile below {self.futility:.0%} conditional power "
                     "(non-binding)")
        return line


def look_statistics(differences: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The look's paired difference, its standard error and degrees of freedom.

    Args:
        differences: Per-example differences (configuration - baseline),
            shape (..., k seeds, n examples), paired by seed and example.

    Returns:
        `(delta, se, df)`: the mean difference and its standard error, each
        of shape (...), and df = k - 1. The variance is the per-seed
        differences' variance over k plus the test set's sampling variance
        (the examples' mean square less the interaction's, over k n; never
        below 0): the variance of a grand mean in a crossed two-way
        random-effects design.

    Raises:
        ValueError: If there are fewer than 2 seeds.
    """
    d = np.asarray(differences)
    k, n = d.shape[-2:]
    if k < MIN_SEEDS:
        raise ValueError(f"a look needs at least {MIN_SEEDS} seeds; got {k}")
    total = d.sum(axis=(-2, -1), dtype=np.float64)
    delta = total / (k * n)
    seed_means = d.mean(axis=-1, dtype=np.float64)
    example_means = d.mean(axis=-2, dtype=np.float64)
    ss_seeds = n * np.sum((seed_means - delta[..., None]) ** 2, axis=-1)
    ss_examples = k * np.sum((example_means - delta[..., None]) ** 2, axis=-1)
    ss_total = np.einsum("...ij,...ij->...", d, d, dtype=np.float64) - total * delta
    seeds_ms = ss_seeds / (k - 1)
    if n == 1:
        return delta, np.sqrt(seeds_ms / k), k - 1
    interaction = np.maximum(ss_total - ss_seeds - ss_examples, 0.0) / ((k - 1) * (n - 1))
    # Components below 0 count as 0: a seed mean square below the interaction's
    # (k = 2 seeds that tie, which 0/1 scores make common) is noise, not certainty.
    variance = (interaction + np.maximum(seeds_ms - interaction, 0.0)
                + np.maximum(ss_examples / (n - 1) - interaction, 0.0)) / (k * n)
    return delta, np.sqrt(variance), k - 1


def look_p(delta: np.ndarray, se: np.ndarray, df: int | np.ndarray) -> np.ndarray:
    """The two-sided p of the look's t statistic (0 where se is 0 and delta is not)."""
    delta, se = np.asarray(delta, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, np.abs(delta) / se, np.where(delta == 0, 0.0, np.inf))
    return np.minimum(1.0, 2 * stats.t.sf(t, df))


def look_interval(delta: np.ndarray, se: np.ndarray, df: int | np.ndarray, level: np.ndarray,
                  span: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The difference's interval of coverage 1 - level, within [-span, span]."""
    half = stats.t.isf(np.asarray(level) / 2, df) * np.asarray(se)
    half = np.where(np.asarray(se) > 0, half, 0.0)
    low, high = np.asarray(delta) - half, np.asarray(delta) + half
    if span is not None:
        low, high = np.clip(low, -span, span), np.clip(high, -span, span)
    return low, high


class SequentialTest:
    """The decisions of K comparisons with the baseline over the looks, for a batch.

    The arrays have a leading batch axis B (one confirmation: B = 1; a
    simulation: B runs at once) and K hypotheses. Feed `look` the
    statistics of each look in turn.

    Attributes:
        rejected: (B, K) booleans: "no difference" rejected (better or worse).
        equivalent: (B, K) booleans: stopped as equivalent.
        settled: (B, K) look index whose data settled it (-1: not yet).
        stopped: (B, K) look index after which it trained no more (-1: not yet).
        share: (B, K) the m of level alpha / m it was last tested at.
        sign: (B, K) the sign of the difference at the settling look.
    """

    def __init__(self, bounds: np.ndarray, margin: float | np.ndarray | None = None,
                 span: float | None = None, batch: int = 1,
                 fractions: np.ndarray | None = None, futility: float | None = None) -> None:
        """Starts before the first look.

        Args:
            bounds: Nominal levels (K, looks), row m - 1 for level alpha / m
                (`Design.bounds`).
            margin: The equivalence margin (scalar or (B,)); None: never
                stops as equivalent.
            span: The largest possible |difference| (the metric's range), or None.
            batch: B, how many independent confirmations run together.
            fractions: The information fraction of each look (seeds / max
                seeds), for the futility stop.
            futility: Stop a comparison as futile (non-binding) once its
                conditional power under the current trend is below this;
                None: never.
        """
        self.bounds = np.asarray(bounds, dtype=float)
        hypotheses, looks = self.bounds.shape
        self.margin = None if margin is None else np.broadcast_to(
            np.asarray(margin, dtype=float), (batch,))
        self.span = span
        self.fractions = None if fractions is None else np.asarray(fractions, dtype=float)
        self.futility = futility if fractions is not None else None
        self.index = -1
        shape = (batch, hypotheses)
        self.p = np.ones(shape + (looks,))
        self.delta = np.full(shape + (looks,), np.nan)
        self.se = np.full(shape + (looks,), np.nan)
        self.df = np.zeros(shape + (looks,))
        self.rejected = np.zeros(shape, dtype=bool)
        self.equivalent = np.zeros(shape, dtype=bool)
        self.futile = np.zeros(shape, dtype=bool)
        self.settled = np.full(shape, -1)
        self.stopped = np.full(shape, -1)
        self.share = np.full(shape, hypotheses)
        self.sign = np.zeros(shape)

    @property
    def open(self) -> np.ndarray:
        """(B, K) booleans: still undecided (trains the next seed, if any)."""
        undecided = ~(self.rejected | self.equivalent | self.futile)
        return undecided & (self.index < self.bounds.shape[1] - 1)

    @property
    def done(self) -> bool:
        """Whether nothing is left to decide."""
        return not self.open.any()

    def look(self, delta: np.ndarray, se: np.ndarray, df: int | np.ndarray) -> None:
        """Takes the next look's statistics (B, K); hypotheses not open are ignored.

        Raises:
            ValueError: If every look is already taken.
        """
        i = self.index + 1
        if i >= self.bounds.shape[1]:
            raise ValueError(f"all {self.bounds.shape[1]} looks are taken")
        active = self.open
        self.index = i
        self.p[..., i] = np.where(active, look_p(delta, se, df), 1.0)
        self.delta[..., i] = np.where(active, delta, np.nan)
        self.se[..., i] = np.where(active, se, np.nan)
        self.df[..., i] = df
        self._reject(i)
        if self.margin is not None:
            low, high = look_interval(delta, se, df, self.bounds[0, i], self.span)
            margin = self.margin[:, None]
            within = active & ~self.rejected & (low >= -margin) & (high <= margin)
            self.equivalent |= within
            self.settled[within] = i
        last = i == self.bounds.shape[1] - 1
        if self.futility is not None and not last:
            hopeless = active & ~self.rejected & ~self.equivalent & (
                self.conditional_power(i) < self.futility)
            self.futile |= hopeless
        ended = active & (self.rejected | self.equivalent | self.futile | last)
        self.stopped[ended] = i
        self.settled[ended & (self.settled < 0)] = i  # undecided at the last look

    def conditional_power(self, i: int) -> np.ndarray:
        """(B, K) the chance of a claim at the last look if the current trend held.

        The look's p as a z (its direction's), at information fraction t:
        with the drift it estimates, z / sqrt(t), the last look's z is
        normal around z / sqrt(t) with variance 1 - t (Lachin 2005); the
        claim needs the last look's level at the comparison's Holm share.
        """
        t = self.fractions[i]
        z = stats.norm.isf(self.p[..., i] / 2)
        needed = stats.norm.isf(self.bounds[self.share - 1, -1] / 2)
        return stats.norm.cdf((z / np.sqrt(t) - needed) / np.sqrt(max(1 - t, 1e-12)))

    def _reject(self, i: int) -> None:
        """Holm with recycling: every look so far against the current levels."""
        hypotheses = self.bounds.shape[0]
        candidates = ~(self.rejected | self.equivalent)
        self.share = np.where(candidates, hypotheses - self.rejected.sum(axis=1)[:, None],
                              self.share)
        while True:
            bound = self.bounds[self.share - 1, : i + 1]  # (B, K, looks so far)
            # A look that spends nothing (a level of 0) rejects nothing, even at p = 0.
            passes = (self.p[..., : i + 1] <= bound) & (bound > 0) & candidates[..., None]
            new = passes.any(axis=-1)
            if not new.any():
                return
            first = passes.argmax(axis=-1)
            self.settled[new] = first[new]
            self.sign[new] = np.sign(np.take_along_axis(self.delta, first[..., None], -1)[
                ..., 0])[new]
            self.rejected |= new
            candidates &= ~new
            self.share = np.where(candidates,
                                  hypotheses - self.rejected.sum(axis=1)[:, None], self.share)

    def verdicts(self, direction: str) -> np.ndarray:
        """(B, K) verdicts, by the metric's better direction ("max" or "min")."""
        better = (self.sign > 0) == (direction == "max")
        return np.where(self.rejected, np.where(better, VERDICTS[0], VERDICTS[1]),
                        np.where(self.equivalent, VERDICTS[2], VERDICTS[3]))
