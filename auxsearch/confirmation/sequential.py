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
- **Futility** (non-binding, never a claim): a comparison stops early when
  its predictive power, the chance of a claim at max_seeds given the look's
  data (Spiegelhalter, Freedman & Blackburn 1986, flat prior), is below
  `FUTILITY`, and only from `FUTILITY_SEEDS` seeds on. The power reads the
  look's t statistic itself and its uncertainty as a Student t on the look's
  k - 1 degrees of freedom. The design before read the look's p as a normal
  z, which on 1 degree of freedom squeezes a t of 6.3 to a z of 1.64: a
  configuration that trained on 2 of 2 seeds against a baseline that
  trained on 1 looked hopeless at 2 seeds and stopped. Why both rules: the
  t on 1 or 2 degrees of freedom has tails so heavy that almost nothing is
  futile there anyway; the minimum rules out the one case where it is not:
  at 2 seeds, one side trained on 1, the other on 2, the t is about 1 and
  with Holm over 3 at a limit of 4 its predictive power is below 10%.
  `FUTILITY_SEEDS` is 3, by simulation (`simulation.train_or_fail`,
  docs/results.md): at the committed deep_plain run's rates (the baseline
  trains on none of its seeds, one configuration on 6 of 8) the power at limits 4,
  6, 8 and 10 is 0.37, 0.71, 0.91 and 0.98 with a minimum of 2, 3 or 4
  seeds, as with no futility stop at all (the z of before: 0.37, 0.67, 0.88
  and 0.94); with nothing to find (a seed spread of 0.02, 3
  configurations) a minimum of 3 spends 12.1, 13.9, 17.3 and 20.9 of 16,
  24, 32 and 40 trainings (4: 16.0, 16.6, 18.6, 21.4).
- A configuration undecided at max_seeds has no detectable difference
  (`decisions.unsettled` names it "not settled" where the two trained on
  different shares of their seeds).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import stats

from auxsearch.confirmation.boundaries import t_levels
from auxsearch.core import rules
from auxsearch.core.verdicts import BETTER, EQUIVALENT, NO_DIFFERENCE, WORSE

ALPHA = 0.05  # the family-wise level of "better" and "worse" claims
MIN_SEEDS = 2  # the first look: a seed-level test needs two seeds
MARGIN_SHARE = 0.01  # the default margin: 1% of the metric's range, or of the baseline's mean
FUTILITY = 0.1  # the predictive power below which a comparison stops early (non-binding)
FUTILITY_SEEDS = 3  # no futility stop before this many seeds (by simulation: see above)


