"""Data sets: the arrays a search trains, validates and tests on.

A data set comes from a built-in name (`BUILTIN_DATA`), an `.npz` archive of
named arrays or a `.csv` table; `load_data` picks the loader. Every loader
ends in `check_dataset`, which refuses data unfit for the task with a
one-line `DataError` naming the file and the array, and casts the arrays to
the dtypes the models train on.

An `.npz` archive holds::

    x_train, y_train        required
    x_val, y_val            optional pair: split off x_train when absent
    x_test, y_test          optional pair: split off x_train when absent
    hint/<layer>            optional hint targets of a layer, one per x_train row
    hint_val/<layer>        required with x_val, one per x_val row

Split fractions are shares of the examples that get split (x_train as
stored); splits are stratified by class for classification and seeded.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.model_selection import train_test_split

from auxsearch.errors import DataError

log = logging.getLogger(__name__)

TASKS = ("multiclass", "binary", "regression")
_ACTIVATIONS = {"multiclass": "softmax", "binary": "sigmoid", "regression": "linear"}
_PAIRS = (("x_train", "y_train"), ("x_val", "y_val"), ("x_test", "y_test"))
_NPZ_KEYS = tuple(key for pair in _PAIRS for key in pair)
_HINT, _HINT_VAL = "hint/", "hint_val/"
_NUMERIC = "biuf"  # bool, signed, unsigned, float: what casts to float32


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits of a supervised task.

    Attributes:
        x_train, y_train: The arrays the trials train on.
        x_val, y_val: The arrays the objective is measured on.
        x_test, y_test: Held out: never seen by the search (may be empty).
        task: One of `TASKS`. Multiclass labels are `0 .. num_classes-1`,
            binary labels 0 or 1, regression targets `(n,)` or `(n, d)`.
        hints: Layer name -> `(train targets, val targets)`, aligned with
            `x_train` and `x_val`: targets for that layer's auxiliary head.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str = "multiclass"
    hints: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int | None:
        """Classes: multiclass the largest label + 1, binary 2, regression None."""
        if self.task == "binary":
            return 2
        if self.task == "regression":
            return None
        labels = [y for y in (self.y_train, self.y_val) if y.size]
        return int(max(y.max() for y in labels)) + 1 if labels else 0

    @property
    def num_outputs(self) -> int:
        """Units of the main output layer."""
        if self.task == "multiclass":
            return int(self.num_classes)
        if self.task == "binary" or self.y_train.ndim == 1:
            return 1
        return int(self.y_train.shape[1])

    @property
    def activation(self) -> str:
        """The main output's activation: softmax, sigmoid or linear."""
        return _ACTIVATIONS[self.task]

    def labels(self, split: str) -> Any:
        """Returns the `y` that `AuxLossHyperModel.fit` takes for a split.

        Args:
            split: "train" or "val".

        Returns:
            The labels, or with hint targets a dict `{"main": labels,
            "hint/<layer>": targets}`.
        """
        index = {"train": 0, "val": 1}[split]
        y = self.y_train if split == "train" else self.y_val
        if not self.hints:
            return y
        return {"main": y, **{f"hint/{layer}": pair[index]
                              for layer, pair in self.hints.items()}}


