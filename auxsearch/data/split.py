"""The one split routine: labelled arrays into train, validation and test.

Every loader splits here (`auxsearch.data.load`): a built-in data set, a table,
and an archive that lacks x_val or x_test. The test split is drawn first,
then the validation split from what is left, both with the same seed and
stratified by class when the task's labels are classes, one per example (a
mask has many: segmentation splits unstratified). Fractions are
shares of all the examples that get split (an archive's x_train as stored);
what is given (an archive's x_val, x_test) is taken as is. Named inputs
(several model inputs) are split alike, row for row, with y and the hints.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.model_selection import train_test_split

from auxsearch.core.errors import DataError
from auxsearch.core.messages import error_line
from auxsearch.core.tasks import TASKS
from auxsearch.data.checks import (
    check_dataset,
    check_length,
    check_numeric,
    check_task,
    check_xs,
    check_y,
)
from auxsearch.data.dataset import Dataset, Inputs, map_inputs, named_inputs
from auxsearch.data.readers import HINT


def split(
    x: Inputs,
    y: np.ndarray,
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    task: str = "multiclass",
    hints: dict[str, np.ndarray] | None = None,
    where: str = "data",
    *,
    val: tuple[Inputs | np.ndarray, ...] | None = None,
    test: tuple[Inputs, np.ndarray] | None = None,
    names: tuple[str, str] = ("x", "y"),
    ignore_label: int | None = None,
) -> Dataset:
    """Splits labelled arrays three ways: stratified by class, one label per example.

    Args:
        x, y: All the examples and their labels; `x` is one array, or
            named inputs `{input name: array}` split alike.
        seed: Integer, the seed of both splits.
        validation_fraction: Float, the share of all of `x` to validate on;
            unused when `val` is given.
        test_fraction: Float, the share held out for testing (0: none);
            unused when `test` is given.
        task: A name in `auxsearch.core.tasks.TASKS`.
        hints: Layer name -> hint targets aligned with `x`; split along.
        where: What the data is called in errors (the file).
        val: `(x_val, y_val, *hint targets in the order of hints)`, taken as
            is instead of split off.
        test: `(x_test, y_test)`, taken as is instead of split off.
        names: What `x` and `y` are called in errors (an input of `x`:
            `<x name>/<input>`).
        ignore_label: Per position, the label of positions that count in no
            loss (see `Dataset`).

    Returns:
        The checked `Dataset`.

    Raises:
        DataError: The arrays are unfit, or a split cannot be drawn.
    """
    check_task(task, where)
    # Check what is split before splitting: stratifying needs valid labels.
    x_name, y_name = names
    x = check_xs(x, where, x_name)
    first_name, first = named_inputs(x, x_name)[0]
    y = check_y(y, task, where, y_name)
    check_length(where, first_name, first, y_name, y)
    hints = {layer: check_numeric(targets, where, HINT + layer)
             for layer, targets in (hints or {}).items()}
    for layer, targets in hints.items():
        check_length(where, first_name, first, HINT + layer, targets)

    # One pool of aligned arrays, y first: every input, y and every hint
    # get the same rows, and a single input splits as it always has.
    keys = list(x) if isinstance(x, Mapping) else None
    pool = [y, *(x.values() if keys is not None else [x]), *hints.values()]
    share = validation_fraction
    if test is None and test_fraction > 0:
        pool, split_off = _split_off(pool, test_fraction, task, seed, where,
                                     "the test split")
        test = _unpool(split_off, keys)[:2]  # hints: training and validation only
        # With both split off, fractions stay shares of all the examples.
        share = validation_fraction / (1 - test_fraction)
    elif test is None:
        test = (map_inputs(x, lambda array: array[:0]), y[:0])
    if val is None:
        pool, split_off = _split_off(pool, share, task, seed, where,
                                     "the validation split")
        val = _unpool(split_off, keys)
    train = _unpool(pool, keys)
    data = Dataset(
        train[0], train[1], val[0], val[1], test[0], test[1], task=task,
        hints={layer: (train[2 + i], val[2 + i]) for i, layer in enumerate(hints)},
        ignore_label=ignore_label,
    )
    return check_dataset(data, where)


def _unpool(pool: list[np.ndarray], keys: list[str] | None) -> tuple:
    """`[y, *inputs, *hints]` back to `(x, y, *hints)`, x named as given."""
    count = 1 if keys is None else len(keys)
    inputs = pool[1:1 + count]
    x = inputs[0] if keys is None else dict(zip(keys, inputs))
    return (x, pool[0], *pool[1 + count:])


def _split_off(
    arrays: list[np.ndarray], fraction: float, task: str, seed: int,
    where: str, what: str,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Splits `fraction` of aligned arrays (y first) off, seeded.

    Returns:
        The kept arrays and the split-off arrays, in the order given.
    """
    if not 0 < fraction < 1:
        raise DataError(f"{where}: {what} would take a share of {fraction:g} "
                        "of the examples; allowed: a share in (0, 1), with "
                        "validation_fraction + test_fraction < 1")
    y = arrays[0]
    if not len(y):
        raise DataError(f"{where}: x_train is empty; the train split needs "
                        "at least one example")
    stratify = None
    # Per-position labels have no one class per example: split unstratified.
    if TASKS[task].classes and not TASKS[task].positions:
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
                        f"({error_line(err)})") from None
    return parts[0::2], parts[1::2]
