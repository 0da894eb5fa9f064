"""Data files: reading an `.npz` archive, a `.csv` table or a loader's arrays.

Reading checks what only the source can tell: that a file exists and parses,
that an archive (or the dict a `[data] loader` function returns) names the
arrays of its layout (below) in pairs, and that every column of a table is a
finite number, named by column and line. What the
arrays must be for a task is `checks`' job; splitting them is `split`'s.

An `.npz` archive holds::

    x_train, y_train        required
    x_val, y_val            optional pair: split off x_train when absent
    x_test, y_test          optional pair: split off x_train when absent
    hint/<layer>            optional hint targets of a layer, one per x_train row
    hint_val/<layer>        required with x_val, one per x_val row

For a model with several inputs, each x is named inputs instead of one
array: `x_train/<input>` for every input of the model (and `x_val/<input>`,
`x_test/<input>` likewise, for every input or for none). An archive has
either plain x arrays or named ones, never both. A loader returns the same
names as the keys of a dict (any mapping) of arrays; a nested dict,
`{"x_train": {"image": a}}`, stands for `x_train/image`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from auxsearch.core.errors import DataError
from auxsearch.core.messages import error_line
from auxsearch.core.suggest import did_you_mean

PAIRS = (("x_train", "y_train"), ("x_val", "y_val"), ("x_test", "y_test"))
NPZ_KEYS = tuple(key for pair in PAIRS for key in pair)
X_NAMES = tuple(x_name for x_name, _ in PAIRS)
# Hint arrays are named by layer; messages about hints use the same names.
HINT, HINT_VAL = "hint/", "hint_val/"


def read_npz(path: str | Path, where: str) -> dict[str, np.ndarray]:
    """Reads an `.npz` archive and checks its layout (see the module docstring).

    Args:
        path: The archive; read with `allow_pickle=False`.
        where: What the file is called in errors.

    Returns:
        The archive's arrays by name, as stored (not yet checked or cast).

    Raises:
        DataError: The file is unreadable, holds pickled data or an unknown
            array, lacks x_train or y_train, or has half a pair.
    """
    arrays = _read_archive(path, where)
    check_layout(arrays, where)
    return arrays


def call_loader(function: Callable[[], object], where: str) -> dict[str, np.ndarray]:
    """Calls a `[data] loader` function and checks the layout of what it returns.

    Args:
        function: Takes no arguments; returns a dict of arrays named as in
            an `.npz` archive (see the module docstring).
        where: How messages name the loader, e.g. ``"data.loader = 'x:y'"``.

    Returns:
        Its arrays by name, as numpy arrays (not yet checked for a task).

    Raises:
        DataError: The function raises (named with what it raised), returns
            no mapping, a value that is no numeric array, or a layout an
            archive could not have.
    """
    try:
        returned = function()
    except Exception as err:  # a user function may raise anything
        raise DataError(f"{where} raised {type(err).__name__}: "
                        f"{error_line(err)}") from err
    if not isinstance(returned, Mapping):
        raise DataError(f"{where} returned a {type(returned).__name__}; it must "
                        "return a dict of arrays (x_train, y_train, ...)")
    arrays = {}
    for key, value in _flat(returned):
        if not isinstance(key, str):
            raise DataError(f"{where} returned a key {key!r}; keys must be array "
                            "names (strings: x_train, y_train, ...)")
        if not (isinstance(value, np.ndarray) or hasattr(value, "__array__")):
            raise DataError(f"{where} returned {key} as a {type(value).__name__}; "
                            "every value must be an array (numpy, or one numpy converts)")
        arrays[key] = np.asarray(value)
        if arrays[key].dtype.kind not in "biuf":
            raise DataError(f"{where} returned {key} of dtype {arrays[key].dtype}; "
                            "allowed: numeric arrays (bool, int, float)")
    check_layout(arrays, where)
    return arrays


def _flat(returned: Mapping) -> list[tuple[object, object]]:
    """`{"x_train": {"image": a}}` as `x_train/image`, the archive's name."""
    items = []
    for key, value in returned.items():
        if isinstance(value, Mapping) and isinstance(key, str):
            items += [(f"{key}/{name}", inner) for name, inner in value.items()]
        else:
            items.append((key, value))
    return items


def check_layout(arrays: dict[str, np.ndarray], where: str) -> None:
    """Checks that arrays are named as the layout says, in pairs.

    Raises:
        DataError: An unknown name (with the closest allowed), no x_train or
            y_train, plain and named inputs mixed, or half a pair.
    """
    _check_keys(arrays, where)
    _check_inputs(arrays, where)
    _check_pairs(arrays, where)


def hint_layers(arrays: dict[str, np.ndarray], prefix: str = HINT) -> list[str]:
    """Returns the layers an archive has hint targets for, in its order."""
    return [key[len(prefix):] for key in arrays if key.startswith(prefix)]


def input_names(arrays: dict[str, np.ndarray], x_name: str = "x_train") -> list[str]:
    """Returns the inputs an archive names for `x_name`, in its order.

    Empty for a plain `x_name` array (or none).
    """
    prefix = f"{x_name}/"
    return [key[len(prefix):] for key in arrays if key.startswith(prefix)]


def inputs(
    arrays: dict[str, np.ndarray], x_name: str
) -> np.ndarray | dict[str, np.ndarray] | None:
    """Returns a split's x from checked arrays: one array, named inputs, or None.

    Args:
        arrays: What `read_npz` returned.
        x_name: `x_train`, `x_val` or `x_test`.

    Returns:
        The plain array, or `{input name: array}` for `x_name/<input>` arrays,
        or None when the archive has neither.
    """
    if x_name in arrays:
        return arrays[x_name]
    names = input_names(arrays, x_name)
    return {name: arrays[f"{x_name}/{name}"] for name in names} if names else None


