"""Trial records: each trial's loss weights, logs, best epoch and NaN stop, in one fit.

A fit trains a group of trials in one compiled model: one trial in a
`traced.TracedModel`, or K in a `packed.PackedModel`. `TrialRecords` is the
first callback of that fit and keeps, for each trial (a copy of the group):
its loss weight schedule, its logs as it would have logged them alone, its
best epoch's weights, and its failure if its loss became NaN or infinite.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import keras
import keras_tuner as kt
import numpy as np

from auxsearch.core import names
from auxsearch.core.tapspace import AuxLoss
from auxsearch.trial.schedules import weights_at


class Group(Protocol):
    """What a fit trains: K copies of a trial model in one compiled model."""

    size: int
    model: keras.Model
    output_names: list[str]

    def copy_loss_weights(self, copy: int) -> dict[str, Any]:
        """A copy's auxiliary loss weight variables, by output name."""

    def copy_logs(self, logs: dict[str, Any], copy: int) -> dict[str, Any]:
        """A copy's entries of the logs, by its trial model's names."""

    def switch_off(self, copy: int) -> None:
        """Stops a copy's training (no gradient reaches it)."""

    def values(self, copy: int) -> list[np.ndarray]:
        """A copy's weights, in a trial model's order."""


class TrialRecords(keras.callbacks.Callback):
    """Each trial's weight schedule, logs, best epoch and NaN stop.

    With one copy, it edits the logs in place (see `callbacks.edit_logs`),
    so the callbacks after it (Keras Tuner's, History) read the trial's own
    names; with K, each copy's logs are renamed back into its own history.
    A copy whose training loss becomes NaN or infinite is switched off at
    that batch and fails; the fit stops once no copy trains.

    Args:
        group: The group being trained (see `Group`).
        losses: Each trial's auxiliary losses (copy i: trial i; copies past
            the last trial are left alone).
        objective: The `keras_tuner.Objective` that decides the best epoch.
        max_epochs: Integer, the epochs the schedules follow.
        off_after: Float, the share of epochs an `off_after` loss is on.
        keep: Whether to keep each copy's best epoch's weights (`state`), for
            a checkpoint. Defaults to every copy's.
    """

    def __init__(self, group: Group, losses: list[list[AuxLoss]], objective: Any,
                 max_epochs: int, off_after: float, keep: list[bool] | None = None) -> None:
        super().__init__()
        self.group = group
        self.objective = objective
        self.active = [{names.MAIN, *(loss.output for loss in own)} for own in losses]
        self.schedules = [
            LossWeightSchedule(group.copy_loss_weights(i),
                               {loss.output: (loss.weight, loss.schedule) for loss in own},
                               max_epochs, off_after)
            for i, own in enumerate(losses)]
        self.history: list[dict[str, list[float]]] = [{} for _ in losses]
        self.epochs: list[list[int]] = [[] for _ in losses]
        self.best: list[float | None] = [None] * len(losses)
        self.state: list[list[np.ndarray] | None] = [None] * len(losses)
        self.keep = [True] * len(losses) if keep is None else keep
        self.failed: dict[int, Exception] = {}
        self.weights: list[dict[str, float]] = [{} for _ in losses]
        self.epoch = 0

    def live(self) -> list[int]:
        """The copies still training."""
        return [i for i in range(len(self.schedules)) if i not in self.failed]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        # Keras counts epochs from `initial_epoch`: this is the absolute epoch.
        self.epoch = epoch
        for i in self.live():
            self.schedules[i].on_epoch_begin(epoch)
            self.weights[i] = {names.MAIN: 1.0, **self.schedules[i].weights_at(epoch)}

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check(logs or {})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            logs = {}
        self._check(logs)
        for i in self.live():
            own = self.copy_logs(logs, i)
            for key, value in own.items():
                self.history[i].setdefault(key, []).append(value)
            self.epochs[i].append(epoch)
            if self.objective.has_value(own):
                value = self.objective.get_value(own)
                if self.best[i] is not None and not self.objective.better_than(
                        value, self.best[i]):
                    continue
                self.best[i] = value
            # Like Keras Tuner's `SaveBestEpoch`: an epoch without the objective is kept.
            if self.keep[i]:
                self.state[i] = self.group.values(i)

    def copy_logs(self, logs: dict[str, Any], copy: int) -> dict[str, float]:
        """One copy's logs, as its trial alone would have logged them.

        In a pack, a copy's `loss` is the sum of its outputs' losses times
        their weights, as Keras sums them (the user model's own
        regularisation losses are counted in the packed model's total only).
        Alone, the logs are the trial's own, edited in place.
        """
        if self.group.size == 1:
            edit_logs(logs, self.group.output_names, self.active[copy])
            return {key: float(value) for key, value in logs.items()}
        own = {key: float(value) for key, value in self.group.copy_logs(logs, copy).items()}
        for prefix in ("", "val_"):
            parts = [(w, own.get(f"{prefix}{name}_loss")) for name, w in self.weights[copy].items()]
            if all(loss is not None for _, loss in parts):
                own[f"{prefix}loss"] = sum(w * loss for w, loss in parts)
        edit_logs(own, self.group.output_names, self.active[copy])
        return own

    def _check(self, logs: dict[str, Any]) -> None:
        for i in self.live():
            for key, value in self.group.copy_logs(logs, i).items():
                if key.endswith("loss") and not key.startswith("val_") \
                        and not math.isfinite(float(value)):
                    self.group.switch_off(i)
                    self.schedules[i].losses = {}  # and keep them off
                    self.failed[i] = diverged(float(value), self.epoch + 1)
                    break
        if not self.live():
            self.model.stop_training = True


def edit_logs(logs: dict[str, Any], output_names: list[str], active: set[str]) -> None:
    """Edits a trial's logs in place: its own outputs, named consistently.

    Drops the metrics of inactive heads, and gives a single-output model's
    logs the `main_` names that Keras leaves out when a model has one
    output (`val_accuracy` is also logged as `val_main_accuracy`).

    Args:
        logs: The logs of one epoch, by the trial model's names.
        output_names: The trial model's outputs.
        active: The outputs whose loss counts.
    """
    if len(output_names) == 1:
        for key in list(logs):
            if key.startswith("val_"):
                logs.setdefault(f"val_{names.MAIN}_{key[4:]}", logs[key])
            else:
                logs.setdefault(f"{names.MAIN}_{key}", logs[key])
        return
    # Longest first: `aux_block_inner_loss` is `aux_block_inner`'s, not `aux_block`'s.
    outputs = sorted(output_names, key=len, reverse=True)
    for key in list(logs):
        bare = key[4:] if key.startswith("val_") else key
        owner = next((name for name in outputs if bare.startswith(f"{name}_")), None)
        if owner is not None and owner not in active:
            del logs[key]


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
        return weights_at(self.losses, list(self.variables), epoch, self.max_epochs,
                          self.off_after)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        # Keras counts epochs from `initial_epoch`: this is the absolute epoch.
        for name, weight in self.weights_at(epoch).items():
            self.variables[name].assign(weight)


def diverged(loss: float, epoch: int) -> kt.errors.FailedTrialError:
    """The error of a trial whose loss became `loss` in (1-based) `epoch`."""
    return kt.errors.FailedTrialError(
        f"the loss became {loss} in epoch {epoch}; training stopped there")
