"""The ablation's one-sided sequential tests: needed, not needed within the margin, not settled."""

import numpy as np
import pytest

from auxsearch.confirmation.noninferiority import AblationDesign, one_sided_p
from auxsearch.confirmation.sequential import look_statistics
from auxsearch.core.errors import SpaceError


def ablate(differences, max_seeds, margin=0.01, batch=None):
    """Runs the design on (B, K, seeds, n) differences (winner - variant); returns the test."""
    design = AblationDesign(max_seeds)
    test = design.test(differences.shape[1], margin, span=1.0, batch=differences.shape[0])
    for k in design.looks:
        if test.done:
            break
        test.look(*look_statistics(differences[:, :, :k]))
    return test


def normal_differences(rng, effect, batch, variants, seeds, n=50, seed_sd=0.01, noise=0.1):
    """Per-example differences: a seed shift and example noise around `effect`."""
    shift = rng.normal(0, seed_sd, (batch, variants, seeds, 1))
    return effect + shift + rng.normal(0, noise, (batch, variants, seeds, n))


def test_one_sided_p_against_a_shifted_null():
    assert one_sided_p(np.array(2.0), np.array(1.0), 10) == pytest.approx(0.0367, abs=1e-3)
    assert one_sided_p(np.array(2.0), np.array(1.0), 10, shift=2.0) == pytest.approx(0.5)
    assert one_sided_p(np.array(0.0), np.array(1.0), 10, shift=2.0, upper=False) == (
        pytest.approx(0.0367, abs=1e-3))
    assert one_sided_p(np.array(0.5), np.array(0.0), 3) == 0.0  # no spread: certain
    assert one_sided_p(np.array(-0.5), np.array(0.0), 3) == 1.0


def test_a_tap_with_nothing_to_lose_is_rarely_called_needed():
    # Type-I error of "needed": every variant equal to the winner, Holm over 3.
    rng = np.random.default_rng(0)
    test = ablate(normal_differences(rng, 0.0, 2000, 3, 9), 9, margin=0.001)
    assert test.needed.any(axis=1).mean() <= 0.05 + 0.015


def test_a_variant_worse_by_the_margin_is_rarely_called_not_needed():
    # Type-I error of "not needed": every variant exactly the margin worse.
    rng = np.random.default_rng(1)
    test = ablate(normal_differences(rng, 0.02, 2000, 3, 9), 9, margin=0.02)
    assert test.not_needed.any(axis=1).mean() <= 0.05 + 0.015


def test_clear_effects_are_settled_early_and_both_ways():
    rng = np.random.default_rng(2)
    needed = normal_differences(rng, 0.2, 1, 1, 9)
    same = normal_differences(rng, 0.0, 1, 1, 9, seed_sd=0.001, noise=0.01)
    better = normal_differences(rng, -0.2, 1, 1, 9)  # the variant is better: not needed
    test = ablate(np.concatenate([needed, same, better], axis=1), 9, margin=0.02)
    assert test.verdicts()[0].tolist() == ["needed", "not needed", "not needed"]
    assert (test.stopped[0] < 8).all()  # settled before the seed limit
    found = test.decisions(AblationDesign(9).looks)
    assert found[0].low > 0 and found[1].high < 0.02 and found[2].high < 0
    assert all(-1 <= d.low <= d.delta <= d.high <= 1 for d in found)


def test_undecided_at_the_limit_is_not_settled():
    rng = np.random.default_rng(3)
    # An effect the size of the margin, with few seeds: neither test can reject.
    test = ablate(normal_differences(rng, 0.01, 1, 1, 3, noise=0.3), 3, margin=0.01)
    [decision] = test.decisions(AblationDesign(3).looks)
    assert decision.verdict == "not settled" and decision.stopped == 3


def test_a_help_smaller_than_the_margin_is_not_needed():
    # The interval inside (0, margin): the tap helps, by less than matters.
    rng = np.random.default_rng(4)
    test = ablate(normal_differences(rng, 0.01, 1, 1, 9, seed_sd=0.0005, noise=0.005), 9,
                  margin=0.05)
    assert test.verdicts()[0].tolist() == ["not needed"]


def test_the_design_checks_its_settings():
    with pytest.raises(SpaceError, match="seeds must be >= 2"):
        AblationDesign(1)
    with pytest.raises(SpaceError, match="alpha must be in"):
        AblationDesign(5, alpha=0.6)
    design = AblationDesign(5)
    assert design.looks == (2, 3, 4, 5)
    bounds = design.bounds(3)
    assert bounds.shape == (3, 4) and (np.diff(bounds, axis=0) <= 0).all()
    assert bounds[0, -1] < 0.05 and bounds[0, 0] < bounds[0, -1]
    assert "one-sided" in design.describe(3, 0.01)
