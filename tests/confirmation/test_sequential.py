"""The sequential design: the look test, Holm with recycling over the looks, the stops."""

import numpy as np
import pytest
from scipy import stats

from auxsearch.confirmation.decisions import decisions
from auxsearch.confirmation.sequential import (
    FUTILITY,
    Design,
    SequentialTest,
    check_margin,
    check_seeds,
    default_margin,
    look_p,
    look_statistics,
)
from auxsearch.core.errors import SpaceError


def scores(accuracies, n, rng):
    """Per-example 0/1 scores, one row per seed, each seed at its accuracy."""
    return (rng.random((len(accuracies), n)) < np.asarray(accuracies)[:, None]).astype(float)


def run(design, differences, margin=0.01):
    """Runs the design on (K, seeds, n) differences; returns its decisions."""
    test = SequentialTest(design.bounds(len(differences)), margin, span=1.0)
    for k in design.looks:
        if test.done:
            break
        test.look(*look_statistics(differences[None, :, :k]))
    return decisions(test, design.looks, "max")


def feed(test, p_values, df=2):
    """One look whose two-sided p-values are `p_values` (positive differences)."""
    se = np.ones((1, len(p_values)))
    test.look(stats.t.isf(np.asarray(p_values) / 2, df)[None], se, df)


def test_the_look_test_is_the_paired_t_test_when_examples_add_no_noise():
    per_seed = np.array([0.03, 0.05, 0.01, 0.04])
    differences = np.repeat(per_seed[:, None], 50, axis=1)  # the same on every example
    delta, se, df = look_statistics(differences)
    reference = stats.ttest_1samp(per_seed, 0.0)
    assert delta == pytest.approx(per_seed.mean()) and df == 3
    assert look_p(delta, se, df) == pytest.approx(reference.pvalue)
    with pytest.raises(ValueError, match="a look needs at least 2 seeds; got 1"):
        look_statistics(differences[:1])


def test_a_clear_effect_stops_early():
    rng = np.random.default_rng(0)
    base, tapped = scores([0.1] * 5, 360, rng), scores([0.9] * 5, 360, rng)
    found, = run(Design(5), (tapped - base)[None])
    assert found.verdict == "better" and found.look == found.stopped == 3  # of 5
    assert found.p_raw <= found.p_bound < 0.05 and found.p_value < 0.05
    assert 0 < found.low < found.delta < found.high <= 1


def test_an_equivalent_configuration_stops_as_equivalent():
    rng = np.random.default_rng(3)  # on each seed 40 of 4000 examples change, 20 each way
    differences = np.zeros((5, 4000))
    for row in differences:
        row[rng.choice(4000, 40, replace=False)] = [1.0] * 20 + [-1.0] * 20
    found, = run(Design(5), differences[None], margin=0.01)
    assert found.verdict == "equivalent" and found.settled and found.stopped < 5
    assert -0.01 <= found.low <= found.delta <= found.high <= 0.01
    # Without a margin it runs to the last seed and has no detectable difference.
    undecided, = run(Design(5), differences[None], margin=None)
    assert undecided.verdict == "no detectable difference" and not undecided.settled
    assert undecided.look == undecided.stopped == 5 and undecided.p_value >= 0.05


def test_a_rejection_frees_alpha_for_the_others_at_every_look_so_far():
    design = Design(5)
    bounds = design.bounds(2)  # rows: alpha / 1, alpha / 2
    test = SequentialTest(bounds)
    feed(test, [0.5, 0.5])
    between = (bounds[0, 1] + bounds[1, 1]) / 2  # passes alpha's look 2, not alpha / 2's
    feed(test, [0.5, between])
    assert not test.rejected.any() and test.open.all()
    feed(test, [bounds[1, 2] / 2, 0.9])  # the first is rejected at look 3
    assert test.rejected.all()  # ... and the second, on its look-2 evidence
    first, second = decisions(test, design.looks, "max")
    assert first.verdict == second.verdict == "better"
    assert (first.look, first.stopped) == (4, 4) and (second.look, second.stopped) == (3, 4)
    assert second.p_bound == pytest.approx(bounds[0, 1])  # tested at alpha's boundary
    assert first.p_bound == pytest.approx(bounds[1, 2])
    assert test.done


def test_an_equivalent_configuration_keeps_its_share_of_alpha():
    design = Design(3)
    bounds = design.bounds(2)
    test = SequentialTest(bounds, margin=0.01)
    # Look 1: the second is equivalent (tiny interval), the first undecided.
    test.look(np.array([[0.0, 0.0]]), np.array([[1.0, 1e-6]]), 1)
    assert test.equivalent.tolist() == [[False, True]] and test.open.tolist() == [[True, False]]
    between = (bounds[0, 1] + bounds[1, 1]) / 2
    feed(test, [between, 0.5])  # passes at alpha, not at alpha / 2: not rejected
    first, second = decisions(test, design.looks, "min")
    assert first.verdict == "no detectable difference" and second.verdict == "equivalent"
    assert first.p_bound == pytest.approx(bounds[1, 1]) and second.stopped == 2
    with pytest.raises(ValueError, match="all 2 looks are taken"):
        feed(test, [0.5, 0.5])


