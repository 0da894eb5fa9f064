"""What a finished trial says about its configuration: its taps, its budget, its score.

The sampler learns from these (`search.sampler`), and `explain` estimates
each tap's effect from them (`results.effects`); a replay benchmark makes
them without training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from auxsearch.core import names
from auxsearch.core.tapspace import AuxLoss, active_taps
from auxsearch.core.tasks import learnt


@dataclass(frozen=True)
class Observation:
    """One finished trial.

    Attributes:
        losses: Its auxiliary losses (none: the baseline).
        budget: The epochs it reached (counted from 0, as `tuner/epochs`).
        score: Its objective; `None` if it failed or learnt nothing.
    """

    losses: tuple[AuxLoss, ...]
    budget: int
    score: float | None

    @property
    def config(self) -> tuple[AuxLoss, ...]:
        """What identifies its configuration: its losses, by layer."""
        return tuple(sorted(self.losses, key=lambda loss: loss.layer))


def observe(values: dict[str, Any], completed: bool, score: float | None,
            chance: float | None, direction: str) -> Observation:
    """A finished trial as an `Observation`.

    Args:
        values: Its hyperparameter values (`tuner/epochs` among them).
        completed: Whether it completed (else it failed).
        score: Its score, if it has one.
        chance: The objective of a constant prediction, if known.
        direction: "max" or "min", the objective's better direction.

    Returns:
        Its taps and epochs, and its score: `None` if it failed, is not a
        finite number, or is no better than chance (`tasks.learnt`).
    """
    if not completed or score is None or not math.isfinite(score) or (
            chance is not None and not learnt(score, chance, direction)):
        score = None
    return Observation(tuple(active_taps(values).values()), int(values.get(names.EPOCHS, 0)),
                       score)
