"""The leaderboard's order of configurations: one rule, for tables and replays.

A configuration is ranked by its longest-trained completed trial: those
that reached the full budget first; among equals, those that learnt
something (better than a constant prediction) before those that did not;
then the longer-trained; then the better score.
"""

from __future__ import annotations

RankKey = tuple[bool, bool, float, float]


def rank_key(full_budget: bool, flagged: bool, epochs: float, score: float,
             maximize: bool) -> RankKey:
    """Returns a sort key of a configuration: the smaller, the better its rank.

    Args:
        full_budget: Boolean, whether it reached the full epoch budget.
        flagged: Boolean, whether its score is no better than chance.
        epochs: The epochs it reached.
        score: Its score at those epochs.
        maximize: Boolean, whether a higher score is better.
    """
    return (not full_budget, flagged, -epochs, -score if maximize else score)
