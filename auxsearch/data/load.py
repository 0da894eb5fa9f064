"""Data sets: the arrays a search trains, validates and tests on.

A data set comes from a built-in name (`BUILTIN_DATA`), an `.npz` archive of
named arrays, a `.csv` table, or a function that returns the archive's arrays
(`[data] loader = "pkg.mod:fn"`); `load_data` picks the reader. The data flow:

    readers     reads a file (or calls a loader) into arrays, and gives the
                `.npz` layout
    split       the one `split`: splits off what the data does not give
    checks      `check_dataset`: refuses data unfit for the task with a
                one-line `DataError` naming the file and the array, and
                casts the arrays to the dtypes the models train on;
                `check_inputs`: refuses data the model cannot take
    dataset     the `Dataset` every loader returns

This module keeps the public names of all of them importable from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from auxsearch.core.errors import DataError
from auxsearch.core.imports import import_function, is_reference
from auxsearch.core.suggest import did_you_mean
from auxsearch.data.checks import check_dataset, check_inputs, check_task, check_y
from auxsearch.data.dataset import Dataset
from auxsearch.data.readers import (
    HINT,
    HINT_VAL,
    call_loader,
    hint_layers,
    inputs,
    read_csv,
    read_npz,
)
from auxsearch.data.split import split

__all__ = ["BUILTIN_DATA", "Dataset", "check_dataset", "check_inputs", "load_csv",
           "load_data", "load_digits", "load_function", "load_npz", "split"]


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
    # Here, not at the top: scikit-learn takes seconds to import, and only the
    # built-in example needs it.
    from sklearn.datasets import load_digits as sklearn_digits

    x, y = sklearn_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    return split(x, y.astype("int32"), seed, validation_fraction,
                 test_fraction, where="digits")


BUILTIN_DATA: dict[str, Callable[..., Dataset]] = {"digits": load_digits}


def load_data(
    source: str | Path | Callable[[], dict],
    task: str,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    label: str | None = None,
    ignore_label: int | None = None,
) -> Dataset:
    """Loads a built-in data set, an `.npz` archive, a `.csv` table or a loader's.

    Args:
        source: A name in `BUILTIN_DATA`, a path ending `.npz` or `.csv`, or
            a loader: a function of no arguments, or a
            ``"package.module:function"`` reference to one (`load_function`).
        task: A name in `auxsearch.core.tasks.TASKS`; a built-in data set must
            match its own task.
        seed: Integer, the seed of any split.
        validation_fraction: Float, the share split off for validation.
        test_fraction: Float, the share split off for testing.
        label: The label column of a `.csv` file (required there only).
        ignore_label: Per position (segmentation), the label of positions
            that count in no loss; left out of the classes the data must have.

    Returns:
        The checked `Dataset`.

    Raises:
        DataError: The source is of no known kind, or its data is unfit.
    """
    if callable(source) or (isinstance(source, str) and source not in BUILTIN_DATA
                            and is_reference(source)):
        if label is not None:
            raise DataError(f"label={label!r} applies to .csv files only; a loader "
                            "names its labels y_*")
        return load_function(source, task, seed, validation_fraction, test_fraction,
                             ignore_label)
    where = str(source)
    check_task(task, where)
    suffix = Path(where).suffix.lower()
    if label is not None and suffix != ".csv":
        raise DataError(f"{where}: label={label!r} applies to .csv files "
                        "only; .npz and built-in data name their labels y_*")
    if isinstance(source, str) and source in BUILTIN_DATA:
        data = BUILTIN_DATA[source](seed, validation_fraction, test_fraction)
        if data.task != task:
            raise DataError(f"{where}: the built-in data set is {data.task}; "
                            f"got task={task!r}, allowed: {data.task!r}")
        return dataclasses.replace(data, ignore_label=ignore_label)
    if suffix == ".npz":
        return load_npz(source, task, seed, validation_fraction, test_fraction, ignore_label)
    if suffix == ".csv":
        if label is None:
            raise DataError(f"{where}: a .csv source needs label= (the name "
                            "of its label column)")
        return load_csv(source, label, task, seed, validation_fraction,
                        test_fraction, ignore_label)
    raise DataError(f"{where}: unknown data source{did_you_mean(where, BUILTIN_DATA)}; "
                    f"allowed: a built-in name ({', '.join(BUILTIN_DATA)}), a "
                    "path ending .npz or .csv, or a loader 'package.module:function'")


def load_npz(
    path: str | Path,
    task: str,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    ignore_label: int | None = None,
) -> Dataset:
    """Loads an `.npz` archive of named arrays (layout: `auxsearch.data.readers`).

    `x_train/<input>` arrays (a model with several inputs) give a `Dataset`
    whose x are dicts `{input name: array}`, split alike.

    Args:
        path: The archive; read with `allow_pickle=False`.
        task: A name in `auxsearch.core.tasks.TASKS`.
        seed: Integer, the seed of the splits made when val or test is absent.
        validation_fraction: Float, the share of x_train split off for
            validation when the archive has no x_val.
        test_fraction: Float, the share of x_train split off for testing
            when the archive has no x_test (0: no test split).
        ignore_label: As `load_data` takes it.

    Returns:
        The checked `Dataset`, with the archive's hint targets.

    Raises:
        DataError: The file is unreadable, or its arrays are unfit.
    """
    where = str(path)
    check_task(task, where)
    return _from_arrays(read_npz(path, where), task, seed, validation_fraction,
                        test_fraction, where, ignore_label)


def load_function(
    loader: str | Callable[[], dict],
    task: str,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    ignore_label: int | None = None,
) -> Dataset:
    """Loads the arrays a function returns, as if read from an `.npz` archive.

    The function takes no arguments and returns a dict of arrays named as
    an archive's (`x_train`, `y_train`, optional `x_val`/`y_val`,
    `x_test`/`y_test`, `hint/<layer>`, `x_<split>/<input>`: see
    `auxsearch.data.readers`); the same checks and splits follow.

    Args:
        loader: The function, or a ``"package.module:function"`` reference,
            imported as a `[model] builder` is (`auxsearch.core.imports`).
        task: A name in `auxsearch.core.tasks.TASKS`.
        seed: Integer, the seed of the splits made when val or test is absent.
        validation_fraction: Float, the share of x_train split off for
            validation when the function returns no x_val.
        test_fraction: Float, the share of x_train split off for testing
            when the function returns no x_test (0: no test split).
        ignore_label: As `load_data` takes it.

    Returns:
        The checked `Dataset`.

    Raises:
        DataError: The reference cannot be imported, the function raises or
            returns no dict of arrays, or its arrays are unfit; the message
            names the loader.
    """
    if isinstance(loader, str):
        where = f"data.loader = {loader!r}"
        function = import_function(loader, where, DataError, "a dict of arrays")
    else:
        where = f"data loader {getattr(loader, '__qualname__', repr(loader))}"
        function = loader
    check_task(task, where)
    return _from_arrays(call_loader(function, where), task, seed, validation_fraction,
                        test_fraction, where, ignore_label)


def _from_arrays(
    arrays: dict[str, np.ndarray],
    task: str,
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    where: str,
    ignore_label: int | None,
) -> Dataset:
    """The checked, split `Dataset` of arrays in the `.npz` layout."""
    layers = hint_layers(arrays)
    val = test = None
    if (x_val := inputs(arrays, "x_val")) is not None:
        val = (x_val, arrays["y_val"],
               *(arrays[HINT_VAL + layer] for layer in layers))
    if (x_test := inputs(arrays, "x_test")) is not None:
        test = (x_test, arrays["y_test"])
    hints = {layer: arrays[HINT + layer] for layer in layers}
    return split(inputs(arrays, "x_train"), arrays["y_train"], seed,
                 validation_fraction, test_fraction, task, hints, where,
                 val=val, test=test, names=("x_train", "y_train"), ignore_label=ignore_label)


def load_csv(
    path: str | Path,
    label: str,
    task: str,
    seed: int,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.2,
    ignore_label: int | None = None,
) -> Dataset:
    """Loads a `.csv` table with a header: one label column, numeric features.

    A table is one input: every feature column goes into one x array.

    Args:
        path: The table; the first line names the columns.
        label: The name of the label column; every other column is a feature.
        task: A name in `auxsearch.core.tasks.TASKS`.
        seed: Integer, the seed of the splits.
        validation_fraction: Float, the share of all rows to validate on.
        test_fraction: Float, the share of all rows held out for testing.
        ignore_label: As `load_data` takes it.

    Returns:
        The checked `Dataset`; x is float32 of shape `(rows, features)`.

    Raises:
        DataError: The file is unreadable, or a column is unfit.
    """
    where = str(path)
    check_task(task, where)
    x, y = read_csv(path, label, where)
    y = check_y(y, task, where, f"column {label!r}")
    return split(x, y, seed, validation_fraction, test_fraction, task=task,
                 where=where, ignore_label=ignore_label)
