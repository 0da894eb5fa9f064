"""The pack: how many trials train at once, in one packed model.

`pack = "auto"` chooses K by timing a few steps at K = 1, 2, 4, ... on an
accelerator (`choose_pack`), and 1 on a CPU, where packing was measured not
to pay (see bench/results.md); `fitting_pack` lowers K where K copies would
not fit in memory; `unpackable` says why some trainings cannot pack at all.
The packed training itself is the trainer's (`trial.trainer.Trainer.fit_pack`).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner as kt

from auxsearch.trial import routing
from auxsearch.trial.trainer import Trainer

logger = logging.getLogger(__name__)

AUTO_CANDIDATES = (1, 2, 4, 8, 16)  # the K that `choose_pack` times, until one is not faster
AUTO_MARGIN = 0.05  # a larger K must be this much faster per trial to be chosen
MEMORY_SHARE = 0.5  # the share of the available memory K copies may take


def resolve_pack(trainer: Trainer, pack: int | str, x: Any, y: Any,
                 fit_kwargs: dict[str, Any]) -> int:
    """Returns the K to train with: `pack`, or the timed choice (`"auto"`), within memory.

    1 where the training cannot be packed (see `unpackable`), with a
    warning if more was asked for.

    Args:
        trainer: The search's `Trainer`.
        pack: Integer, or "auto".
        x, y: The training data.
        fit_kwargs: The other arguments of the trainings' `fit`.
    """
    why = unpackable(trainer, x, fit_kwargs)
    if why:
        if pack != 1:
            logger.warning("training one trial at a time: %s", why)
        return 1
    batch_size = trainer.batch_size(fit_kwargs.get("batch_size"))
    if pack == "auto" and not accelerated():
        # Measured (bench/results.md): on CPUs one trial already keeps every
        # core busy, and tracing K copies costs more than K traces of one.
        logger.info("pack = auto: 1 trial at once (no accelerator: packing does not pay)")
        pack = 1
    elif pack == "auto":
        pack = choose_pack(trainer, x, y, batch_size)
        logger.info("pack = auto: %d trials at once (the most trials per second)", pack)
    if pack > 1:
        fits, per_copy, available = fitting_pack(trainer.packs.template.model, batch_size,
                                                 pack)
        if fits < pack:
            logger.warning(
                "packing %d trials needs about %.1f GB of the %.1f GB available: "
                "packing %d", pack, pack * per_copy / 1e9, available / 1e9, fits)
            pack = fits
    return pack


def unpackable(trainer: Trainer, x: Any, fit_kwargs: dict[str, Any]) -> str:
    """Why trainings with these arguments cannot be packed ("" if they can)."""
    if keras.backend.backend() == "torch":
        # Measured: one copy's losses drift from its unpacked run by ~1e-3 there.
        return "packed trials are not exact on the PyTorch backend yet"
    if trainer.packs is None:
        return (f"{len(trainer.space.variants())} possible auxiliary outputs, more "
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


def choose_pack(trainer: Trainer, x: Any, y: Any, batch_size: int,
                candidates: Sequence[int] = AUTO_CANDIDATES) -> int:
    """Returns the K of the most trials per second, from a few timed steps.

    Each K trains the baseline configuration for two short epochs (the first
    traces); the second is timed. The packed models stay traced for the
    search. A larger K is chosen only if it is `AUTO_MARGIN` faster per
    trial; once one is not, no larger K is tried (tracing K copies costs
    more than K times one copy's tracing).
    """
    hp = kt.HyperParameters()
    trainer.losses(hp)  # declared: every hyperparameter at its default, no taps
    steps = 2 * trainer.assembly.steps_per_execution
    best, best_rate = 1, 0.0
    for k in candidates:
        seconds = _timed_epoch(trainer, hp, k, x, y, batch_size, steps)
        rate = k / seconds
        logger.info("pack %d: %.3f s for %d steps (%.1f trial-steps per second)",
                    k, seconds, steps, rate * steps)
        if rate <= best_rate * (1 + AUTO_MARGIN):
            break
        best, best_rate = k, rate
    return best


def _timed_epoch(trainer: Trainer, hp: kt.HyperParameters, k: int, x: Any,
                 y: Any, batch_size: int, steps: int) -> float:
    """The seconds of a second epoch of `steps` steps with K copies (1: unpacked)."""
    rows = steps * batch_size
    x = keras.tree.map_structure(lambda a: a[:rows], x)
    y = keras.tree.map_structure(lambda a: a[:rows], y)
    if k == 1:
        model = trainer.model(hp, seed=0)
        data = routing.batched(x, trainer.router(list(model.output_names))(y), batch_size,
                               shuffle_seed=0)
    else:
        packed = trainer.packs.get(k)
        model = packed.model
        data = routing.packed_batches(x, trainer.router(packed.output_names)(y),
                                      batch_size, [0] * k)
    times = _EpochTimes()
    model.fit(data, epochs=2, verbose=0, callbacks=[times], shuffle=False)
    if k == 1:
        trainer.models.trained(model)
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
        import jax  # backend-specific: only the running backend need be installed

        return jax.devices()[0].platform != "cpu"
    if backend == "torch":
        import torch  # backend-specific, as above

        return torch.cuda.is_available()
    if backend == "tensorflow":
        import tensorflow as tf  # backend-specific, as above

        return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    return False


def available_memory() -> float:
    """Bytes available to new arrays: the accelerator's free memory, else the host's."""
    if keras.backend.backend() == "jax":
        import jax  # backend-specific: only the running backend need be installed

        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not Linux: assume it fits
        return math.inf
