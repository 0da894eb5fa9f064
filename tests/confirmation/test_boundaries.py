"""Group-sequential boundaries against published values and an independent integration."""

import numpy as np
import pytest
from scipy import stats

from auxsearch.confirmation.boundaries import critical_values, spent, t_levels


def _levels(fractions, alpha):
    """The textbook two-sided nominal level of each look: reject at look i if p <= it."""
    return 2 * stats.norm.sf(critical_values(fractions, alpha))


def test_four_equal_looks_give_the_published_obrien_fleming_type_values():
    # Lan-DeMets O'Brien-Fleming-type spending, two-sided symmetric, alpha 0.05
    # (gsDesign sfLDOF / rpact asOF, one-sided 0.025 a side): 4.333, 2.963, 2.359, 2.014.
    z = critical_values((0.25, 0.5, 0.75, 1.0), 0.05)
    assert z == pytest.approx([4.3326, 2.9631, 2.3590, 2.0141], abs=2e-4)
    levels = _levels((0.25, 0.5, 0.75, 1.0), 0.05)
    assert levels == pytest.approx([1.47e-5, 0.00305, 0.0183, 0.0440], rel=0.01)
    assert critical_values((0.5, 1.0), 0.05) == pytest.approx([2.9626, 1.9686], abs=2e-4)


def test_one_look_is_the_fixed_design():
    assert critical_values((1.0,), 0.05) == pytest.approx([stats.norm.isf(0.025)])
    assert _levels((1.0,), 0.05 / 3) == pytest.approx([0.05 / 3])


def test_the_looks_spend_alpha_as_the_function_says():
    # An independent check of the recursive integration: the crossing probabilities
    # of correlated looks, corr(Z_i, Z_j) = sqrt(t_i / t_j), by scipy's multivariate normal.
    t = np.arange(2, 6) / 5  # looks after seeds 2..5 of 5
    z = critical_values(tuple(t), 0.05 / 2)
    for j in range(1, len(t) + 1):
        ti = t[:j]
        cov = np.sqrt(np.minimum.outer(ti, ti) / np.maximum.outer(ti, ti))
        inside = stats.multivariate_normal(cov=cov).cdf(z[:j], lower_limit=-z[:j], rng=0)
        assert 1 - inside == pytest.approx(spent(ti[-1], 0.05 / 2), abs=1e-4)
    assert spent(1.0, 0.05) == pytest.approx(0.05)
    assert np.all(np.diff(spent(t, 0.05)) > 0) and spent(0.1, 0.05) < 1e-8


def test_t_levels_start_exact_and_become_the_textbook_ones_with_many_seeds():
    looks = (2, 3, 4, 5)
    levels = t_levels(looks, 5, 0.05)
    assert levels[0] == pytest.approx(spent(0.4, 0.05))  # the first look spends it all
    textbook = _levels(tuple(k / 5 for k in looks), 0.05)
    # t statistics on 1 to 4 degrees of freedom are less correlated than Z's: lower levels.
    assert np.all(levels[1:] < textbook[1:]) and 0.03 < levels[-1] < textbook[-1]
    many = (40, 60, 80, 100)
    assert t_levels(many, 100, 0.05) == pytest.approx(
        _levels(tuple(k / 100 for k in many), 0.05), rel=0.05)
    assert np.array_equal(t_levels(looks, 5, 0.05), levels)  # deterministic
    # Levels for Holm's smaller shares are smaller at every look.
    assert np.all(t_levels(looks, 5, 0.05 / 3) < levels)


def test_bad_looks_are_refused():
    with pytest.raises(ValueError, match=r"from 2 to max_seeds \(5\); got \(1, 2\)"):
        t_levels((1, 2), 5, 0.05)
    with pytest.raises(ValueError, match="from 2 to max_seeds"):
        t_levels((2, 6), 5, 0.05)
    with pytest.raises(ValueError, match="increasing fractions in"):
        critical_values((0.5, 0.5), 0.05)
    with pytest.raises(ValueError, match="increasing fractions in"):
        critical_values((0.5, 1.2), 0.05)
    with pytest.raises(ValueError, match="alpha in"):
        critical_values((1.0,), 0.0)
