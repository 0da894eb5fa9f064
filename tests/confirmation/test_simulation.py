"""The type-I error of the sequential confirmation, by simulation."""

import numpy as np
import pytest

from auxsearch.confirmation.simulation import (
    NullRates,
    null_scores,
    train_or_fail,
    train_or_fail_scores,
    type_one_error,
)
from auxsearch.core.errors import SpaceError


def test_nothing_differs_and_the_claims_stay_within_alpha():
    # Seed noise that swamps the test set's: where a bootstrap over 2 to 5 seeds fails.
    rates = type_one_error(spread=0.1, examples=200, configurations=3, max_seeds=5,
                           simulations=1500, seed=1)
    error = np.sqrt(0.05 * 0.95 / 1500)  # Monte Carlo standard error at the nominal rate
    assert rates.claims <= 0.05 + 2 * error  # better or worse, family-wise over K = 3
    assert rates.better <= 0.025 + 2 * rates.error  # the "better" half of it
    assert rates.better > 0  # the design does spend its alpha: not vacuous
    assert rates.most == 20 and 2 * 4 <= rates.trainings <= 20


def test_the_draws_have_the_spread_asked_for():
    rng = np.random.default_rng(0)
    scores = null_scores(rng, 200, 2, 3, 2000, mean=0.8, spread=0.05, correlation=0.5)
    per_seed = scores.mean(axis=-1)  # (simulations, trainings, seeds)
    assert set(np.unique(scores)) == {0.0, 1.0}
    assert per_seed.mean() == pytest.approx(0.8, abs=0.005)
    assert per_seed.std() == pytest.approx(np.hypot(0.05, 0.4 / np.sqrt(2000)), rel=0.1)
    paired = np.corrcoef(per_seed[:, 0].ravel(), per_seed[:, 1].ravel())[0, 1]
    assert paired == pytest.approx(0.5 * 0.05 ** 2 / per_seed.var(), abs=0.1)


def test_equal_configurations_with_little_noise_stop_as_equivalent():
    rates = type_one_error(spread=0.002, examples=4000, agreement=0.98, simulations=40,
                           futility=None)
    assert rates.equivalent > 0.5 and rates.trainings < rates.most
    assert rates.better == rates.claims == 0
    without = type_one_error(spread=0.002, examples=4000, agreement=0.98, simulations=40,
                             margin=None, futility=None)
    assert without.equivalent == 0 and without.trainings == without.most


def test_the_simulation_is_deterministic_for_a_seed():
    first = type_one_error(0.05, 100, simulations=300, seed=3)
    assert first == type_one_error(0.05, 100, simulations=300, seed=3)
    assert isinstance(first, NullRates) and first.simulations == 300
    assert NullRates(0.0, 0.0, 0.0, 1.0, 2, 100).error == pytest.approx(np.sqrt(0.01 * 0.99 / 100))


@pytest.mark.parametrize("setting, value, message", [
    ("spread", -0.1, "spread must be >= 0; got -0.1"),
    ("mean", 1.0, "mean must be in (0, 1); got 1.0"),
    ("agreement", 1.0, "agreement must be in [0, 1); got 1.0"),
    ("simulations", 0, "simulations must be >= 1; got 0"),
])
def test_bad_settings_are_refused(setting, value, message):
    arguments = {"spread": 0.1, "examples": 100} | {setting: value}
    with pytest.raises(SpaceError, match=f"^type_one_error: {message}".replace("(", r"\(")
                       .replace(")", r"\)").replace("[", r"\[")):
        type_one_error(**arguments)


def test_futility_stops_cut_the_null_cost_without_adding_claims():
    with_stops = type_one_error(0.02, 360, simulations=400, seed=1)
    without = type_one_error(0.02, 360, simulations=400, seed=1, futility=None)
    assert with_stops.trainings < 0.7 * without.trainings
    assert with_stops.better <= without.better


def test_a_failed_training_scores_at_most_chance_and_a_trained_one_above():
    rng = np.random.default_rng(0)
    scores, chance = train_or_fail_scores(rng, 50, np.array([0.0, 1.0]), 3, 360, 0.6, 0.1)
    per_seed = scores.mean(axis=-1)  # (simulations, trainings, seeds)
    assert chance.shape == (50,) and np.all((chance > 0.1) & (chance < 0.2))  # 10 classes
    assert np.all(per_seed[:, 0] <= chance[:, None] + 1e-6)  # one class for every example
    assert np.all(per_seed[:, 1] > chance[:, None] + 0.1)
    assert per_seed[:, 1].mean() == pytest.approx(0.6, abs=0.02)


def test_train_or_fail_nulls_stay_within_alpha_and_a_reliable_winner_is_found():
    # Equal failure rates: the type-I error of "better" at its nominal half of alpha.
    null = train_or_fail(0.5, [0.5, 0.5, 0.5], 200, 6, 0.6, 0.12, simulations=600, seed=2)
    assert null.better <= 0.025 + 2 * null.error and null.claims <= 0.05 + 2 * null.error
    # A configuration that always trains against a baseline that never does.
    sure = train_or_fail(0.0, [1.0], 200, 4, 0.6, 0.12, simulations=200, seed=2)
    assert sure.power > 0.95 and sure.trainings < sure.most
    assert sure.unsettled == pytest.approx(1 - sure.power)  # any other end differs in training
    # One that trains on 3 seeds of 4 against one that trains on 1: at a limit of 3 seeds
    # most end without a claim, and those with unequal training are "not settled".
    few = train_or_fail(0.25, [0.75], 200, 3, 0.6, 0.12, simulations=200, seed=2)
    assert few.power < 0.5 and 0.3 < few.unsettled <= 1 - few.power
    with pytest.raises(SpaceError, match=r"^train_or_fail: trains must be probabilities"):
        train_or_fail(0.5, [1.5], 200, 4, 0.6, 0.1)


def test_a_look_on_one_degree_of_freedom_stops_nothing_for_futility():
    # The case, simulated: at deep_plain's rates, no futility stop costs
    # no power; the z of the design before did (see `sequential`).
    kwargs = {"simulations": 300, "seed": 4}
    stops = train_or_fail(0.0, [0.75], 200, 6, 0.6, 0.12, **kwargs)
    never = train_or_fail(0.0, [0.75], 200, 6, 0.6, 0.12, futility=None, **kwargs)
    assert stops.power >= never.power - 0.02
    assert stops.trainings <= never.trainings
