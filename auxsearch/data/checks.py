"""Data checks: whether arrays are fit for a task, and their training dtypes.

Every refusal is a one-line `DataError` naming the data (`where`, the file),
the array as the `.npz` layout names it (`x_train`, `x_val/<input>`,
`hint/<layer>`, ...) and the problem. What labels must be comes from the task
table (`auxsearch.core.tasks.TASKS`): whether they are class indices, and their
dtype. Named inputs are checked one by one, as arrays of their own.
`check_inputs` is the one check that needs the model: whether it takes the
data's inputs (given as plain names and shapes: no Keras here).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from auxsearch.core.errors import DataError
from auxsearch.core.suggest import did_you_mean
from auxsearch.core.tasks import TASKS
from auxsearch.data.dataset import Dataset, Inputs, named_inputs
from auxsearch.data.readers import HINT, HINT_VAL

log = logging.getLogger(__name__)

_NUMERIC = "biuf"  # bool, signed, unsigned, float: what casts to float32

# Class labels: which values are wrong for a task, and what they must be.
_BAD_LABELS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    "binary": (lambda y: (y != 0) & (y != 1), "0 or 1"),
    "multiclass": (lambda y: (y != np.round(y)) | (y < 0), "integers 0..K-1"),
    # Any integer here: an ignore label (255, -1) is checked with the model's classes.
    "segmentation": (lambda y: y != np.round(y), "integers 0..K-1 (or the ignore label)"),
}


def check_dataset(data: Dataset, where: str) -> Dataset:
    """Checks a data set is fit for its task, and casts it for training.

    x and hints become float32; multiclass y int32 of shape `(n,)`; binary y
    float32 0/1 of shape `(n,)`; regression y float32 `(n,)` or `(n, d)`;
    segmentation y int32 masks `(n, H, W)` or `(n, T)` (see `check_y`), with
    at least two classes besides `data.ignore_label` in training.

    Args:
        data: The `Dataset` to check.
        where: What the data is called in errors (the file).

    Returns:
        The cast `Dataset`.

    Raises:
        DataError: One line naming `where`, the array and the problem.
    """
    check_task(data.task, where)
    cast = {}
    for part, split_name in (("train", "train"), ("val", "validation"),
                             ("test", "test")):
        x_name, y_name = f"x_{part}", f"y_{part}"
        x = cast[x_name] = check_xs(getattr(data, x_name), where, x_name)
        y = cast[y_name] = check_y(getattr(data, y_name), data.task, where, y_name)
        first_name, first = named_inputs(x, x_name)[0]
        check_length(where, first_name, first, y_name, y)
        if part != "test" and not len(y):
            raise DataError(f"{where}: {x_name} is empty; the {split_name} "
                            "split needs at least one example")
        if part != "train" and len(y):
            _check_same_inputs(where, cast["x_train"], x, x_name)
            for (name, array), (other_name, other) in zip(
                    named_inputs(cast["x_train"], "x_train"), named_inputs(x, x_name)):
                _check_trailing(where, name, array, other_name, other)
            _check_trailing(where, "y_train", cast["y_train"], y_name, y)
    if data.task in _COVERAGE:
        _COVERAGE[data.task](cast, data.ignore_label, where)
    hints = {}
    train_name, train_x = named_inputs(cast["x_train"], "x_train")[0]
    val_name, val_x = named_inputs(cast["x_val"], "x_val")[0]
    for layer, (train, val) in data.hints.items():
        train = check_numeric(train, where, HINT + layer)
        val = check_numeric(val, where, HINT_VAL + layer)
        check_length(where, train_name, train_x, HINT + layer, train)
        check_length(where, val_name, val_x, HINT_VAL + layer, val)
        _check_trailing(where, HINT + layer, train, HINT_VAL + layer, val)
        hints[layer] = (train, val)
    checked = dataclasses.replace(data, **cast, hints=hints)
    log.info("%s: %s, %d train, %d val, %d test examples of shape %s", where,
             data.task, len(cast["y_train"]), len(cast["y_val"]),
             len(cast["y_test"]), checked.input_shape)
    return checked


def check_task(task: str, where: str) -> None:
    """Refuses a task that is not in the task table."""
    if not isinstance(task, str) or task not in TASKS:  # a list is unhashable
        raise DataError(f"{where}: task = {task!r} is not allowed"
                        f"{did_you_mean(task, TASKS)}; allowed: {', '.join(TASKS)}")


def check_numeric(array: np.ndarray, where: str, name: str) -> np.ndarray:
    """Returns `array` as float32, or refuses it if not finite numbers."""
    array = np.asarray(array)
    if array.dtype.kind not in _NUMERIC:
        raise DataError(f"{where}: {name} has dtype {array.dtype}; it must be "
                        "numeric (bool, int or float)")
    if array.ndim == 0:
        raise DataError(f"{where}: {name} is a scalar; it must have one row "
                        "per example")
    array = array.astype("float32", copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise DataError(f"{where}: {name} has {array[index]} at index "
                        f"{index if len(index) > 1 else index[0]}; all values "
                        "must be finite (no NaN or inf)")
    return array


def check_x(array: np.ndarray, where: str, name: str) -> np.ndarray:
    """Returns inputs as float32, one example per row, or refuses them."""
    array = check_numeric(array, where, name)
    if array.ndim < 2:
        raise DataError(f"{where}: {name} has shape {array.shape}; it must be "
                        "(examples, features...), one example per row")
    return array


def check_xs(x: Inputs, where: str, name: str) -> Inputs:
    """Checks one split's inputs, each as `check_x`, and casts them.

    Args:
        x: One array, or named inputs `{input name: array}`.
        where: What the data is called in errors (the file).
        name: What the split's x is called: `x_train` (an input:
            `x_train/<input>`).

    Returns:
        The inputs as float32, as given (array or dict, in its order).

    Raises:
        DataError: An input is unfit, or the inputs differ in rows.
    """
    if not isinstance(x, Mapping):
        return check_x(x, where, name)
    if not x:
        raise DataError(f"{where}: {name} has no inputs; give one array, or "
                        "one array per input")
    for key in x:
        if not isinstance(key, str) or not key:
            raise DataError(f"{where}: {name} has an input named {key!r}; "
                            "input names must be non-empty strings")
    cast = {key: check_x(array, where, f"{name}/{key}") for key, array in x.items()}
    (first_name, first), *others = named_inputs(cast, name)
    for other_name, other in others:
        check_length(where, first_name, first, other_name, other)
    return cast


def check_inputs(
    data: Dataset,
    model_input_names: Sequence[str],
    model_input_shapes: Mapping[str, Sequence[int | None]] | Sequence[Sequence[int | None]],
    where: str = "",
) -> None:
    """Refuses data that a model cannot take: input count, names or shapes.

    One plain input takes any model with one input, whatever its name;
    named inputs (`x_train/<input>`) must be the model's inputs by name.

    Args:
        data: The checked `Dataset`.
        model_input_names: The model's input names, in its order.
        model_input_shapes: Their shapes with the batch axis first, as Keras
            gives them (`(None, 64)`), by name or in the order of the names.
            A None dimension takes any size; the rank must match.
        where: What the data is called in errors (the file); "" for none.

    Raises:
        DataError: One line: "model input 'image' (None, 64) does not take
            data of shape (28, 28)", "x_train/imag is not an input of the
            model ...", or "the model has 2 inputs (a, b); the data has 1 ...".
    """
    prefix = f"{where}: " if where else ""
    names = [str(name) for name in model_input_names]
    shapes = (dict(model_input_shapes) if isinstance(model_input_shapes, Mapping)
              else dict(zip(names, model_input_shapes)))
    data_names = data.input_names
    count = 1 if data_names is None else len(data_names)
    if len(names) != count:
        plural = "input" if len(names) == 1 else "inputs"
        if data_names is None:
            given = "1 (give x_train/<input> arrays for each)"
        else:
            given = (f"{count} ({', '.join('x_train/' + n for n in data_names)}); "
                     "give an x_train/<input> array for each model input")
        raise DataError(f"{prefix}the model has {len(names)} {plural} "
                        f"({', '.join(names)}); the data has {given}")
    if data_names is None:
        _check_shape(prefix, "model input", shapes[names[0]], data.input_shape)
        return
    for name in data_names:
        if name not in names:
            raise DataError(f"{prefix}x_train/{name} is not an input of the "
                            f"model{did_you_mean(name, names)}; the model's "
                            f"inputs: {', '.join(names)}")
    for name in names:
        _check_shape(prefix, f"model input {name!r}", shapes[name],
                     data.input_shape[name])


def check_y(array: np.ndarray, task: str, where: str, name: str) -> np.ndarray:
    """Checks labels for `task` (all but class coverage) and casts them."""
    raw = np.asarray(array)
    if raw.dtype.kind not in _NUMERIC:
        raise DataError(f"{where}: {name} has dtype {raw.dtype}; {task} "
                        "labels must be numbers")
    y = check_numeric(raw, where, name)
    rules = TASKS[task]
    if rules.positions:
        return _check_masks(raw, y, task, where, name)
    if not rules.classes:  # targets: any finite numbers, one row per example
        if y.ndim > 2:
            raise DataError(f"{where}: {name} has shape {y.shape}; {task} "
                            "targets must be (n,) or (n, outputs)")
        return y.astype(rules.label_dtype, copy=False)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{where}: {name} has shape {y.shape}; {task} labels "
                        "must be (n,), one label per example (class indices, "
                        "not one-hot)")
    wrong, allowed = _BAD_LABELS[task]
    bad = np.flatnonzero(wrong(y))
    if bad.size:
        raise DataError(f"{where}: {name} has label {raw.ravel()[bad[0]]} at "
                        f"index {bad[0]}; {task} labels must be {allowed}")
    return y.astype(rules.label_dtype, copy=False)


def _check_masks(raw: np.ndarray, y: np.ndarray, task: str, where: str,
                 name: str) -> np.ndarray:
    """Per-position labels: `(n, H, W)`, `(n, H, W, 1)` or `(n, T)` integers.

    Integral floats are cast; `(n, H, W, K)` one-hot masks become their
    classes. A one-hot sequence `(n, T, K)` cannot be told from a mask
    here: the API's label checks (`labels`) take it as classes against
    the model's output.
    """
    allowed = (f"{task} labels must be integer class masks (n, H, W) or (n, H, W, 1), "
               "or (n, T) per step, or one-hot (n, H, W, K)")
    if y.ndim == 4 and y.shape[-1] == 1:
        y, raw = y[..., 0], raw[..., 0]
    elif y.ndim == 4:
        y = raw = one_hot_classes(y, where, name, allowed)
    if y.ndim not in (2, 3):
        raise DataError(f"{where}: {name} has shape {y.shape}; {allowed}")
    wrong, rule = _BAD_LABELS[task]
    bad = np.argwhere(wrong(y))
    if bad.size:
        index = tuple(int(i) for i in bad[0])
        raise DataError(f"{where}: {name} has label {raw[index]} at index {index}; {task} "
                        f"labels must be {rule}, one class per position (no soft or "
                        "resized masks: resize masks by nearest neighbour)")
    return y.astype(TASKS[task].label_dtype, copy=False)


def one_hot_classes(y: np.ndarray, where: str, name: str, allowed: str) -> np.ndarray:
    """The classes (argmax) of one-hot vectors on the last axis, or a refusal.

    Raises:
        DataError: A vector with a value other than 0 and 1, or not one 1.
    """
    bad = np.argwhere(((y != 0) & (y != 1)).any(axis=-1)
                      | (np.count_nonzero(y == 1, axis=-1) != 1))
    if bad.size:
        index = tuple(int(i) for i in bad[0])
        raise DataError(f"{where}: {name} at {index} is not one-hot (a single 1 among "
                        f"{y.shape[-1]} classes); {allowed}")
    return y.argmax(axis=-1).astype("int32")


def check_length(where: str, x_name: str, x: np.ndarray, name: str,
                 other: np.ndarray) -> None:
    """Refuses `other` unless it has one row per row of `x`."""
    if np.ndim(other) == 0 or len(other) != len(x):
        rows = len(other) if np.ndim(other) else "no"
        raise DataError(f"{where}: {name} has {rows} rows but {x_name} has "
                        f"{len(x)}; they must match, one per example")


def _check_both(arrays: dict[str, np.ndarray], ignore_label: int | None, where: str) -> None:
    """Binary training labels hold both 0 and 1."""
    if len(np.unique(arrays["y_train"])) < 2:
        raise DataError(f"{where}: y_train has only label "
                        f"{int(arrays['y_train'][0])}; binary needs both 0 and 1")


def _check_classes(arrays: dict[str, np.ndarray], ignore_label: int | None,
                   where: str) -> None:
    """Every class 0..K-1 is in training, and val and test use no other."""
    labels = np.unique(arrays["y_train"])  # not bincount: a huge label is a bug
    k = int(labels[-1]) + 1
    if k < 2:
        raise DataError(f"{where}: y_train has only class 0; multiclass needs "
                        "labels 0..K-1 with K >= 2")
    missing = np.flatnonzero(labels != np.arange(len(labels)))
    if missing.size:
        raise DataError(f"{where}: y_train has no example of class "
                        f"{missing[0]}; labels must be 0..K-1 with every class "
                        f"in training (labels go up to {k - 1})")
    for name in ("y_val", "y_test"):
        unseen = arrays[name][arrays[name] >= k]
        if unseen.size:
            raise DataError(f"{where}: {name} has label {unseen[0]}, which "
                            f"y_train never has; labels must be 0..{k - 1}")


def _check_mask_classes(arrays: dict[str, np.ndarray], ignore_label: int | None,
                        where: str) -> None:
    """Training masks hold two classes or more besides the ignore label.

    Labels outside the model's classes are refused with the model
    (`labels.prepare_labels`, in the preflight), which knows K.
    """
    present = np.unique(arrays["y_train"])
    if ignore_label is not None:
        present = present[present != ignore_label]
    if present.size < 2:
        only = f"only class {present[0]}" if present.size else "no class"
        raise DataError(f"{where}: y_train masks have {only} besides the ignore label; "
                        "a segmentation needs two classes or more in training")


# Which classes the training labels must show, by task (after `check_y`).
_COVERAGE = {"multiclass": _check_classes, "binary": _check_both,
             "segmentation": _check_mask_classes}


def _check_trailing(where: str, name: str, array: np.ndarray, other_name: str,
                    other: np.ndarray) -> None:
    if array.shape[1:] != other.shape[1:]:
        raise DataError(f"{where}: {other_name} has examples of shape "
                        f"{other.shape[1:]} but {name} has {array.shape[1:]}; "
                        "they must match")


def _check_same_inputs(where: str, train: Inputs, x: Inputs, x_name: str) -> None:
    """A split has the inputs x_train has, by name (or is plain as it is)."""
    names = list(train) if isinstance(train, Mapping) else None
    other = list(x) if isinstance(x, Mapping) else None
    if names != other:
        def say(given: list[str] | None) -> str:
            return "one plain array" if given is None else f"inputs {', '.join(given)}"

        raise DataError(f"{where}: {x_name} has {say(other)} but x_train has "
                        f"{say(names)}; every split needs the same inputs")


def _check_shape(prefix: str, what: str, model_shape: Sequence[int | None],
                 shape: tuple[int, ...]) -> None:
    """A model input (batch axis first) takes examples of `shape`."""
    model_shape = tuple(None if dim is None else int(dim) for dim in model_shape)
    if len(model_shape) != len(shape) + 1 or any(
            want is not None and want != got
            for want, got in zip(model_shape[1:], shape)):
        raise DataError(f"{prefix}{what} {model_shape} does not take data of "
                        f"shape {tuple(shape)}")