def load_digits(
    seed: int, validation_fraction: float = 0.2, test_fraction: float = 0.2
) -> Dataset:
    """Loads scikit-learn's 8x8 digits (shipped with it: no download).

    Pixels are scaled to [0, 1] and shaped `(8, 8, 1)`; the splits are
    stratified by class and drawn with `seed`.

    Args:
        seed: Integer, the seed of the split.
        validation_fraction: Float, the share of all examples to validate on.
        test_fraction: Float, the share of all examples held out for testing.

    Returns:
        The multiclass `Dataset`, 10 classes.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    x, y = sklearn_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    return split(x, y.astype("int32"), seed, validation_fraction,
                 test_fraction, where="digits")


BUILTIN_DATA: dict[str, Callable[..., Dataset]] = {"digits": load_digits}


def load_data(
    source: str | Path,
    task: str,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    label: str | None = None,
) -> Dataset:
    """Loads a built-in data set, an `.npz` archive or a `.csv` table.

    Args:
        source: A name in `BUILTIN_DATA`, or a path ending `.npz` or `.csv`.
        task: One of `TASKS`; a built-in data set must match its own task.
        seed: Integer, the seed of any split.
        validation_fraction: Float, the share split off for validation.
        test_fraction: Float, the share split off for testing.
        label: The label column of a `.csv` file (required there only).

    Returns:
        The checked `Dataset`.

    Raises:
        DataError: The source is of no known kind, or its data is unfit.
    """
    where = str(source)
    _check_task(task, where)
    suffix = Path(where).suffix.lower()
    if label is not None and suffix != ".csv":
        raise DataError(f"{where}: label={label!r} applies to .csv files "
                        "only; .npz and built-in data name their labels y_*")
    if isinstance(source, str) and source in BUILTIN_DATA:
        data = BUILTIN_DATA[source](seed, validation_fraction, test_fraction)
        if data.task != task:
            raise DataError(f"{where}: the built-in data set is {data.task}; "
                            f"got task={task!r}, allowed: {data.task!r}")
        return data
    if suffix == ".npz":
        return load_npz(source, task, seed, validation_fraction, test_fraction)
    if suffix == ".csv":
        if label is None:
            raise DataError(f"{where}: a .csv source needs label= (the name "
                            "of its label column)")
        return load_csv(source, label, task, seed, validation_fraction,
                        test_fraction)
    close = difflib.get_close_matches(where, list(BUILTIN_DATA), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise DataError(f"{where}: unknown data source{hint}; allowed: a built-in "
                    f"name ({', '.join(BUILTIN_DATA)}) or a path ending .npz "
                    "or .csv")


def load_npz(
    path: str | Path,
    task: str,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Dataset:
    """Loads an `.npz` archive of named arrays (see the module docstring).

    Args:
        path: The archive; read with `allow_pickle=False`.
        task: One of `TASKS`.
        seed: Integer, the seed of the splits made when val or test is absent.
        validation_fraction: Float, the share of x_train split off for
            validation when the archive has no x_val.
        test_fraction: Float, the share of x_train split off for testing
            when the archive has no x_test (0: no test split).

    Returns:
        The checked `Dataset`, with the archive's hint targets.

    Raises:
        DataError: The file is unreadable, or its arrays are unfit.
    """
    where = str(path)
    _check_task(task, where)
    arrays = _read_npz(path, where)
    _check_npz_keys(arrays, where)
    for x_name, y_name in _PAIRS:
        if (x_name in arrays) != (y_name in arrays):
            given, absent = (x_name, y_name) if x_name in arrays else (y_name, x_name)
            raise DataError(f"{where}: {given} is given but {absent} is not; "
                            "give both or neither")
    layers = [k[len(_HINT):] for k in arrays if k.startswith(_HINT)]
    val_layers = [k[len(_HINT_VAL):] for k in arrays if k.startswith(_HINT_VAL)]
    has_val, has_test = "x_val" in arrays, "x_test" in arrays
    if not has_val and val_layers:
        raise DataError(f"{where}: {_HINT_VAL}{val_layers[0]} is given but "
                        f"x_val is not; {_HINT_VAL}<layer> targets align with x_val")
    for layer in sorted(set(layers) ^ set(val_layers)) if has_val else ():
        given, absent = ((_HINT, _HINT_VAL) if layer in layers else (_HINT_VAL, _HINT))
        raise DataError(f"{where}: {given}{layer} is given but {absent}{layer} "
                        f"is not; with x_val, every hinted layer needs both")

    # Check what is split before splitting: stratifying needs valid labels.
    x = _check_x(arrays["x_train"], where, "x_train")
    y = _check_y(arrays["y_train"], task, where, "y_train")
    _check_length(where, "x_train", x, "y_train", y)
    hints = {}
    for layer in layers:
        hints[layer] = _check_numeric(arrays[_HINT + layer], where, _HINT + layer)
        _check_length(where, "x_train", x, _HINT + layer, hints[layer])

    pool = [x, y, *hints.values()]
    splits = {}
    if has_test:
        splits["test"] = [arrays["x_test"], arrays["y_test"]]
    elif test_fraction > 0:
        pool, test = _split_off(pool, test_fraction, task, seed, where,
                                "the test split")
        splits["test"] = test[:2]  # hints are for training and validation only
    else:
        splits["test"] = [x[:0], y[:0]]
    if has_val:
        splits["val"] = [arrays["x_val"], arrays["y_val"],
                         *(arrays[_HINT_VAL + layer] for layer in layers)]
    else:
        # With both split off, fractions stay shares of all of x_train.
        share = validation_fraction
        if not has_test and test_fraction > 0:
            share = validation_fraction / (1 - test_fraction)
        pool, splits["val"] = _split_off(pool, share, task, seed, where,
                                         "the validation split")
    val = splits["val"]
    data = Dataset(
        pool[0], pool[1], val[0], val[1], *splits["test"], task=task,
        hints={layer: (pool[2 + i], val[2 + i]) for i, layer in enumerate(layers)},
    )
    return check_dataset(data, where)


def load_csv(
    path: str | Path,
    label: str,
    task: str,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Dataset:
    """Loads a `.csv` table with a header: one label column, numeric features.

    Args:
        path: The table; the first line names the columns.
        label: The name of the label column; every other column is a feature.
        task: One of `TASKS`.
        seed: Integer, the seed of the splits.
        validation_fraction: Float, the share of all rows to validate on.
        test_fraction: Float, the share of all rows held out for testing.

    Returns:
        The checked `Dataset`; x is float32 of shape `(rows, features)`.

    Raises:
        DataError: The file is unreadable, or a column is unfit.
    """
    import pandas as pd  # slow to import: only when a table is read

    where = str(path)
    _check_task(task, where)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{where}: no such data file") from None
    except (OSError, ValueError) as err:  # pandas' parse errors are ValueErrors
        raise DataError(f"{where}: cannot read the CSV file "
                        f"({_one_line(err)})") from None
    columns = [str(c) for c in frame.columns]
    if label not in columns:
        close = difflib.get_close_matches(label, columns, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DataError(f"{where}: no label column {label!r}{hint}; columns: "
                        f"{', '.join(columns)}")
    if len(columns) < 2:
        raise DataError(f"{where}: only the label column {label!r}; a feature "
                        "column is also required")
    for column in columns:  # name the column, which the arrays cannot
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values):
            numbers = pd.to_numeric(values, errors="coerce")
            rows = np.flatnonzero(numbers.isna() & values.notna())
            example = (f" ({values.iloc[rows[0]]!r} on line {rows[0] + 2})"
                       if rows.size else "")
            raise DataError(f"{where}: column {column!r} is not numeric"
                            f"{example}; all columns must be numbers")
        bad = ~np.isfinite(values.to_numpy(dtype="float64"))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"{where}: column {column!r} has a missing or "
                            f"infinite value on line {row + 2}; all values "
                            "must be finite numbers")
    x = frame.drop(columns=label).to_numpy(dtype="float32")
    y = _check_y(frame[label].to_numpy(), task, where, f"column {label!r}")
    return split(x, y, seed, validation_fraction, test_fraction, task=task,
                 where=where)


def split(
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    task: str = "multiclass",
    hints: dict[str, np.ndarray] | None = None,
    where: str = "data",
) -> Dataset:
    """Splits labelled arrays three ways: stratified unless a regression.

    Args:
        x, y: All the examples and their labels.
        seed: Integer, the seed of both splits.
        validation_fraction: Float, the share of all examples to validate on.
        test_fraction: Float, the share held out for testing (0: none).
        task: One of `TASKS`.
        hints: Layer name -> hint targets aligned with `x`; split along.
        where: What the data is called in errors (the file).

    Returns:
        The checked `Dataset`.
    """
    _check_task(task, where)
    x = _check_x(x, where, "x")
    y = _check_y(y, task, where, "y")
    _check_length(where, "x", x, "y", y)
    hints = hints or {}
    for name, targets in hints.items():
        _check_length(where, "x", x, _HINT + name, targets)
    pool = [x, y, *hints.values()]
    if test_fraction > 0:
        pool, test = _split_off(pool, test_fraction, task, seed, where,
                                "the test split")
    else:
        test = [x[:0], y[:0]]
    pool, val = _split_off(pool, validation_fraction / (1 - test_fraction),
                           task, seed, where, "the validation split")
    data = Dataset(
        pool[0], pool[1], val[0], val[1], test[0], test[1], task=task,
        hints={name: (pool[2 + i], val[2 + i]) for i, name in enumerate(hints)},
    )
    return check_dataset(data, where)


def check_dataset(data: Dataset, where: str) -> Dataset:
    """Checks a data set is fit for its task, and casts it for training.

    x and hints become float32; multiclass y int32 of shape `(n,)`; binary y
    float32 0/1 of shape `(n,)`; regression y float32 `(n,)` or `(n, d)`.

    Args:
        data: The `Dataset` to check.
        where: What the data is called in errors (the file).

    Returns:
        The cast `Dataset`.

    Raises:
        DataError: One line naming `where`, the array and the problem.
    """
    _check_task(data.task, where)
    cast = {}
    for part, split_name in (("train", "train"), ("val", "validation"),
                             ("test", "test")):
        x_name, y_name = f"x_{part}", f"y_{part}"
        x = cast[x_name] = _check_x(getattr(data, x_name), where, x_name)
        y = cast[y_name] = _check_y(getattr(data, y_name), data.task, where, y_name)
        _check_length(where, x_name, x, y_name, y)
        if part != "test" and not len(x):
            raise DataError(f"{where}: {x_name} is empty; the {split_name} "
                            "split needs at least one example")
        if part != "train" and len(x):
            _check_trailing(where, "x_train", cast["x_train"], x_name, x)
            _check_trailing(where, "y_train", cast["y_train"], y_name, y)
    if data.task == "multiclass":
        _check_classes(cast, where)
    elif data.task == "binary" and len(np.unique(cast["y_train"])) < 2:
        raise DataError(f"{where}: y_train has only label "
                        f"{int(cast['y_train'][0])}; binary needs both 0 and 1")
    hints = {}
    for layer, (train, val) in data.hints.items():
        train = _check_numeric(train, where, _HINT + layer)
        val = _check_numeric(val, where, _HINT_VAL + layer)
        _check_length(where, "x_train", cast["x_train"], _HINT + layer, train)
        _check_length(where, "x_val", cast["x_val"], _HINT_VAL + layer, val)
        _check_trailing(where, _HINT + layer, train, _HINT_VAL + layer, val)
        hints[layer] = (train, val)
    log.info("%s: %s, %d train, %d val, %d test examples of shape %s", where,
             data.task, len(cast["x_train"]), len(cast["x_val"]),
             len(cast["x_test"]), cast["x_train"].shape[1:])
    return dataclasses.replace(data, **cast, hints=hints)


def _check_task(task: str, where: str) -> None:
    if task not in TASKS:
        close = difflib.get_close_matches(str(task), TASKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DataError(f"{where}: task = {task!r} is not allowed{hint}; "
                        f"allowed: {', '.join(TASKS)}")


def _check_numeric(array: np.ndarray, where: str, name: str) -> np.ndarray:
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


def _check_x(array: np.ndarray, where: str, name: str) -> np.ndarray:
    array = _check_numeric(array, where, name)
    if array.ndim < 2:
        raise DataError(f"{where}: {name} has shape {array.shape}; it must be "
                        "(examples, features...), one example per row")
    return array


def _check_y(array: np.ndarray, task: str, where: str, name: str) -> np.ndarray:
    """Checks labels for `task` (all but class coverage) and casts them."""
    raw = np.asarray(array)
    if raw.dtype.kind not in _NUMERIC:
        raise DataError(f"{where}: {name} has dtype {raw.dtype}; {task} "
                        "labels must be numbers")
    y = _check_numeric(raw, where, name)
    if task == "regression":
        if y.ndim > 2:
            raise DataError(f"{where}: {name} has shape {y.shape}; regression "
                            "targets must be (n,) or (n, outputs)")
        return y
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{where}: {name} has shape {y.shape}; {task} labels "
                        "must be (n,), one label per example (class indices, "
                        "not one-hot)")
    if task == "binary":
        bad = np.flatnonzero((y != 0) & (y != 1))
        if bad.size:
            raise DataError(f"{where}: {name} has label {raw.ravel()[bad[0]]} "
                            f"at index {bad[0]}; binary labels must be 0 or 1")
        return y
    bad = np.flatnonzero((y != np.round(y)) | (y < 0))
    if bad.size:
        raise DataError(f"{where}: {name} has label {raw.ravel()[bad[0]]} at "
                        f"index {bad[0]}; multiclass labels must be integers "
                        "0..K-1")
    return y.astype("int32")


def _check_classes(arrays: dict[str, np.ndarray], where: str) -> None:
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


def _check_length(where: str, x_name: str, x: np.ndarray, name: str,
                  other: np.ndarray) -> None:
    if np.ndim(other) == 0 or len(other) != len(x):
        rows = len(other) if np.ndim(other) else "no"
        raise DataError(f"{where}: {name} has {rows} rows but {x_name} has "
                        f"{len(x)}; they must match, one per example")


def _check_trailing(where: str, name: str, array: np.ndarray, other_name: str,
                    other: np.ndarray) -> None:
    if array.shape[1:] != other.shape[1:]:
        raise DataError(f"{where}: {other_name} has examples of shape "
                        f"{other.shape[1:]} but {name} has {array.shape[1:]}; "
                        "they must match")


def _split_off(
    arrays: list[np.ndarray], fraction: float, task: str, seed: int,
    where: str, what: str,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Splits `fraction` of aligned arrays (x, y, hints...) off, seeded.

    Returns:
        The kept arrays and the split-off arrays, in the order given.
    """
    if not 0 < fraction < 1:
        raise DataError(f"{where}: {what} would take a share of {fraction:g} "
                        "of the examples; allowed: a share in (0, 1), with "
                        "validation_fraction + test_fraction < 1")
    y = arrays[1]
    if not len(y):
        raise DataError(f"{where}: x_train is empty; the train split needs "
                        "at least one example")
    stratify = None
    if task != "regression":
        stratify = y
        labels, counts = np.unique(y, return_counts=True)
        if counts.min() < 2:
            raise DataError(
                f"{where}: class {labels[counts.argmin()]:g} has only 1 "
                f"example in y_train; a stratified split ({what}) needs at "
                "least 2 per class: add examples, or give x_val/x_test")
    try:
        parts = train_test_split(*arrays, test_size=fraction,
                                 random_state=seed, stratify=stratify)
    except ValueError as err:  # e.g. fewer split-off examples than classes
        raise DataError(f"{where}: cannot make {what} of y_train "
                        f"({_one_line(err)})") from None
    return parts[0::2], parts[1::2]


