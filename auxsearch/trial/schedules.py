"""Weight schedules: how an auxiliary loss's weight changes over the epochs.

Deep supervision often helps most early in training and can hurt at the
end; a schedule lets the search find out. The schedule follows the absolute
epoch, so a Hyperband trial that resumes its parent at `initial_epoch`
continues where the parent stopped (`callbacks.LossWeightSchedule` sets the
weights at the start of every epoch).
"""

from __future__ import annotations

import math

from auxsearch.core.rules import SCHEDULES, check_choice


def schedule_factor(
    schedule: str, epoch: int, max_epochs: int, off_after: float = 0.5
) -> float:
    """Returns the share of the full weight an auxiliary loss gets in an epoch.

    Args:
        schedule: "constant" (always 1), "linear_decay" (from 1 in the first
            epoch to 0 in epoch `max_epochs`) or "off_after" (1 for the first
            `off_after` share of `max_epochs`, at least one epoch, then 0).
        epoch: Integer, the absolute epoch, 0-based.
        max_epochs: Integer, the epochs of a fully trained configuration.
        off_after: Float in (0, 1], the share of epochs an `off_after` loss is on.

    Raises:
        SpaceError: If the schedule is unknown.
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear_decay":
        return max(0.0, 1.0 - epoch / (max_epochs - 1)) if max_epochs > 1 else 1.0
    if schedule == "off_after":
        return 1.0 if epoch < max(1, math.ceil(off_after * max_epochs)) else 0.0
    check_choice(schedule, SCHEDULES, "schedule")
    raise AssertionError("unreachable")


def weights_at(
    losses: dict[str, tuple[float, str]], outputs: list[str], epoch: int,
    max_epochs: int, off_after: float = 0.5,
) -> dict[str, float]:
    """Returns every auxiliary output's loss weight in an absolute epoch.

    Args:
        losses: `(weight, schedule)` by output name; outputs not named get 0.
        outputs: Every auxiliary output.
        epoch: Integer, the absolute epoch, 0-based.
        max_epochs: Integer, the epochs of a fully trained configuration.
        off_after: Float, the share of epochs an `off_after` loss is on.
    """
    weights = dict.fromkeys(outputs, 0.0)
    for name, (weight, schedule) in losses.items():
        weights[name] = weight * schedule_factor(schedule, epoch, max_epochs, off_after)
    return weights
