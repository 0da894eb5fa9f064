"""The ablation's test: is each variant as good as the winner, within the margin, or worse?

The winner and each variant (a tap removed, or its weight changed) train on
the same seeds in the same order, so each look compares paired per-example
scores, d = winner - variant on the metric's better side (positive: the
variant lost something). After every seed from the second on, each variant
still open is tested twice, one-sided, on the look statistic `confirm` uses
(`sequential.look_statistics`: a t on k - 1 degrees of freedom, its variance
the seeds' plus the test set's):

- **needed** rejects H0: d <= 0 (the winner is better: removing the tap
  costs d);
- **not needed** rejects H0: d >= margin (non-inferiority: the variant is
  not worse by the margin or more; Blackwelder 1982, the one-sided test of
  a shifted null).

Why one-sided non-inferiority, not confirm's two-sided test with TOST: the
question is whether the tap can go, so only a loss matters; a variant
better than the winner is "not needed" as much as one equal to it, and TOST
would call it "not settled" whenever it is better by more than the margin.
Each family (needed, not needed) is tested at family-wise level alpha over
the variants by Holm's step-down, at each look's nominal one-sided level:
Lan-DeMets O'Brien-Fleming-type spending of `boundaries.t_levels` (two-sided
level 2 alpha / m, halved: one side of the symmetric design). A hypothesis
rejected at a look frees its share for the next looks (the earlier looks
are not tested again: this only makes verdicts rarer than Maurer & Bretz's
full recycling). Where both reject at one look, the interval lies within
(0, margin): the tap helps, by less than the margin, so it is not needed. A
variant undecided at the seed limit is "not settled".

The product (`ablation`) and the replay (`bench.replay.ablate`) both run
this class, the replay with many ablations in one batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from auxsearch.confirmation.boundaries import t_levels
from auxsearch.confirmation.decisions import Decision
from auxsearch.confirmation.sequential import (
    ALPHA,
    MIN_SEEDS,
    check_seeds,
    look_interval,
    seed_looks,
)
from auxsearch.core import rules
from auxsearch.core.verdicts import NEEDED, NOT_NEEDED, NOT_SETTLED


@dataclass(frozen=True)
class AblationDesign:
    """When the ablation looks, and at what one-sided level.

    Attributes:
        max_seeds: The most seeds a variant trains (confirm's `--seeds`).
        min_seeds: The seeds of the first look.
        alpha: The family-wise one-sided level of each family of verdicts.
    """

    max_seeds: int
    min_seeds: int = MIN_SEEDS
    alpha: float = ALPHA

    def __post_init__(self) -> None:
        check_seeds(self.max_seeds)
        check_seeds(self.min_seeds, "min_seeds")
        if not 0 < self.alpha < 0.5:
            rules.fail("alpha", "in (0, 0.5)", self.alpha)

    @property
    def looks(self) -> tuple[int, ...]:
        """The seeds at each look (`sequential.seed_looks`)."""
        return seed_looks(self.min_seeds, self.max_seeds)

    def bounds(self, hypotheses: int) -> np.ndarray:
        """One-sided nominal levels (hypotheses, looks): row m - 1 at level alpha / m."""
        return np.stack([t_levels(self.looks, self.max_seeds, 2 * self.alpha / m) / 2
                         for m in range(1, hypotheses + 1)])

    def test(self, hypotheses: int, margin: float | np.ndarray, span: float | None = None,
             batch: int = 1) -> AblationTest:
        """An `AblationTest` of this design for `hypotheses` variants."""
        return AblationTest(self.bounds(hypotheses), margin, span, batch)

    def describe(self, hypotheses: int, margin: float) -> str:
        """The design in one line, for people."""
        return (f"a look after every seed from {self.looks[0]} to {self.looks[-1]}, one-sided "
                f"tests (needed: the winner is better; not needed: the variant is not worse "
                f"by {margin:.3g} or more), O'Brien-Fleming-type alpha spending, Holm over "
                f"{hypotheses}, family-wise alpha {self.alpha:g} each")


def one_sided_p(delta: np.ndarray, se: np.ndarray, df: int | np.ndarray,
                shift: float | np.ndarray = 0.0, upper: bool = True) -> np.ndarray:
    """The one-sided p of the look's t statistic against a shifted null.

    `upper`: H0 is delta <= shift (small p: delta above it); else H0 is delta
    >= shift. With a standard error of 0 the p is 0 or 1.
    """
    delta, se = np.asarray(delta, dtype=float), np.asarray(se, dtype=float)
    gap = delta - np.asarray(shift, dtype=float)
    if not upper:
        gap = -gap
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, gap / se, np.where(gap > 0, np.inf, -np.inf))
    return stats.t.sf(t, np.maximum(df, 1))


class AblationTest:
    """The verdicts of K variants against the winner over the looks, for a batch.

    Arrays have a leading batch axis B and K variants; feed `look` each
    look's statistics of d = winner - variant (positive: the variant is worse).

    Attributes:
        needed: (B, K) booleans: "winner is better" rejected its null.
        not_needed: (B, K) booleans: non-inferiority within the margin shown.
        settled: (B, K) the look index that settled it (the last if none did).
        stopped: (B, K) the look index after which it trained no more.
    """

    def __init__(self, bounds: np.ndarray, margin: float | np.ndarray,
                 span: float | None = None, batch: int = 1) -> None:
        self.bounds = np.asarray(bounds, dtype=float)
        hypotheses, looks = self.bounds.shape
        self.margin = np.broadcast_to(np.asarray(margin, dtype=float), (batch,))
        self.span = span
        self.index = -1
        shape = (batch, hypotheses)
        self.delta = np.full(shape + (looks,), np.nan)
        self.se = np.full(shape + (looks,), np.nan)
        self.df = np.zeros(looks)
        self.p = np.ones(shape + (looks,))  # the p of the verdict's own test
        self.needed = np.zeros(shape, dtype=bool)
        self.not_needed = np.zeros(shape, dtype=bool)
        self.settled = np.full(shape, -1)
        self.stopped = np.full(shape, -1)

    @property
    def open(self) -> np.ndarray:
        """(B, K) booleans: still undecided with a look left."""
        return ~(self.needed | self.not_needed) & (self.index < self.bounds.shape[1] - 1)

    @property
    def done(self) -> bool:
        """Whether nothing is left to decide."""
        return not self.open.any()

    def look(self, delta: np.ndarray, se: np.ndarray, df: int) -> None:
        """Takes the next look's statistics (B, K); variants not open are ignored."""
        i = self.index + 1
        if i >= self.bounds.shape[1]:
            raise ValueError(f"all {self.bounds.shape[1]} looks are taken")
        active = self.open
        self.index, self.df[i] = i, df
        self.delta[..., i] = np.where(active, delta, np.nan)
        self.se[..., i] = np.where(active, se, np.nan)
        p_needed = one_sided_p(delta, se, df)
        p_fine = one_sided_p(delta, se, df, self.margin[:, None], upper=False)
        needed = self._holm(p_needed, active, self.needed, i)
        fine = self._holm(p_fine, active, self.not_needed, i)
        self.not_needed |= fine  # both: within (0, margin), helps by less than the margin
        self.needed |= needed & ~fine
        self.p[..., i] = np.where(fine, p_fine, np.where(needed, p_needed,
                                                         np.minimum(p_needed, p_fine)))
        decided = active & (needed | fine)
        self.settled[decided] = i
        ended = active & (decided | (i == self.bounds.shape[1] - 1))
        self.settled[ended & (self.settled < 0)] = i
        self.stopped[ended] = i

    def _holm(self, p: np.ndarray, active: np.ndarray, rejected: np.ndarray,
              i: int) -> np.ndarray:
        """Holm's step-down at look i within one family; returns the new rejections."""
        hypotheses = self.bounds.shape[0]
        new = np.zeros_like(active)
        while True:
            left = hypotheses - (rejected | new).sum(axis=1)[:, None]  # unrejected: the share
            bound = self.bounds[np.maximum(left, 1) - 1, i]
            passes = active & ~new & (p <= bound) & (bound > 0)
            if not passes.any():
                return new
            new |= passes

    def verdicts(self) -> np.ndarray:
        """(B, K) verdicts: needed, not needed or not settled."""
        return np.where(self.needed, NEEDED, np.where(self.not_needed, NOT_NEEDED, NOT_SETTLED))

    def decisions(self, looks: tuple[int, ...], alpha: float = ALPHA,
                  index: int = 0) -> list[Decision]:
        """The K decisions of one ablation (`index` in the batch), as `Decision`s.

        `delta` is winner - variant; the interval is the look's two-sided
        one at twice the one-sided level of a single variant (the repeated
        confidence interval of the level-alpha design), within the metric's
        span; `p_raw` is the p of the test that settled it (the smaller one
        where neither did), `p_bound` the level it had to reach.
        """
        verdicts = self.verdicts()[index]
        out = []
        for h in range(self.bounds.shape[0]):
            at, stop = int(self.settled[index, h]), int(self.stopped[index, h])
            if at < 0 or stop < 0:
                raise ValueError(f"variant {h} is not decided yet")
            delta, se = self.delta[index, h, at], self.se[index, h, at]
            low, high = look_interval(delta, se, self.df[at], 2 * self.bounds[0, at], self.span)
            out.append(Decision(str(verdicts[h]), looks[at], looks[stop], float(delta),
                                float(low), float(high), float(self.p[index, h, at]),
                                float(self.bounds[0, at]), float(self.margin[index]), alpha,
                                span=self.span, limit=looks[-1]))
        return out