def read_csv(path: str | Path, label: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Reads a `.csv` table with a header: one label column, numeric features.

    Args:
        path: The table; the first line names the columns.
        label: The name of the label column; every other column is a feature.
        where: What the file is called in errors.

    Returns:
        `(x, y)`: the features as float32 `(rows, features)`, and the label
        column as read (not yet checked for a task).

    Raises:
        DataError: The file is unreadable, has no such label column or no
            feature column, or a value that is not a finite number.
    """
    import pandas as pd  # slow to import: only when a table is read

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"{where}: no such data file") from None
    except (OSError, ValueError) as err:  # pandas' parse errors are ValueErrors
        raise DataError(f"{where}: cannot read the CSV file "
                        f"({error_line(err)})") from None
    columns = [str(c) for c in frame.columns]
    if label not in columns:
        raise DataError(f"{where}: no label column {label!r}"
                        f"{did_you_mean(label, columns)}; columns: "
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
    return frame.drop(columns=label).to_numpy(dtype="float32"), frame[label].to_numpy()



def _read_archive(path: str | Path, where: str) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{where}: no such data file") from None
    except ValueError:  # neither zip nor .npy: numpy takes it for a pickle
        raise DataError(f"{where}: not an .npz archive (numpy.savez output); "
                        "other files and pickled data are refused") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{where}: cannot read the .npz archive "
                        f"({error_line(err)})") from None
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
                                f"({error_line(err)})") from None
    return arrays


def _check_keys(arrays: dict[str, np.ndarray], where: str) -> None:
    for key in arrays:
        prefix, slash, name = key.partition("/")
        if key in NPZ_KEYS or (name and (prefix in X_NAMES or prefix + slash
                                         in (HINT, HINT_VAL))):
            continue
        if slash:  # suggest the same name under a known prefix
            names = [*NPZ_KEYS, *(f"{x_name}/{name}" for x_name in X_NAMES),
                     HINT + name, HINT_VAL + name]
        else:
            names = [*NPZ_KEYS, HINT + "<layer>", HINT_VAL + "<layer>"]
        raise DataError(f"{where}: unknown array {key!r}{did_you_mean(key, names)}; "
                        f"allowed: {', '.join(NPZ_KEYS)}, "
                        f"{', '.join(x_name + '/<input>' for x_name in X_NAMES)}, "
                        f"{HINT}<layer>, {HINT_VAL}<layer>")
    if _x_key(arrays, "x_train") is None or "y_train" not in arrays:
        absent = ("x_train (or x_train/<input> arrays)"
                  if _x_key(arrays, "x_train") is None else "y_train")
        raise DataError(f"{where}: {absent} is required; arrays given: "
                        f"{', '.join(arrays) or 'none'}")


def _check_inputs(arrays: dict[str, np.ndarray], where: str) -> None:
    """Plain x or named inputs, not both; every split names the same inputs."""
    plain = [x_name for x_name in X_NAMES if x_name in arrays]
    named = [key for key in arrays if "/" in key and key.partition("/")[0] in X_NAMES]
    if plain and named:
        raise DataError(f"{where}: {plain[0]} and {named[0]} are both given; give "
                        "plain x_train (x_val, x_test) for a model with one input, "
                        "or x_<split>/<input> arrays for every input, not both")
    names = input_names(arrays)
    for x_name in X_NAMES[1:]:
        given = input_names(arrays, x_name)
        if not given:
            continue
        for name in given:
            if name not in names:
                wrong = f"{x_name}/{name}"
                close = did_you_mean(wrong, [f"{x_name}/{n}" for n in names])
                raise DataError(f"{where}: {wrong} is given but x_train/{name} is "
                                f"not{close}; the inputs (from x_train): "
                                f"{', '.join(names)}")
        for name in names:
            if name not in given:
                raise DataError(f"{where}: x_train/{name} is given but "
                                f"{x_name}/{name} is not; with {x_name}, every "
                                f"input needs its {x_name}/<input> array")


def _x_key(arrays: dict[str, np.ndarray], x_name: str) -> str | None:
    """The first array of a split's x (plain or named), or None."""
    if x_name in arrays:
        return x_name
    return next((key for key in arrays if key.startswith(f"{x_name}/")), None)


def _check_pairs(arrays: dict[str, np.ndarray], where: str) -> None:
    """x and y come in pairs; with x_val, hints come in pairs too."""
    for x_name, y_name in PAIRS:
        x_key = _x_key(arrays, x_name)
        if (x_key is not None) != (y_name in arrays):
            given, absent = (x_key, y_name) if x_key is not None else (y_name, x_name)
            raise DataError(f"{where}: {given} is given but {absent} is not; "
                            "give both or neither")
    layers, val_layers = hint_layers(arrays), hint_layers(arrays, HINT_VAL)
    has_val = _x_key(arrays, "x_val") is not None
    if not has_val and val_layers:
        raise DataError(f"{where}: {HINT_VAL}{val_layers[0]} is given but "
                        f"x_val is not; {HINT_VAL}<layer> targets align with x_val")
    for layer in sorted(set(layers) ^ set(val_layers)) if has_val else ():
        given, absent = ((HINT, HINT_VAL) if layer in layers else (HINT_VAL, HINT))
        raise DataError(f"{where}: {given}{layer} is given but {absent}{layer} "
                        f"is not; with x_val, every hinted layer needs both")
