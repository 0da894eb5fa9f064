"""A confirmation's verdicts: one `Decision` per configuration, from a finished test.

`decisions` reads them off a `sequential.SequentialTest` that has stopped;
`fixed` is the one-look design (each configuration's own seeds, Holm over
the K), which the fixed `stats.summarise` table shares. `unsettled` says
"not settled" where the design stopped without a verdict while the two
sides trained on different shares of their seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from auxsearch.confirmation.sequential import (
    ALPHA,
    SequentialTest,
    look_interval,
    look_statistics,
)
from auxsearch.core.verdicts import NO_DIFFERENCE, NOT_SETTLED


@dataclass(frozen=True)
class Decision:
    """How the design decided one comparison with the baseline.

    Attributes:
        verdict: One of `core.verdicts.VERDICTS`.
        look: The seeds of the look whose data settled it (the last look's
            when none did).
        stopped: The seeds it trained on when it stopped.
        delta: The paired difference (configuration - baseline) at `look`.
        low: The lower end of its interval at the look's nominal level (the
            repeated confidence interval of the level-alpha design).
        high: The upper end.
        p_raw: The look's two-sided p, not adjusted.
        p_bound: The nominal level `p_raw` had to reach (Holm's share, the look).
        margin: The equivalence margin, or None.
        alpha: The design's family-wise level.
        futile: Whether it stopped early as futile (little chance of a
            claim by the last look).
        span: The largest possible |difference| (the metric's range), or None.
        limit: The design's most seeds (`--seeds`), or None.
    """

    verdict: str
    look: int
    stopped: int
    delta: float
    low: float
    high: float
    p_raw: float
    p_bound: float
    margin: float | None
    alpha: float = ALPHA
    futile: bool = False
    span: float | None = None
    limit: int | None = None

    @property
    def p_value(self) -> float:
        """`p_raw` on the scale of alpha (times alpha / `p_bound`): below alpha
        when the design rejected; at one look, Holm's step-down p of one step."""
        return min(1.0, self.p_raw * self.alpha / self.p_bound) if self.p_bound > 0 else 1.0

    @property
    def settled(self) -> bool:
        """Whether a boundary settled it (better, worse or equivalent)."""
        return self.verdict not in (NO_DIFFERENCE, NOT_SETTLED)

    @property
    def detectable(self) -> float:
        """Half the interval's width: about the difference this design detects."""
        return (self.high - self.low) / 2

    @property
    def unbounded(self) -> bool:
        """Whether the interval is the whole range: too few seeds to bound it."""
        return self.span is not None and self.low <= -self.span and self.high >= self.span


def decisions(test: SequentialTest, looks: tuple[int, ...], direction: str,
              alpha: float = ALPHA, index: int = 0) -> list[Decision]:
    """The K decisions of one confirmation (`index` in the batch) of a finished `test`."""
    verdicts = test.verdicts(direction)[index]
    out = []
    for h in range(test.bounds.shape[0]):
        at, stop = int(test.settled[index, h]), int(test.stopped[index, h])
        if at < 0 or stop < 0:
            raise ValueError(f"hypothesis {h} is not decided yet")
        delta, se, df = test.delta[index, h, at], test.se[index, h, at], test.df[index, h, at]
        low, high = look_interval(delta, se, df, test.bounds[0, at], test.span)
        margin = None if test.margin is None else float(test.margin[index])
        out.append(Decision(str(verdicts[h]), looks[at], looks[stop], float(delta), float(low),
                            float(high), float(test.p[index, h, at]),
                            float(test.bounds[test.share[index, h] - 1, at]), margin, alpha,
                            bool(test.futile[index, h]), test.span, looks[-1]))
    return out


def unsettled(decision: Decision, trained: int | None, baseline_trained: int | None) -> Decision:
    """The decision, "not settled" where the two trained on different shares of its seeds.

    A comparison that stopped with no detectable difference (futile, or at
    the seed limit) while one side trained on more of the seeds (`trained`
    and `baseline_trained`, counted over the decision's `stopped` seeds by
    the leaderboard's chance rule) has seen a train-or-fail difference that
    its seeds were too few to test: more seeds would tell. Every other
    decision stands, and so does every decision without training counts.
    """
    if (decision.verdict != NO_DIFFERENCE or trained is None or baseline_trained is None
            or trained == baseline_trained):
        return decision
    return replace(decision, verdict=NOT_SETTLED)


def fixed(differences: list[np.ndarray], direction: str, alpha: float = ALPHA,
          span: float | None = None, margin: float | None = None) -> list[Decision]:
    """The fixed design: one look at each configuration's own seeds, Holm over K.

    Args:
        differences: Per configuration, per-example differences (k, n), k >= 2.
        direction: "max" or "min".
        alpha: The family-wise level.
        span: The largest possible |difference|, or None.
        margin: An equivalence margin, or None (no "equivalent" verdict).
    """
    if not differences:
        return []
    looked = [look_statistics(d) for d in differences]
    bounds = np.array([[alpha / m] for m in range(1, len(differences) + 1)])
    test = SequentialTest(bounds, margin, span)
    test.look(np.array([[s[0] for s in looked]]), np.array([[s[1] for s in looked]]),
              np.array([[s[2] for s in looked]]))
    found = decisions(test, (0,), direction, alpha)
    return [Decision(d.verdict, len(diff), len(diff), d.delta, d.low, d.high, d.p_raw,
                     d.p_bound, d.margin, alpha, span=span, limit=len(diff))
            for d, diff in zip(found, differences)]
