import pytest

from auxsearch.core.errors import SpaceError
from auxsearch.trial.schedules import schedule_factor, weights_at


@pytest.mark.parametrize("schedule, max_epochs, expected", [
    ("constant", 3, [1, 1, 1]),
    ("linear_decay", 5, [1, 0.75, 0.5, 0.25, 0]),  # 0 in the last epoch
    ("linear_decay", 1, [1]),
    ("off_after", 4, [1, 1, 0, 0]),
    ("off_after", 3, [1, 1, 0]),  # on for ceil(0.5 * 3) = 2 epochs
    ("off_after", 1, [1]),  # at least one epoch on
])
def test_factors(schedule, max_epochs, expected):
    assert [schedule_factor(schedule, e, max_epochs) for e in range(max_epochs)] == \
        pytest.approx(expected)


def test_off_after_fraction_and_unknown_schedules():
    assert [schedule_factor("off_after", e, 10, off_after=0.2) for e in range(4)] == [1, 1, 0, 0]
    assert schedule_factor("linear_decay", 12, 9) == 0  # past max_epochs: still off
    with pytest.raises(SpaceError, match="schedule must be one of constant, linear_decay, "
                                         "off_after; got 'cosine'"):
        schedule_factor("cosine", 0, 3)


def test_weights_at_an_epoch():
    losses = {"a": (0.8, "linear_decay"), "b": (0.5, "constant")}
    assert weights_at(losses, ["a", "b", "c"], 2, max_epochs=5) == pytest.approx(
        {"a": 0.4, "b": 0.5, "c": 0.0})
