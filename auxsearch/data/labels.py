"""Label checks for the API: the labels `fit()` gets, refused as the CLI refuses them.

The CLI checks a data file before its first trial (`checks`); a search run
through the API hands `fit()` whatever the user passed, and labels unfit
for the task used to fail every trial inside Keras. `prepare_labels` and
`prepare_validation` give the API the same one-line refusals, raised as
`DataError` before any training, plus the one thing the API converts:
one-hot labels of a multiclass task become integer labels (their argmax),
which sparse categorical cross-entropy, the task's loss, trains on exactly
as categorical cross-entropy does on the one-hot rows; so do one-hot masks
of a per-position task, and a mask's trailing axis of 1 is dropped.

Labels that need no conversion are returned as given (the same object): a
search over large arrays never copies them here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from auxsearch.core import names
from auxsearch.core.errors import DataError
from auxsearch.core.tasks import Task
from auxsearch.data.checks import check_length, check_numeric, check_y, one_hot_classes

log = logging.getLogger(__name__)



def prepare_labels(task: Task, y: Any, *, x: Any = None, units: int | None = None,
                   where: str = "fit", positions: tuple[int | None, ...] | None = None,
                   ignore_label: int | None = None, name: str = "y") -> Any:
    """Checks the labels of `fit(x, y)` for `task`; converts one-hot ones.

    Multiclass one-hot labels, `(n, K)` with a single 1 per row, become
    int32 class labels `(n,)` (their argmax), logged once at INFO. Other
    labels are checked and returned as given. Only the main labels are
    checked: in a dict `{"main": labels, "hint/<layer>": targets}` the hint
    targets pass through unchanged (and a dict without "main" is left to
    the label routing to refuse).

    Nothing is checked, and `y` is returned unchanged, when `y` is `None`
    or not an array (a `tf.data.Dataset`, a `PyDataset` or a generator):
    the labels then come in `x`'s batches, which only training reads.

    Args:
        task: The `Task` from `TASKS` the model is trained for.
        y: The labels: an array, a list, a tensor, or a dict of them.
        x: The features, to check one label per example: an array, or a
            list, tuple or dict of arrays (the first is compared). `None`
            (or a dataset) skips that check.
        units: Integer, the width of the model's main output: its classes
            (multiclass), 1 (binary) or its targets (regression). `None`
            skips the checks that need it (any one-hot width is taken).
        where: What the data is called in errors. Defaults to "fit".
        positions: Per position (segmentation), the main output's position
            axes, `(H, W)` or `(T,)` (None: any size); `None` skips the
            shape check.
        ignore_label: Per position, the label that counts in no loss.
        name: What the labels are called in errors. Defaults to "y".

    Returns:
        `y`, or a copy of it with the one-hot labels converted (a dict
        stays a dict; the user's is not modified).

    Raises:
        DataError: One line naming the labels, what they are and what to
            pass: strings, NaN or inf, no rows, a row count other than
            x's, labels outside the model's classes or not 0/1, a width
            the model's output does not have.
    """
    return _prepare(task, y, x, units, where, name, "x", positions, ignore_label)


def prepare_validation(task: Task, validation_data: Any, *, units: int | None = None,
                       where: str = "fit", positions: tuple[int | None, ...] | None = None,
                       ignore_label: int | None = None) -> Any:
    """Checks `fit()`'s `validation_data` as `prepare_labels` checks `y`.

    A tuple `(x_val, y_val)` or `(x_val, y_val, sample_weight)` has its
    labels checked (as `y_val`, against `x_val`'s rows) and converted;
    `None` or a dataset is returned unchanged.

    Args:
        task: The `Task` from `TASKS` the model is trained for.
        validation_data: What `fit()` got as `validation_data`.
        units: Integer, the width of the model's main output (see
            `prepare_labels`), or `None`.
        where: What the data is called in errors. Defaults to "fit".
        positions, ignore_label: As `prepare_labels` takes them.

    Returns:
        `validation_data`, or a tuple with its labels converted.

    Raises:
        DataError: If the tuple has other than 2 or 3 items, or its labels
            are unfit (see `prepare_labels`).
    """
    if not isinstance(validation_data, (tuple, list)):
        return validation_data
    if len(validation_data) not in (2, 3):
        raise DataError(f"{where}: validation_data has {len(validation_data)} items; pass "
                        "(x_val, y_val) or (x_val, y_val, sample_weight)")
    x, y, *rest = validation_data
    labels = _prepare(task, y, x, units, where, "y_val", "x_val", positions, ignore_label)
    return validation_data if labels is y else (x, labels, *rest)


def _prepare(task: Task, y: Any, x: Any, units: int | None, where: str, name: str,
             x_name: str, positions: tuple[int | None, ...] | None = None,
             ignore_label: int | None = None) -> Any:
    if isinstance(y, Mapping):
        if names.MAIN not in y:
            return y  # routing names the keys it takes
        main = _prepare(task, y[names.MAIN], x, units, where, name, x_name, positions,
                        ignore_label)
        return y if main is y[names.MAIN] else {**y, names.MAIN: main}
    if not _is_array(y):
        return y
    try:
        labels = np.asarray(y)  # no copy of an array
    except ValueError as err:  # NumPy refuses ragged lists
        raise DataError(f"{where}: {name} has rows of different lengths; pass "
                        f"{task.labels}") from err
    if labels.ndim and not len(labels):
        raise DataError(f"{where}: {name} is empty; pass at least one example")
    first = _first_input(x, x_name)
    if first is not None:
        check_length(where, first[0], first[1], name, labels)
    if task.positions:
        return _masks(task, y, labels, units, where, name, positions, ignore_label)
    if task.one_hot and labels.ndim >= 2 and labels.shape[1:] != (1,):
        return _from_one_hot(labels, units, where, name)
    checked = check_y(labels, task.name, where, name)  # dtype, NaN, shape, values
    if task.one_hot and units is not None:
        out = np.flatnonzero(checked >= units)
        if out.size:
            raise DataError(f"{where}: {name} has label {labels.ravel()[out[0]]} at index "
                            f"{out[0]}, but the model has {units} classes; pass integer "
                            f"labels 0..{units - 1}")
    if not task.classes and units is not None:
        width = 1 if checked.ndim == 1 else checked.shape[1]
        if width != units:
            # Keras would broadcast (n,) or (n, 1) against (n, units): a wrong loss, no error.
            raise DataError(f"{where}: {name} has targets of shape {labels.shape}, but the "
                            f"model outputs {units} values per example; pass targets of "
                            f"shape (n, {units})")
    return y


def _masks(task: Task, y: Any, labels: np.ndarray, units: int | None, where: str, name: str,
           positions: tuple[int | None, ...] | None, ignore_label: int | None) -> Any:
    """Per-position labels checked against the output's positions and classes.

    A one-hot mask (the output's rank, `units` wide) becomes its classes; a
    trailing axis of 1 is dropped; the rest is `checks.check_y`'s (integers,
    integral floats cast). Labels outside 0..K-1 other than `ignore_label`,
    and masks of other positions than the output's, are refused.
    """
    given = labels
    shape = f"(n, {', '.join('?' if d is None else str(d) for d in positions)})" if (
        positions is not None) else "(n, H, W) or (n, T)"
    if positions is not None and labels.ndim == len(positions) + 2:
        if labels.shape[-1] == 1:
            labels = labels[..., 0]
        elif units is not None and labels.shape[-1] == units:
            labels = one_hot_classes(check_numeric(labels, where, name), where, name,
                                     f"pass class masks {shape} or one-hot ones")
        else:
            raise DataError(f"{where}: {name} has shape {labels.shape}; the model outputs "
                            f"{units} classes per position: pass class masks {shape}, or "
                            f"one-hot masks of {units} classes")
    checked = check_y(labels, task.name, where, name)  # integers, (n, H, W) or (n, T)
    if positions is not None and (checked.ndim != len(positions) + 1 or any(
            want is not None and want != got for want, got in zip(positions, checked.shape[1:]))):
        raise DataError(f"{where}: {name} has masks of shape {checked.shape[1:]}, but the "
                        f"model's output has positions {tuple(positions)}; pass masks {shape} "
                        "at the output's resolution, one class per position")
    if units is not None:
        k = max(units, 2)
        outside = (checked < 0) | (checked >= k)
        if ignore_label is not None:
            outside &= checked != ignore_label
        bad = np.flatnonzero(outside)
        if bad.size:
            index = tuple(int(i) for i in np.unravel_index(bad[0], checked.shape))
            ignored = ("" if ignore_label is None
                       else f" or the ignore label {ignore_label}")
            hint = "" if ignore_label is not None else " (or set ignore_label)"
            raise DataError(f"{where}: {name} has label {checked[index]} at index {index}, but "
                            f"the model has {k} classes; pass labels 0..{k - 1}{ignored}{hint}")
    # As given unless reshaped: Keras casts integral floats itself, and arrays are not copied.
    return y if labels is given else checked


def _from_one_hot(labels: np.ndarray, units: int | None, where: str, name: str) -> np.ndarray:
    """Class labels of one-hot rows `(n, K)`, or a refusal of anything else 2-D or more."""
    classes = f"0..{units - 1}" if units else "0..K-1"
    one_hot = f"one-hot labels of width {units}" if units else "one-hot labels (n, K)"
    allowed = f"pass integer labels {classes}, shape (n,), or {one_hot}"
    if labels.ndim > 2:
        raise DataError(f"{where}: {name} has shape {labels.shape}; {allowed}")
    rows = check_numeric(labels, where, name)  # numbers, finite
    width = rows.shape[1]
    not_binary = (rows != 0) & (rows != 1)
    ones = np.count_nonzero(rows == 1, axis=1)
    bad = np.flatnonzero(not_binary.any(axis=1) | (ones != 1))
    if units is not None and width != units:
        given = (f"one-hot labels of {width} columns" if not bad.size
                 else f"shape {labels.shape}")
        raise DataError(f"{where}: {name} has {given}, but the model has {units} classes; "
                        f"{allowed}")
    if bad.size:
        row = bad[0]
        if not_binary[row].any():
            column = int(np.flatnonzero(not_binary[row])[0])
            found = f"{labels[row, column]} in column {column}"
        else:
            found = f"{ones[row]} ones"
        raise DataError(f"{where}: {name} row {row} has {found}, so it is not one-hot (a "
                        f"single 1 per row); {allowed}")
    log.info("%s: %s has one-hot labels of %d columns; training on their argmax, integer "
             "labels (the same loss)", where, name, width)
    return rows.argmax(axis=1).astype("int32")


def _is_array(y: Any) -> bool:
    """Whether `y` holds the labels itself (not a dataset, a generator or None)."""
    return isinstance(y, (np.ndarray, list, tuple)) or hasattr(y, "__array__")


def _first_input(x: Any, x_name: str) -> tuple[str, Any] | None:
    """The name and array of the first of the features, or `None` if not arrays."""
    if isinstance(x, Mapping) and x:
        key, first = next(iter(x.items()))
        return (f"{x_name}/{key}", first) if _is_array(first) else None
    if isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape"):
        return f"{x_name}[0]", x[0]  # several inputs
    if isinstance(x, (np.ndarray, list, tuple)) or hasattr(x, "__array__"):
        return x_name, x
    return None
