"""A trial's checkpoint: its best epoch's weights, in Keras' `.weights.h5` format.

A checkpoint holds the model's weights and its loss weights, not the
optimizer's state: a promotion starts with a fresh optimizer (see
`search.tuner.Hyperband.loaded_parent`), and `export-model` loads the
weights into an uncompiled model. Plain `keras.Model.load_weights` reads it.

Hyperband reads a parent's checkpoint soon after the round that wrote it,
usually in the same process. The values this process wrote are kept (up to
`MEMORY_BYTES`, the latest first), and a read of a file unchanged since then
assigns them instead of reading the file back (0.1 s a read for the default
model). A file another process rewrote (a worker's) is read from disk.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import keras
import numpy as np

MEMORY_BYTES = 256 * 2**20  # the most that the values written are kept for

# Each path written: the file's identity when written, and the values.
_written: OrderedDict[str, tuple[tuple[int, int, int] | None, list[np.ndarray]]] = OrderedDict()


def write(model: keras.Model, path: str | Path) -> None:
    """Writes a model's weights (its optimizer's state left out) as a checkpoint."""
    path = str(path)
    keras.saving.save_weights(model, path, objects_to_skip=_optimizer(model))
    _written.pop(path, None)
    values = [keras.ops.convert_to_numpy(v) for v in model.weights]
    size = sum(v.nbytes for v in values)
    if size > MEMORY_BYTES:
        return
    _written[path] = (_identity(path), values)
    while sum(v.nbytes for _, kept in _written.values() for v in kept) > MEMORY_BYTES:
        _written.popitem(last=False)


def read(model: keras.Model, path: str | Path) -> None:
    """Loads a checkpoint into a model of the architecture that wrote it.

    The model's optimizer, if any, is left as it is.
    """
    path = str(path)
    kept = _written.get(path)
    weights = model.weights
    if (kept is not None and kept[0] is not None and kept[0] == _identity(path)
            and len(kept[1]) == len(weights)
            and all(tuple(v.shape) == a.shape for v, a in zip(weights, kept[1]))):
        for variable, value in zip(weights, kept[1]):
            variable.assign(value)
        return
    keras.saving.load_weights(model, path, objects_to_skip=_optimizer(model))


def _optimizer(model: keras.Model) -> list[Any] | None:
    return [model.optimizer] if getattr(model, "optimizer", None) is not None else None


def _identity(path: str) -> tuple[int, int, int] | None:
    """What changes when another process replaces the file (`None`: it is gone)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
