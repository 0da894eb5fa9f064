"""A finished trial as the sampler and explain read it."""

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss


def test_a_configuration_is_its_losses_whatever_their_order():
    a, b = AuxLoss("conv2", 0.1), AuxLoss("conv5", 0.3)
    assert Observation((b, a), 9, 0.9).config == Observation((a, b), 3, None).config == (a, b)
    assert Observation((), 9, 0.5).config == ()


def test_a_trial_without_a_usable_score_is_observed_without_one():
    from auxsearch.core.observations import observe

    values = {"tap/conv2": True, "weight/conv2": 0.1, "tuner/epochs": 3}
    assert observe(values, True, 0.9, 0.1, "max") == Observation(
        (AuxLoss("conv2", 0.1),), 3, 0.9)
    assert observe(values, False, 0.9, None, "max").score is None  # failed
    assert observe(values, True, float("nan"), None, "max").score is None
    assert observe(values, True, 0.105, 0.1, "max").score is None  # no better than chance
    assert observe(values, True, 2.0, 2.5, "min").score == 2.0