def _read_npz(path: str | Path, where: str) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{where}: no such data file") from None
    except ValueError:  # neither zip nor .npy: numpy takes it for a pickle
        raise DataError(f"{where}: not an .npz archive (numpy.savez output); "
                        "other files and pickled data are refused") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{where}: cannot read the .npz archive "
                        f"({_one_line(err)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{where}: a single .npy array, not an .npz archive; "
                        "save named arrays with numpy.savez (x_train=..., "
                        "y_train=...)")
    arrays = {}
    with archive:
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:  # an object array: it would need pickle
                raise DataError(f"{where}: {key} is an object (pickled) array; "
                                "allowed: numeric arrays (pickle is refused)") from None
            except (OSError, EOFError, zipfile.BadZipFile) as err:
                raise DataError(f"{where}: cannot read {key} "
                                f"({_one_line(err)})") from None
    return arrays


def _check_npz_keys(arrays: dict[str, np.ndarray], where: str) -> None:
    for key in arrays:
        if key in _NPZ_KEYS or (
            key.startswith((_HINT, _HINT_VAL)) and key.split("/", 1)[1]
        ):
            continue
        layer = key.split("/", 1)[1] if "/" in key else "<layer>"
        names = [*_NPZ_KEYS, _HINT + layer, _HINT_VAL + layer]
        close = difflib.get_close_matches(key, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DataError(f"{where}: unknown array {key!r}{hint}; allowed: "
                        f"{', '.join(_NPZ_KEYS)}, {_HINT}<layer>, "
                        f"{_HINT_VAL}<layer>")
    if "x_train" not in arrays or "y_train" not in arrays:
        absent = "x_train" if "x_train" not in arrays else "y_train"
        raise DataError(f"{where}: {absent} is required; arrays in the file: "
                        f"{', '.join(arrays) or 'none'}")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