def check_seeds(seeds: int, key: str = "seeds") -> int:
    """Checks an upper limit of seeds: at least 2 (a look compares seeds).

    Raises:
        SpaceError: `<key> must be >= 2 ...; got <value>`.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, numbers.Integral):
        rules.fail(key, "an integer", seeds)
    return rules.check("seeds", seeds, key)


def seed_looks(min_seeds: int, max_seeds: int) -> tuple[int, ...]:
    """The seeds at each look: min_seeds .. max_seeds, one look a seed (one at
    max_seeds when min_seeds exceeds it)."""
    return tuple(range(min(min_seeds, max_seeds), max_seeds + 1))


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
        futility: A comparison whose predictive power falls below this
            stops early (non-binding: it only makes claims rarer); None:
            never.
        futility_seeds: No futility stop at a look of fewer seeds.
    """

    max_seeds: int
    min_seeds: int = MIN_SEEDS
    alpha: float = ALPHA
    futility: float | None = FUTILITY
    futility_seeds: int = FUTILITY_SEEDS

    def __post_init__(self) -> None:
        check_seeds(self.max_seeds)
        check_seeds(self.min_seeds, "min_seeds")
        if not 0 < self.alpha < 1:
            rules.fail("alpha", "in (0, 1)", self.alpha)

    @property
    def looks(self) -> tuple[int, ...]:
        """The seeds at each look (see `seed_looks`)."""
        return seed_looks(self.min_seeds, self.max_seeds)

    def bounds(self, hypotheses: int) -> np.ndarray:
        """Nominal levels (hypotheses, looks): row m - 1 at level alpha / m."""
        return np.stack([t_levels(self.looks, self.max_seeds, self.alpha / m)
                         for m in range(1, hypotheses + 1)])

    def test(self, hypotheses: int, margin: float | np.ndarray | None = None,
             span: float | None = None, batch: int = 1) -> SequentialTest:
        """A `SequentialTest` of this design for K comparisons."""
        looks = np.asarray(self.looks)
        return SequentialTest(self.bounds(hypotheses), margin, span, batch,
                              looks / self.max_seeds, self.futility,
                              looks >= self.futility_seeds, self.max_seeds - 1)

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
        if self.futility is not None and looks[-1] > max(self.futility_seeds, looks[0]):
            line += (f"; from {max(self.futility_seeds, looks[0])} seeds, stops as futile "
                     f"below {self.futility:.0%} predictive power (non-binding)")
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
                 fractions: np.ndarray | None = None, futility: float | None = None,
                 futile_at: np.ndarray | None = None, last_df: int | None = None) -> None:
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
                predictive power is below this; None: never.
            futile_at: Per look, whether a futility stop may happen there
                (default: at every look but the last).
            last_df: The last look's degrees of freedom (max seeds - 1), for
                the futility stop's critical value; None: a normal's.
        """
        self.bounds = np.asarray(bounds, dtype=float)
        hypotheses, looks = self.bounds.shape
        self.margin = None if margin is None else np.broadcast_to(
            np.asarray(margin, dtype=float), (batch,))
        self.span = span
        self.fractions = None if fractions is None else np.asarray(fractions, dtype=float)
        self.futility = futility if fractions is not None else None
        self.futile_at = (np.ones(looks, dtype=bool) if futile_at is None
                          else np.asarray(futile_at, dtype=bool))
        self.df_last = last_df
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
        if self.futility is not None and not last and self.futile_at[i]:
            hopeless = active & ~self.rejected & ~self.equivalent & (
                self.predictive_power(i) < self.futility)
            self.futile |= hopeless
        ended = active & (self.rejected | self.equivalent | self.futile | last)
        self.stopped[ended] = i
        self.settled[ended & (self.settled < 0)] = i  # undecided at the last look

    def predictive_power(self, i: int) -> np.ndarray:
        """(B, K) the chance of a claim at the last look, predicted from look i's data.

        With t = the look's information fraction and T its t statistic
        (|delta| / se, in its direction), the last look's statistic is
        predicted as T / sqrt(t) + sqrt((1 - t) / t) x a Student t on the
        look's degrees of freedom: Spiegelhalter, Freedman & Blackburn's
        (1986) predictive power under a flat prior, its normal replaced by
        a t because the seeds' variance is estimated from k seeds. The claim
        needs the last look's critical t (its level at the comparison's
        Holm share, on the last look's degrees of freedom).
        """
        t = self.fractions[i]
        delta, se, df = self.delta[..., i], self.se[..., i], self.df[..., i]
        with np.errstate(divide="ignore", invalid="ignore"):
            statistic = np.where(se > 0, np.abs(delta) / se, np.where(delta == 0, 0.0, np.inf))
        last_df = self.df_last if self.df_last is not None else np.inf
        needed = stats.t.isf(self.bounds[self.share - 1, -1] / 2, last_df)
        scale = np.sqrt(max(1 - t, 0.0) / t)
        with np.errstate(invalid="ignore"):
            gap = (statistic / np.sqrt(t) - needed) / max(scale, 1e-12)
        return np.where(np.isinf(statistic), 1.0, stats.t.cdf(gap, np.maximum(df, 1)))

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
        return np.where(self.rejected, np.where(better, BETTER, WORSE),
                        np.where(self.equivalent, EQUIVALENT, NO_DIFFERENCE))
