"""The leaderboard's order of configurations: one rule, for tables and replays.

A configuration is ranked by its longest-trained completed trial: those
that reached the full budget first; among them, after a race (see
`race_rule`), the one that won it, then those left in it, then those it
dropped, each by its mean over the race's paired seeds; among equals, those
that learnt something (better than a constant prediction) before those that
did not; then the longer-trained; then the better score.
"""

from __future__ import annotations

RankKey = tuple[bool, int, bool, float, float]

# How a race ended for a configuration, best first (`race_rule.race_table`'s `race`).
RACE_ORDER = {"won": 0, "left": 1, "dropped": 2}
NOT_RACED = len(RACE_ORDER)


def rank_key(full_budget: bool, flagged: bool, epochs: float, score: float,
             maximize: bool, race: int = NOT_RACED) -> RankKey:
    """Returns a sort key of a configuration: the smaller, the better its rank.

    Args:
        full_budget: Boolean, whether it reached the full epoch budget.
        flagged: Boolean, whether its score is no better than chance.
        epochs: The epochs it reached.
        score: Its score: its race mean when it raced, else its trial's.
        maximize: Boolean, whether a higher score is better.
        race: How its race ended (`RACE_ORDER`), or `NOT_RACED`.
    """
    return (not full_budget, race, flagged, -epochs, -score if maximize else score)
