"""Weight schedules: how an auxiliary loss's weight changes over the epochs.

Deep supervision often helps most early in training and can hurt at the
end; a schedule lets the search find out. Each auxiliary loss weight lives
in a Keras variable, which `LossWeightSchedule` sets at the start of every
epoch. The schedule follows the absolute epoch, so a Hyperband trial that
resumes its parent at `initial_epoch` continues where the parent stopped.
"""

from __future__ import annotations

import math
from typing import Any

import keras

SCHEDULES = ("constant", "linear_decay", "off_after")


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
    """
    if schedule == "constant":
        return 1.0
    if schedule == "linear_decay":
        return max(0.0, 1.0 - epoch / (max_epochs - 1)) if max_epochs > 1 else 1.0
    if schedule == "off_after":
        return 1.0 if epoch < max(1, math.ceil(off_after * max_epochs)) else 0.0
    raise ValueError(f"unknown schedule {schedule!r}; allowed: {', '.join(SCHEDULES)}")


class LossWeightSchedule(keras.callbacks.Callback):
    """Sets each auxiliary loss weight variable at the start of every epoch.

    Args:
        variables: The loss weight variables, by output name.
        losses: `(weight, schedule)` by output name; outputs not named are
            set to 0 (off).
        max_epochs: Integer, the epochs of a fully trained configuration.
        off_after: Float, the share of epochs an `off_after` loss is on.
    """

    def __init__(
        self,
        variables: dict[str, Any],
        losses: dict[str, tuple[float, str]],
        max_epochs: int,
        off_after: float = 0.5,
    ) -> None:
        super().__init__()
        self.variables = variables
        self.losses = losses
        self.max_epochs = max_epochs
        self.off_after = off_after

    def weights_at(self, epoch: int) -> dict[str, float]:
        """Returns every loss weight in an absolute epoch (0-based)."""
        weights = dict.fromkeys(self.variables, 0.0)
        for name, (weight, schedule) in self.losses.items():
            weights[name] = weight * schedule_factor(
                schedule, epoch, self.max_epochs, self.off_after)
        return weights

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        # Keras counts epochs from `initial_epoch`: this is the absolute epoch.
        for name, weight in self.weights_at(epoch).items():
            self.variables[name].assign(weight)
