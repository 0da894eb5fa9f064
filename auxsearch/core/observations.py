"""What a finished trial says about its configuration: its taps, its budget, its score.

The sampler learns from these (`search.sampler`), and `explain` estimates
each tap's effect from them (`results.effects`); a replay benchmark makes
them without training.
"""

from __future__ import annotations

from dataclasses import dataclass

from auxsearch.core.tapspace import AuxLoss


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
