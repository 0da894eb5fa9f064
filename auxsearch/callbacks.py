"""The callbacks of a trial: its logs, loss weights, checkpoint and NaN stop."""

from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from auxsearch import names
from auxsearch.schedules import weights_at
from auxsearch.tapspace import AuxLoss


class TrialLogs(keras.callbacks.Callback):
    """Keeps a trial's logs to its active outputs, named consistently.

    Placed first among the callbacks, it edits the logs dict that the later
    callbacks (checkpoints, Keras Tuner, History) read: it drops the metrics
    of inactive heads, and gives a single-output model's logs the `main_`
    names that Keras leaves out when a model has one output (`val_accuracy`
    is also logged as `val_main_accuracy`).

    Args:
        active: The names of the outputs whose loss counts.
    """

    def __init__(self, active: list[str]) -> None:
        super().__init__()
        self.active = set(active)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            edit_logs(logs, list(self.model.output_names), self.active)


def edit_logs(logs: dict[str, Any], output_names: list[str], active: set[str]) -> None:
    """Edits a trial's logs in place, as `TrialLogs` describes.

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


class BestEpochCheckpoint(keras.callbacks.Callback):
    """Keras Tuner's best-epoch checkpoint, written once when training ends.

    Keras Tuner's `SaveBestEpoch` writes the weights file on every epoch
    that improves the objective; this keeps the best epoch's weights and
    optimizer state in memory and writes the same file once. The model ends
    training at its best epoch.

    Args:
        objective: The `keras_tuner.Objective` that decides the best epoch.
        filepath: The checkpoint's path (`*.weights.h5`).
    """

    def __init__(self, objective: Any, filepath: str) -> None:
        super().__init__()
        self.objective = objective
        self.filepath = filepath
        self.best: float | None = None
        self.state: list[np.ndarray] | None = None

    @classmethod
    def replacing(cls, callback: keras.callbacks.Callback) -> keras.callbacks.Callback:
        """Returns a replacement for Keras Tuner's `SaveBestEpoch`, else `callback`."""
        from auxsearch.ktshim import SaveBestEpoch

        if not isinstance(callback, SaveBestEpoch):
            return callback
        return cls(callback.objective, callback.filepath)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.objective.has_value(logs):
            value = self.objective.get_value(logs)
            if self.best is not None and not self.objective.better_than(value, self.best):
                return
            self.best = value
        # Like SaveBestEpoch, an epoch without the objective is kept as well.
        self.state = [v.numpy() for v in self._variables()]

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.state is None:
            return
        for variable, value in zip(self._variables(), self.state):
            variable.assign(value)
        self.model.save_weights(self.filepath)

    def _variables(self) -> list[Any]:
        return list(self.model.weights) + list(self.model.optimizer.variables)


def trial_callbacks(
    losses: list[AuxLoss],
    given: list[keras.callbacks.Callback] | None,
    variables: dict[str, Any] | None = None,
    max_epochs: int = 1,
    off_after: float = 0.5,
) -> list[keras.callbacks.Callback]:
    """Returns a trial's callbacks, in the order they must run.

    With the traced model's loss weight variables, the weight schedule
    first (it sets this epoch's weights); then `TrialLogs` (it edits the
    logs every later callback reads), NaN termination, then the given
    callbacks with Keras Tuner's checkpoint replaced.

    Args:
        losses: The configuration's auxiliary losses.
        given: The callbacks `fit` was given (Keras Tuner's among them).
        variables: The loss weight variables by output, or `None`.
        max_epochs: Integer, the epochs the schedules follow.
        off_after: Float, the share of epochs an `off_after` loss is on.
    """
    active = [names.MAIN] + [loss.output for loss in losses]
    callbacks = [TrialLogs(active), keras.callbacks.TerminateOnNaN()] + [
        BestEpochCheckpoint.replacing(callback) for callback in given or []
    ]
    if variables is None:
        return callbacks
    schedule = LossWeightSchedule(
        variables, {loss.output: (loss.weight, loss.schedule) for loss in losses},
        max_epochs, off_after)
    return [schedule] + callbacks


def check_finite(history: keras.callbacks.History, initial_epoch: int) -> None:
    """Fails a trial whose loss diverged (TerminateOnNaN stopped its training).

    Raises:
        keras_tuner.errors.FailedTrialError: With the epoch the loss diverged in.
    """
    for epoch, loss in enumerate(history.history.get("loss", []), initial_epoch + 1):
        if not math.isfinite(loss):
            raise diverged(loss, epoch)


def diverged(loss: float, epoch: int) -> kt.errors.FailedTrialError:
    """The error of a trial whose loss became `loss` in (1-based) `epoch`."""
    return kt.errors.FailedTrialError(
        f"the loss became {loss} in epoch {epoch}; training stopped there")
