"""A finished trial as the sampler and explain read it."""

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss


def test_a_configuration_is_its_losses_whatever_their_order():
    a, b = AuxLoss("conv2", 0.1), AuxLoss("conv5", 0.3)
    assert Observation((b, a), 9, 0.9).config == Observation((a, b), 3, None).config == (a, b)
    assert Observation((), 9, 0.5).config == ()