def test_the_direction_names_the_verdict():
    test = SequentialTest(Design(2).bounds(2))
    test.look(np.array([[0.5, -0.5]]), np.array([[0.001, 0.001]]), 1)
    assert test.verdicts("max").tolist() == [["better", "worse"]]
    assert test.verdicts("min").tolist() == [["worse", "better"]]


def test_the_design_and_its_settings():
    design = Design(5)
    assert design.looks == (2, 3, 4, 5) and design.bounds(3).shape == (3, 4)
    assert np.all(np.diff(design.bounds(3), axis=0) < 0)  # smaller shares, lower levels
    assert design.describe(3, 0.01) == (
        "a look after every seed from 2 to 5, O'Brien-Fleming-type alpha spending "
        "(Lan-DeMets), Holm over 3 with recycling, family-wise alpha 0.05 for better/worse; "
        "stops as equivalent within ±0.01; from 3 seeds, stops as futile below 10% "
        "predictive power (non-binding)")
    assert Design(5, futility=None).describe(3, None).endswith("for better/worse")
    assert Design(3).describe(1, None).endswith("for better/worse")  # no look could stop
    assert Design(2).describe(1, None).startswith("one look at 2 seeds, ")
    assert Design(4, min_seeds=9).looks == (4,)
    assert default_margin(0.0, 1.0, 0.9) == pytest.approx(0.01)
    assert default_margin(0.0, None, 2.5) == pytest.approx(0.025)  # 1% of the baseline's MAE
    with pytest.raises(SpaceError, match=r"^--seeds must be >= 2 \(a look compares paired "
                                         r"seeds\); got 1$"):
        check_seeds(1, "--seeds")
    with pytest.raises(SpaceError, match="^seeds must be >= 2"):
        Design(0)
    assert check_margin(None) is None and check_margin(1) == 1.0
    for bad in (0, -0.01, float("nan"), float("inf"), "0.01", True):
        with pytest.raises(SpaceError, match=r"^--margin must be a number > 0, in the "
                                             r"metric's units \(e.g. 0.01 for accuracy\); got"):
            check_margin(bad, "--margin")


def test_a_hopeless_comparison_stops_as_futile_and_a_promising_one_goes_on():
    design = Design(5)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.02, (2, 5, 50))
    differences = noise + np.array([0.0, 0.03])[:, None, None]  # nothing, then a trend
    test = design.test(2)
    for k in (2, 3):
        test.look(*[np.asarray(a)[None] for a in look_statistics(differences[:, :k])])
        if k == 2:  # no futility stop on 1 degree of freedom
            assert not test.futile.any() and test.open.all()
    power = test.predictive_power(1)[0]
    assert power[0] < design.futility < power[1]
    assert test.futile[0].tolist() == [True, False] and test.open[0].tolist() == [False, True]
    off = Design(5, futility=None).test(2)
    for k in (2, 3):
        off.look(*[np.asarray(a)[None] for a in look_statistics(differences[:, :k])])
    assert not off.futile.any()


def test_predictive_power_reads_the_t_statistic_on_its_degrees_of_freedom():
    # Issue 26's case: 2 seeds of 4, the baseline trained on 1, the taps on 2: per-seed
    # differences of 0 and 0.5 give t = 1 on 1 degree of freedom. Read through its p as
    # a normal z (0.67), the trend looked hopeless; its t and its Student tails do not.
    test = Design(4, futility_seeds=2).test(1)
    test.look(np.array([[0.25]]), np.array([[0.25]]), 1)
    t, needed = 0.5, stats.t.isf(test.bounds[0, -1] / 2, 3)
    expected = stats.t.cdf((1 / np.sqrt(t) - needed) / np.sqrt((1 - t) / t), 1)
    assert test.predictive_power(0)[0, 0] == pytest.approx(expected)
    z = stats.norm.isf(test.p[0, 0, 0] / 2)
    before = stats.norm.cdf((z / np.sqrt(t) - stats.norm.isf(test.bounds[0, -1] / 2))
                            / np.sqrt(1 - t))
    assert before < FUTILITY < expected
    assert not test.futile.any()
    # A difference with no spread is certain: power 1, never futile.
    sure = Design(4).test(1)
    sure.look(np.array([[0.1]]), np.array([[0.0]]), 1)
    assert sure.predictive_power(0)[0, 0] == 1.0
