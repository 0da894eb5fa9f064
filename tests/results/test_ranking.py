"""The leaderboard's one ranking rule."""

from auxsearch.results.ranking import rank_key


def test_full_budget_then_learning_then_epochs_then_score():
    ranked = sorted([
        ("partial, best score", rank_key(False, False, 3, 0.99, True)),
        ("full, at chance", rank_key(True, True, 9, 0.10, True)),
        ("full, good", rank_key(True, False, 9, 0.90, True)),
        ("full, better", rank_key(True, False, 9, 0.95, True)),
        ("partial, longer", rank_key(False, False, 5, 0.50, True)),
    ], key=lambda pair: pair[1])
    assert [name for name, _ in ranked] == [
        "full, better", "full, good", "full, at chance", "partial, longer",
        "partial, best score"]


def test_a_loss_ranks_lowest_first():
    assert rank_key(True, False, 9, 0.2, False) < rank_key(True, False, 9, 0.3, False)


def test_after_a_race_the_winner_then_those_left_then_the_dropped():
    from auxsearch.results.ranking import RACE_ORDER

    won = rank_key(True, False, 9, 0.80, True, RACE_ORDER["won"])
    left = rank_key(True, False, 9, 0.90, True, RACE_ORDER["left"])
    dropped = rank_key(True, False, 9, 0.95, True, RACE_ORDER["dropped"])
    unraced_partial = rank_key(False, False, 3, 0.99, True)
    assert sorted([dropped, unraced_partial, left, won]) == [won, left, dropped, unraced_partial]
