"""A trial's checkpoint: its best epoch's weights, in Keras' `.weights.h5` format.

A checkpoint holds the model's weights and its loss weights, not the
optimizer's state: a promotion starts with a fresh optimizer (see
`search.tuner.Hyperband.load_checkpoint`), and `export-model` loads the
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

try:  # private Keras names, for `_cache_skipsets`; without them Keras runs as it is
    from keras.src.backend.common import global_state as _keras_state
    from keras.src.saving.saving_lib import get_attr_skipset as _skipset
except ImportError:  # another Keras
    _keras_state = _skipset = None

MEMORY_BYTES = 256 * 2**20  # the most that the values written are kept for
# The kinds of object whose attributes Keras' saving skips (`get_attr_skipset`).
_SKIPSET_KINDS = ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer", "Loss")

# Each path written: the file's identity when written, and the values.
_written: OrderedDict[str, tuple[tuple[int, int, int] | None, list[np.ndarray]]] = OrderedDict()


def write(model: keras.Model, path: str | Path) -> None:
    """Writes a model's weights (its optimizer's state left out) as a checkpoint."""
    path = str(path)
    _cache_skipsets()
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
    _cache_skipsets()
    keras.saving.load_weights(model, path, objects_to_skip=_optimizer(model))


def _cache_skipsets() -> None:
    """Makes Keras 3.15's saving build each attribute skip set once, not once per layer.

    Its `get_attr_skipset` stores a set under `saving_attr_skipset_<kind>`
    and looks under `saving_attr_skiplist_<kind>`, so every layer a save or
    load walks builds a throwaway `Layer` to list its attributes: 40% of a
    checkpoint write (58 ms against 36 ms for the default model). Storing
    each set under the key Keras reads gives the same sets, built once per
    Keras session (`clear_session` empties them: they are stored again).
    """
    if _keras_state is None:
        return
    for kind in _SKIPSET_KINDS:
        key = f"saving_attr_skiplist_{kind}"
        if _keras_state.get_global_attribute(key) is None:
            _keras_state.set_global_attribute(key, _skipset(kind))


def _optimizer(model: keras.Model) -> list[Any] | None:
    return [model.optimizer] if getattr(model, "optimizer", None) is not None else None


def _identity(path: str) -> tuple[int, int, int] | None:
    """What changes when another process replaces the file (`None`: it is gone)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
