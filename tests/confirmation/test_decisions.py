"""The verdicts read off a finished test, and the fixed one-look design."""

import numpy as np
import pytest

from auxsearch.confirmation.decisions import Decision, decisions, fixed, unsettled
from auxsearch.confirmation.sequential import Design, SequentialTest
from auxsearch.results.holm import holm
from tests.confirmation.test_sequential import run, scores


def test_one_look_is_the_fixed_design_with_holm():
    rng = np.random.default_rng(5)
    base = scores([0.70, 0.72, 0.71, 0.69], 300, rng)
    tables = [scores(a, 300, rng) for a in ([0.80, 0.79, 0.82, 0.81], [0.72, 0.70, 0.74, 0.71],
                                            [0.55, 0.56, 0.54, 0.57], [0.71, 0.70, 0.72, 0.70])]
    differences = np.stack([table - base for table in tables])
    one_look = run(Design(4, min_seeds=4), differences, margin=None)
    by_fixed = fixed(list(differences), "max")
    for found, fixed_one in zip(one_look, by_fixed):
        assert (found.verdict, found.look, found.p_raw, found.delta) == (
            fixed_one.verdict, fixed_one.look, fixed_one.p_raw, fixed_one.delta)
        assert (found.p_bound, found.low, found.high) == pytest.approx(
            (fixed_one.p_bound, fixed_one.low, fixed_one.high))
    p = [d.p_raw for d in by_fixed]
    assert [d.verdict for d in by_fixed] == [
        "no detectable difference" if not q < 0.05 else "better" if d.delta > 0 else "worse"
        for q, d in zip(holm(p), by_fixed)]
    assert {d.verdict for d in by_fixed} >= {"better", "worse", "no detectable difference"}


def test_a_test_not_decided_yet_has_no_decisions():
    with pytest.raises(ValueError, match="hypothesis 0 is not decided yet"):
        decisions(SequentialTest(Design(5).bounds(2)), Design(5).looks, "max")


def test_p_on_the_scale_of_alpha_and_a_whole_range_interval():
    decided = Decision("better", 3, 3, 0.1, 0.02, 0.18, 0.001, 0.01, None)
    assert decided.p_value == pytest.approx(0.005) and decided.settled
    assert decided.detectable == pytest.approx(0.08) and not decided.unbounded
    # Clipped to the metric's range on both ends: nothing is excluded.
    wide = Decision("no detectable difference", 3, 3, 0.1, -1.0, 1.0, 0.4, 1e-4, None,
                    span=1.0)
    assert wide.unbounded and not wide.settled and wide.p_value == 1.0
    # A fixed design's decisions know the span too.
    rng = np.random.default_rng(1)
    noisy = scores([0.1, 0.9], 50, rng) - scores([0.5, 0.5], 50, rng)
    assert fixed([noisy], "max", span=1.0)[0].span == 1.0


def test_no_claim_with_unequal_training_is_not_settled():
    open_ = Decision("no detectable difference", 2, 2, 0.25, -1.0, 1.0, 0.5, 1e-4, None,
                     futile=True, span=1.0, limit=4)
    found = unsettled(open_, 2, 1)  # the taps trained on 2 of 2 seeds, the baseline on 1
    assert found.verdict == "not settled" and not found.settled
    assert (found.delta, found.stopped, found.limit, found.futile) == (0.25, 2, 4, True)
    assert unsettled(open_, 2, 2) is open_  # both trained alike: no detectable difference
    assert unsettled(open_, None, None) is open_  # no chance score: nothing is flagged
    # A claim or an equivalence stands whatever the training.
    for verdict in ("better", "worse", "equivalent"):
        decided = Decision(verdict, 3, 3, 0.3, 0.1, 0.5, 0.001, 0.01, 0.01)
        assert unsettled(decided, 3, 0) is decided


def test_decisions_know_the_seed_limit():
    rng = np.random.default_rng(2)
    differences = np.stack([scores([0.7] * 4, 200, rng) - scores([0.7] * 4, 200, rng)])
    found, = run(Design(4, futility=None), differences, margin=None)
    assert found.limit == 4 and found.verdict == "no detectable difference"
    assert fixed(list(differences[:, :3]), "max")[0].limit == 3
