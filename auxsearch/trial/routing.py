"""Label routing: the labels of every output of a trial model.

A search runs with plain labels, as any Keras model does; a trial model has
one output per auxiliary loss as well. Heads get the labels, penalties
zeros (they use none), hints their own targets. Arrays become a batched,
seeded input pipeline: `tf.data` on the TensorFlow backend, a Keras
`PyDataset` on the others (so that JAX and PyTorch never need TensorFlow);
datasets are mapped the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from auxsearch.core import names
from auxsearch.core.errors import DataError
from auxsearch.core.tapspace import Variant

# Evaluation keeps no activations for a backward pass: fewer, larger batches.
VALIDATION_BATCH = 512


def validation_batch(batch_size: int) -> int:
    """The examples per validation (and prediction) batch of a fit with `batch_size`."""
    return max(batch_size, VALIDATION_BATCH)


def targets(
    y: Any, output_names: list[str], structure: list[Variant], hint_layers: tuple[str, ...]
) -> dict[str, Any]:
    """Returns the labels of each of a trial model's outputs.

    Works on arrays and on the batches of an input pipeline.

    Args:
        y: The labels, or a dict `{"main": labels, "hint/<layer>": targets}`.
        output_names: The model's outputs.
        structure: The auxiliary outputs the model was assembled with.
        hint_layers: The layers that have hint targets.

    Raises:
        DataError: If `y` is a dict with other keys, or a hint has no targets.
    """
    hints: dict[str, Any] = {}
    if isinstance(y, dict):
        allowed = {names.MAIN} | {names.HINT_KEY + layer for layer in hint_layers}
        if set(y) - allowed or names.MAIN not in y:
            raise DataError(
                f"y must be the labels, or a dict with keys {sorted(allowed)}; "
                f"got keys {sorted(y)}")
        hints, y = y, y[names.MAIN]
    kinds = {names.output_name(*variant): variant for variant in structure}
    labels = keras.ops.convert_to_tensor(y)  # one tensor, shared by the heads
    out = {}
    for name in output_names:
        layer, kind, _ = kinds.get(name, (None, "head", 0))
        if kind == "penalty":
            out[name] = keras.ops.zeros((keras.ops.shape(labels)[0],))
        elif kind == "hint":
            if names.HINT_KEY + layer not in hints:
                raise DataError(
                    f"the hint on {layer!r} needs targets: pass y as a dict "
                    f"with a '{names.HINT_KEY}{layer}' array")
            out[name] = hints[names.HINT_KEY + layer]
        else:
            out[name] = labels
    return out


def batched(x: Any, routed: dict[str, Any], batch_size: int, shuffle_seed: int | None) -> Any:
    """Returns arrays as batches of `(x, routed)`, reshuffled every epoch.

    On the TensorFlow backend a `tf.data.Dataset`; on the others an
    `ArrayBatches` (a Keras `PyDataset`), which needs no TensorFlow. Both are
    deterministic per seed; their batch orders differ from each other.

    Args:
        x: The features: an array, or a list, tuple or dict of arrays (a
            model with several inputs).
        routed: The labels of each output, from `targets`.
        batch_size: Integer, examples per batch.
        shuffle_seed: Integer seed of a reshuffle every epoch, or `None` to
            keep the order.
    """
    if keras.backend.backend() != "tensorflow":
        return ArrayBatches(x, routed, batch_size, shuffle_seed)
    import tensorflow as tf  # backend-specific: only with the TensorFlow backend

    # Several inputs: a tuple (tf.data would stack a list) or a dict by name.
    x = tuple(x) if isinstance(x, list) else x
    # Labels are routed before slicing: a `map` would be traced anew per call.
    data = tf.data.Dataset.from_tensor_slices((x, routed))
    if shuffle_seed is not None:
        data = data.shuffle(num_examples(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class ArrayBatches(keras.utils.PyDataset):
    """Batches of `(x, y)` sliced from arrays, in a seeded order per epoch.

    The input pipeline of the backends other than TensorFlow. Each epoch's
    order is the next permutation of a NumPy `Generator` seeded with
    `shuffle_seed`, so a fit sees the same batches whatever ran before it.
    Batches are sliced in the training loop's thread (Keras' default for a
    `PyDataset`: no worker threads or processes).

    Args:
        x: An array, or a list, tuple or dict of arrays (kept as given).
        y: The labels, in any structure of arrays (e.g. `targets`' dict).
        batch_size: Integer, examples per batch (the last one may be short).
        shuffle_seed: Integer seed, or `None` to keep the order.
    """

    def __init__(self, x: Any, y: Any, batch_size: int, shuffle_seed: int | None) -> None:
        super().__init__()
        host: dict[int, np.ndarray] = {}  # heads share one label tensor: copy it once

        def to_numpy(value: Any) -> np.ndarray:
            if id(value) not in host:
                host[id(value)] = keras.ops.convert_to_numpy(value)
            return host[id(value)]

        self.x = keras.tree.map_structure(to_numpy, x)
        self.y = keras.tree.map_structure(to_numpy, y)
        self.size = num_examples(self.x)
        self.batch_size = batch_size
        self._generator = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        self._order = self._next_order()

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        window = slice(index * self.batch_size, (index + 1) * self.batch_size)
        if self._order is None:
            def take(array: np.ndarray) -> np.ndarray:
                return array[window]
        else:
            rows = self._order[window]

            def take(array: np.ndarray) -> np.ndarray:
                return array[rows]
        return keras.tree.map_structure(take, self.x), keras.tree.map_structure(take, self.y)

    def on_epoch_end(self) -> None:
        self._order = self._next_order()

    def _next_order(self) -> np.ndarray | None:
        return None if self._generator is None else self._generator.permutation(self.size)


def packed_batches(
    x: Any, routed: dict[str, Any], batch_size: int, seeds: list[int | None]
) -> Any:
    """Returns the batches of a packed model (see `packed`): one stream per copy.

    Copy i sees the batches `batched(x, routed, batch_size, seeds[i])` would
    give, in the same order (on TensorFlow, the permutation of the rows'
    indices is the one `tf.data` gives the rows themselves), under the names
    `names.packed_input(i, j)` and `names.packed_output(i, output)`. The
    arrays are held once, whatever the number of copies.

    Args:
        x: The features: an array, or a list, tuple or dict of arrays.
        routed: The labels of each output of one copy, from `targets`.
        batch_size: Integer, examples per batch.
        seeds: Each copy's shuffle seed, or `None` to keep the order.
    """
    if keras.backend.backend() != "tensorflow":
        return PackedBatches(x, routed, batch_size, seeds)
    import tensorflow as tf  # backend-specific: only with the TensorFlow backend

    size = num_examples(x)
    features = [tf.convert_to_tensor(a) for a in keras.tree.flatten(x)]
    labels = {name: tf.convert_to_tensor(y) for name, y in routed.items()}
    streams = []
    for seed in seeds:
        rows = tf.data.Dataset.range(size)
        if seed is not None:
            rows = rows.shuffle(size, seed=seed, reshuffle_each_iteration=True)
        streams.append(rows.batch(batch_size))

    def gather(*rows: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return ({names.packed_input(i, j): tf.gather(a, r)
                 for i, r in enumerate(rows) for j, a in enumerate(features)},
                {names.packed_output(i, name): tf.gather(y, r)
                 for i, r in enumerate(rows) for name, y in labels.items()})

    data = tf.data.Dataset.zip(tuple(streams)).map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


class PackedBatches(keras.utils.PyDataset):
    """`packed_batches` on the backends other than TensorFlow: one `ArrayBatches` per copy."""

    def __init__(self, x: Any, routed: dict[str, Any], batch_size: int,
                 seeds: list[int | None]) -> None:
        super().__init__()
        self.parts = [ArrayBatches(x, routed, batch_size, seed) for seed in seeds]

    def __len__(self) -> int:
        return len(self.parts[0])

    def __getitem__(self, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
        features, labels = {}, {}
        for i, part in enumerate(self.parts):
            x, y = part[index]
            features.update({names.packed_input(i, j): a
                             for j, a in enumerate(keras.tree.flatten(x))})
            labels.update({names.packed_output(i, name): v for name, v in y.items()})
        return features, labels

    def on_epoch_end(self) -> None:
        for part in self.parts:
            part.on_epoch_end()


def fit_inputs(
    x: Any, y: Any, route: Callable[[Any], dict[str, Any]], batch_size: int,
    shuffle_seed: int, kwargs: dict[str, Any],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Returns the data arguments and keyword arguments of a trial's `fit`.

    Arrays become a dataset batched with `batch_size` and, unless `kwargs`
    says `shuffle=False`, reshuffled every epoch from `shuffle_seed`. A
    dataset, or a `validation_split`, is left to Keras to batch and shuffle.

    Args:
        x: The features, or a dataset of `(x, y)`.
        y: The labels (see `targets`), unless `x` is a dataset.
        route: Routes labels to every output (`targets` with the model's).
        batch_size: Integer, examples per batch.
        shuffle_seed: Integer, the seed of the batch order.
        kwargs: The other keyword arguments of `fit` (not modified).
    """
    kwargs = dict(kwargs)
    if is_dataset(x) or "validation_split" in kwargs:
        kwargs.setdefault("shuffle", not is_dataset(x))
        if not is_dataset(x):
            kwargs["batch_size"] = batch_size
        return route_labels(x, y, route), kwargs
    seed = shuffle_seed if kwargs.pop("shuffle", True) else None
    kwargs["shuffle"] = False  # the dataset shuffles itself
    return (batched(x, route(y), batch_size, shuffle_seed=seed),), kwargs


def route_labels(x: Any, y: Any, route: Callable[[Any], dict[str, Any]]) -> tuple[Any, ...]:
    """Returns fit's `(x, y)` with `y` routed to every output by `route`.

    A `tf.data.Dataset` or a Keras `PyDataset` of `(x, y)` or `(x, y,
    sample_weight)` elements is mapped the same way.
    """
    if isinstance(x, keras.utils.PyDataset):
        return (RoutedBatches(x, route),)
    if is_dataset(x):
        return (x.map(lambda features, labels, *rest: (features, route(labels), *rest)),)
    return x, route(y)


class RoutedBatches(keras.utils.PyDataset):
    """A user's `PyDataset` of `(x, y[, sample_weight])` with `y` routed.

    Args:
        data: The user's dataset (its workers and queue settings are kept).
        route: Routes one batch's labels to every output.
    """

    def __init__(self, data: keras.utils.PyDataset, route: Callable[[Any], dict[str, Any]]) -> None:
        super().__init__(workers=data.workers, use_multiprocessing=data.use_multiprocessing,
                         max_queue_size=data.max_queue_size)
        self.data, self.route = data, route

    def __len__(self) -> int:
        return len(self.data)

    @property
    def num_batches(self) -> int | None:
        return self.data.num_batches

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        features, labels, *rest = self.data[index]
        return (features, self.route(labels), *rest)

    def on_epoch_begin(self) -> None:
        self.data.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.data.on_epoch_end()


def route_validation(data: Any, route: Callable[[Any], dict[str, Any]], batch_size: int) -> Any:
    """Returns fit's `validation_data` with its labels routed (arrays batched)."""
    if data is None:
        return None
    if is_dataset(data):
        return route_labels(data, None, route)[0]
    x, y, *rest = data
    if rest:  # sample weights: let Keras batch them
        return (*route_labels(x, y, route), *rest)
    return batched(x, route(y), batch_size, shuffle_seed=None)


def first_example(x: Any, y: Any, route: Callable[[Any], dict[str, Any]],
                  copies: int = 0) -> tuple[Any, Any] | None:
    """The first example of arrays, as a batch of one that `fit` would read.

    Args:
        x, y: The features and labels, as `fit_inputs` takes them.
        route: Routes labels to every output (`targets` with the model's).
        copies: The copies of a packed model (`packed_batches`' batches), or
            0 for a trial model (`batched`'s).

    Returns:
        `(x, y)` of one example, or `None` if `x` is a dataset (reading one
        could cost a shuffle buffer's worth).
    """
    if is_dataset(x):
        return None
    x, y = (keras.tree.map_structure(lambda a: a[:1], data) for data in (x, y))
    data = (packed_batches(x, route(y), 1, [None] * copies) if copies
            else batched(x, route(y), 1, shuffle_seed=None))
    return data[0] if isinstance(data, keras.utils.PyDataset) else next(iter(data))


def num_examples(x: Any) -> int:
    """The number of examples of the features: one array, or several."""
    if isinstance(x, dict):
        x = list(x.values())
    return len(x[0]) if isinstance(x, (list, tuple)) else len(x)


def is_dataset(data: Any) -> bool:
    """Whether `data` is a `tf.data.Dataset` or a Keras `PyDataset`.

    Never imports TensorFlow: a `tf.data.Dataset` exists only once
    TensorFlow has been imported.
    """
    if isinstance(data, keras.utils.PyDataset):
        return True
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(data, tf.data.Dataset)


def main_labels(y: Any) -> Any:
    """Returns the main output's labels of `y` (plain labels, or a dict)."""
    return y[names.MAIN] if isinstance(y, dict) else y
