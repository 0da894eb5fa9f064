"""Holm's step-down adjustment, the one every family of tests uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from auxsearch.results.holm import holm


def test_holm_matches_a_hand_computed_example():
    # Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1; then a running maximum.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, 0.6]) == pytest.approx([0.4, 0.6])
    assert holm([0.3, 0.9]) == pytest.approx([0.6, 0.9])
    assert holm([0.5, 0.7, 0.9]) == pytest.approx([1.0, 1.0, 1.0])  # capped at 1
    assert holm([0.04]) == pytest.approx([0.04]) and holm([]).size == 0


def test_nan_stays_nan_and_is_not_counted():
    adjusted = holm(np.array([0.01, math.nan, 0.04, 0.03]))
    assert np.isnan(adjusted[1])
    assert np.allclose(adjusted[[0, 3, 2]], [0.03, 0.06, 0.06])


def test_rejecting_below_alpha_is_the_step_down_procedure():
    # 0.01 < 0.05/3 rejects; 0.03 is not < 0.05/2, so the procedure stops there.
    assert list(holm([0.01, 0.04, 0.03]) < 0.05) == [True, False, False]
    # 0.01 < 0.05/3, 0.016 < 0.05/2, 0.02 < 0.05: all three.
    assert list(holm([0.01, 0.02, 0.016]) < 0.05) == [True, True, True]
