"""Packed trials: a group of trials trained at once, in one packed model.

`fit_packed` trains a group of configurations that train the same epochs in
one `packed.PackedModel`. Each copy starts from its configuration's fresh
weights (drawn from its seed, as unpacked) or its parent's checkpoint, reads
its own stream of batches (the same seed), follows its own loss weight
schedule, and keeps its own logs, best epoch and checkpoint. A copy whose
loss becomes NaN or infinite is switched off at once (every loss weight 0:
no gradient reaches it) and its trial fails; the others train on. Each
trial's result is the `History` that `AuxLossHyperModel.fit` would return
for it alone, to float noise, with its share of the wall time.

`pack = "auto"` chooses K by timing a few steps at K = 1, 2, 4, ... on an
accelerator (`choose_pack`), and 1 on a CPU, where packing was measured not
to pay (see README's speed section); `fitting_pack` lowers K where K copies
would not fit in memory.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras
import keras_tuner as kt
import numpy as np

from auxsearch import names, routing
from auxsearch.callbacks import LossWeightSchedule, diverged, edit_logs
from auxsearch.packed import PackedModel
from auxsearch.report import add_report, chance_score
from auxsearch.tapspace import AuxLoss
from auxsearch.traced import seeded

if TYPE_CHECKING:
    from auxsearch.hypermodel import AuxLossHyperModel

logger = logging.getLogger(__name__)

AUTO_CANDIDATES = (1, 2, 4, 8, 16)  # the K that `choose_pack` times, until one is not faster
AUTO_MARGIN = 0.05  # a larger K must be this much faster per trial to be chosen
MEMORY_SHARE = 0.5  # the share of the available memory K copies may take


@dataclasses.dataclass
class PackedTrial:
    """One trial of a packed group.

    Attributes:
        hp: Its hyperparameters.
        seed: The seed of its initial weights and batch order.
        parent: A checkpoint to start from (a promotion), or `None`.
        checkpoint: Where its best epoch's weights go, or `None`.
    """

    hp: kt.HyperParameters
    seed: int
    parent: str | None = None
    checkpoint: str | None = None


class CopyRecords(keras.callbacks.Callback):
    """Each copy's weight schedule, logs, best epoch and NaN stop, in a packed fit.

    Args:
        packed: The packed model.
        losses: The auxiliary losses of each trial (copy i: trial i; copies
            past the last trial are left alone).
        objective: The `keras_tuner.Objective` that decides the best epoch.
        max_epochs: Integer, the epochs the schedules follow.
        off_after: Float, the share of epochs an `off_after` loss is on.
    """

    def __init__(self, packed: PackedModel, losses: list[list[AuxLoss]], objective: Any,
                 max_epochs: int, off_after: float) -> None:
        super().__init__()
        self.packed = packed
        self.objective = objective
        self.active = [{names.MAIN, *(loss.output for loss in own)} for own in losses]
        self.schedules = [
            LossWeightSchedule(
                {name: v for name, v in packed.loss_weights[i].items() if name != names.MAIN},
                {loss.output: (loss.weight, loss.schedule) for loss in own},
                max_epochs, off_after)
            for i, own in enumerate(losses)]
        self.history: list[dict[str, list[float]]] = [{} for _ in losses]
        self.epochs: list[list[int]] = [[] for _ in losses]
        self.best: list[float | None] = [None] * len(losses)
        self.state: list[list[np.ndarray] | None] = [None] * len(losses)
        self.failed: dict[int, Exception] = {}
        self.weights: list[dict[str, float]] = [{} for _ in losses]
        self.epoch = 0

    def live(self) -> list[int]:
        """The copies still training."""
        return [i for i in range(len(self.schedules)) if i not in self.failed]

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        for i in self.live():
            self.schedules[i].on_epoch_begin(epoch)
            self.weights[i] = {names.MAIN: 1.0, **self.schedules[i].weights_at(epoch)}

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check(logs or {})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
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
            # Like `callbacks.BestEpochCheckpoint`: an epoch without the objective is kept.
            self.state[i] = self.packed.values(i)

    def copy_logs(self, logs: dict[str, Any], copy: int) -> dict[str, float]:
        """One copy's logs, as its trial alone would have logged them.

        Its `loss` is the sum of its outputs' losses times their weights, as
        Keras sums them (the user model's own regularisation losses are
        counted in the packed model's total only).
        """
        own = {key: float(value) for key, value in names.copy_logs(logs, copy).items()}
        for prefix in ("", "val_"):
            parts = [(w, own.get(f"{prefix}{name}_loss")) for name, w in self.weights[copy].items()]
            if all(loss is not None for _, loss in parts):
                own[f"{prefix}loss"] = sum(w * loss for w, loss in parts)
        if len(self.packed.output_names) > 1:
            edit_logs(own, self.packed.output_names, self.active[copy])
        return own

    def _check(self, logs: dict[str, Any]) -> None:
        for i in self.live():
            for key, value in names.copy_logs(logs, i).items():
                if key.endswith("loss") and not key.startswith("val_") \
                        and not math.isfinite(float(value)):
                    self.packed.switch_off(i)
                    self.schedules[i].losses = {}  # and keep them off
                    self.failed[i] = diverged(float(value), self.epoch + 1)
                    break
        if not self.live():
            self.model.stop_training = True


def fit_packed(
    hypermodel: AuxLossHyperModel,
    trials: Sequence[PackedTrial],
    x: Any,
    y: Any,
    validation_data: Any = None,
    epochs: int = 1,
    initial_epoch: int = 0,
    batch_size: int | None = None,
    verbose: int = 0,
    pack: int | None = None,
) -> tuple[list[keras.callbacks.History | Exception], PackedModel]:
    """Trains a group of trials at once; see the module's docstring.

    Args:
        hypermodel: The `AuxLossHyperModel` (`hypermodel.packs` set).
        trials: The group, at most the largest pack.
        x, y: Training arrays, as `AuxLossHyperModel.fit` takes them.
        validation_data: `(x, y)` arrays, or `None`.
        epochs, initial_epoch: As `keras.Model.fit`'s, the same for all.
        batch_size: Integer, examples per batch (default the HyperModel's, or 32).
        verbose: Keras' verbosity.
        pack: Integer, the copies of a packed model to build when none of
            the traced ones is large enough (default: the group's size).
            The smallest traced one that is large enough is used: a group
            smaller than it leaves copies unused, and traces nothing.

    Returns:
        For each trial, its `History` with its report (see `report`), or the
        `FailedTrialError` of a loss that diverged; and the packed model,
        each copy at its last epoch.
    """
    started = time.perf_counter()
    packs = hypermodel.packs
    size = min((k for k in packs.models if k >= len(trials)), default=pack or len(trials))
    packed = packs.get(max(size, len(trials)))
    values = [packs.load(t.parent) if t.parent else _fresh(packs.make, t.seed) for t in trials]
    # Unused copies get finite weights (a failed copy's may be NaN); their losses stay off.
    packed.start(values + [values[0]] * (packed.size - len(trials)))
    for i in range(len(trials)):
        packed.switch_on(i)
    losses = [list(hypermodel.declare(trial.hp).values()) for trial in trials]
    # Copies past the trials' stay off: they are neither checked nor recorded.
    records = CopyRecords(packed, losses, hypermodel.objective,
                          hypermodel.max_epochs or epochs, hypermodel.off_after)
    batch_size = batch_size or hypermodel.batch_size or 32
    route = hypermodel.router(packed.output_names)
    seeds = [t.seed for t in trials] + [None] * (packed.size - len(trials))
    data = routing.packed_batches(x, route(y), batch_size, seeds)
    validation = None if validation_data is None else routing.packed_batches(
        validation_data[0], route(validation_data[1]), max(batch_size, 512),
        [None] * packed.size)
    fitted = time.perf_counter()
    packed.model.fit(data, validation_data=validation, epochs=epochs,
                     initial_epoch=initial_epoch, verbose=verbose, callbacks=[records],
                     shuffle=False)
    done = time.perf_counter()
    chance = chance_score(hypermodel.task, hypermodel.objective.name, validation_data)
    results: list[keras.callbacks.History | Exception] = []
    for i, trial in enumerate(trials):
        if i in records.failed:
            results.append(records.failed[i])
            continue
        if trial.checkpoint and records.state[i] is not None:
            packs.save(records.state[i], trial.checkpoint,
                       {k: w for k, w in records.weights[i].items() if k != names.MAIN})
        history = keras.callbacks.History()
        history.history, history.epoch = records.history[i], records.epochs[i]
        add_report(history, hypermodel.objective.name, initial_epoch, chance,
                   (done - fitted) / len(trials), (done - started) / len(trials))
        results.append(history)
    return results, packed


def _fresh(make: Any, seed: int) -> list[np.ndarray]:
    """A trial's initial weights: a fresh model's, drawn as `traced` draws them."""
    with seeded(seed):
        return make().get_weights()


def resolve_pack(hypermodel: AuxLossHyperModel, pack: int | str, x: Any, y: Any,
                 fit_kwargs: dict[str, Any]) -> int:
    """Returns the K to train with: `pack`, or the timed choice (`"auto"`), within memory.

    1 where the training cannot be packed (see `unpackable`), with a
    warning if more was asked for.

    Args:
        hypermodel: The `AuxLossHyperModel`.
        pack: Integer, or "auto".
        x, y: The training data.
        fit_kwargs: The other arguments of the trainings' `fit`.
    """
    why = unpackable(hypermodel, x, fit_kwargs)
    if why:
        if pack != 1:
            logger.warning("training one trial at a time: %s", why)
        return 1
    batch_size = fit_kwargs.get("batch_size") or hypermodel.batch_size or 32
    if pack == "auto" and not accelerated():
        # Measured (bench/results.md): on CPUs one trial already keeps every
        # core busy, and tracing K copies costs more than K traces of one.
        logger.info("pack = auto: 1 trial at once (no accelerator: packing does not pay)")
        pack = 1
    elif pack == "auto":
        pack = choose_pack(hypermodel, x, y, batch_size)
        logger.info("pack = auto: %d trials at once (the most trials per second)", pack)
    if pack > 1:
        fits, per_copy, available = fitting_pack(hypermodel.packs.template.model, batch_size,
                                                 pack)
        if fits < pack:
            logger.warning(
                "packing %d trials needs about %.1f GB of the %.1f GB available: "
                "packing %d", pack, pack * per_copy / 1e9, available / 1e9, fits)
            pack = fits
    return pack


def unpackable(hypermodel: AuxLossHyperModel, x: Any, fit_kwargs: dict[str, Any]) -> str:
    """Why trainings with these arguments cannot be packed ("" if they can)."""
    if keras.backend.backend() == "torch":
        # Measured: one copy's losses drift from its unpacked run by ~1e-3 there.
        return "packed trials are not exact on the PyTorch backend yet"
    if hypermodel.packs is None:
        return (f"{len(hypermodel.space.variants())} possible auxiliary outputs, more "
                "than a packed model holds")
    validation = fit_kwargs.get("validation_data")
    if routing.is_dataset(x) or routing.is_dataset(validation) or (
            validation is not None and len(validation) != 2):
        return "packing takes arrays (no dataset, no sample weights)"
    if "validation_split" in fit_kwargs:
        return "packing takes validation_data, not validation_split"
    if fit_kwargs.get("callbacks"):
        return "packing runs no callbacks of its own trials (e.g. TensorBoard)"
    return ""


def choose_pack(hypermodel: AuxLossHyperModel, x: Any, y: Any, batch_size: int,
                candidates: Sequence[int] = AUTO_CANDIDATES) -> int:
    """Returns the K of the most trials per second, from a few timed steps.

    Each K trains the baseline configuration for two short epochs (the first
    traces); the second is timed. The packed models stay traced for the
    search. A larger K is chosen only if it is `AUTO_MARGIN` faster per
    trial; once one is not, no larger K is tried (tracing K copies costs
    more than K times one copy's tracing).
    """
    hp = hypermodel.hyperparameters({})
    steps = 2 * hypermodel.assembly.steps_per_execution
    best, best_rate = 1, 0.0
    for k in candidates:
        seconds = _timed_epoch(hypermodel, hp, k, x, y, batch_size, steps)
        rate = k / seconds
        logger.info("pack %d: %.3f s for %d steps (%.1f trial-steps per second)",
                    k, seconds, steps, rate * steps)
        if rate <= best_rate * (1 + AUTO_MARGIN):
            break
        best, best_rate = k, rate
    return best


def _timed_epoch(hypermodel: AuxLossHyperModel, hp: kt.HyperParameters, k: int, x: Any,
                 y: Any, batch_size: int, steps: int) -> float:
    """The seconds of a second epoch of `steps` steps with K copies (1: unpacked)."""
    rows = steps * batch_size
    x = keras.tree.map_structure(lambda a: a[:rows], x)
    y = keras.tree.map_structure(lambda a: a[:rows], y)
    if k == 1:
        model = hypermodel.build(hp)
        data = routing.batched(x, hypermodel.router(list(model.output_names))(y), batch_size,
                               shuffle_seed=0)
    else:
        packed = hypermodel.packs.get(k)
        model = packed.model
        data = routing.packed_batches(x, hypermodel.router(packed.output_names)(y),
                                      batch_size, [0] * k)
    times = _EpochTimes()
    model.fit(data, epochs=2, verbose=0, callbacks=[times], shuffle=False)
    if k == 1:
        hypermodel.models.trained(model)
    return times.seconds[-1]


class _EpochTimes(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._started)


def fitting_pack(model: keras.Model, batch_size: int, pack: int,
                 available: float | None = None) -> tuple[int, float, float]:
    """Returns the largest K up to `pack` whose copies fit in memory.

    A copy's memory is estimated from its parameters (the weights, the
    optimizer's two slots, the gradient and the best epoch's copy: five
    times) and its activations (every layer's output for a batch, kept for
    the backward pass and its gradient: twice), in float32.

    Args:
        model: A trial model.
        batch_size: Integer, examples per batch.
        pack: Integer, the K asked for.
        available: Bytes available (default: `available_memory()`).

    Returns:
        `(K, bytes per copy, bytes available)`.
    """
    params = sum(math.prod(v.shape) for v in model.weights)
    activations = 0
    for layer in model.layers:
        try:
            outputs = keras.tree.flatten(layer.output)
        except (AttributeError, ValueError):  # a layer used more than once
            continue
        activations += sum(math.prod(d or 1 for d in t.shape[1:]) for t in outputs)
    per_copy = 4.0 * (5 * params + 2 * batch_size * activations)
    available = available_memory() if available is None else available
    fits = max(1, int(MEMORY_SHARE * available // per_copy)) if per_copy else pack
    return min(pack, fits), per_copy, available


def accelerated() -> bool:
    """Whether the backend computes on an accelerator (a GPU or TPU), not the CPU."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()[0].platform != "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    return False


def available_memory() -> float:
    """Bytes available to new arrays: the accelerator's free memory, else the host's."""
    if keras.backend.backend() == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not Linux: assume it fits
        return math.inf
