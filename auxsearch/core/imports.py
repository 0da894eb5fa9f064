"""User functions named in a space file: ``"package.module:function"``.

A `[model] builder` and a `[data] loader` are found by one rule: the module
is imported with the current directory first on `sys.path` (so a
`mymodels.py` in the working directory is ``mymodels:build``), then
`PYTHONPATH` and the installed packages; the attribute must exist and be
callable. Workers start in their chief's directory, so they find the same
module.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from auxsearch.core.errors import AuxSearchError
from auxsearch.core.messages import error_line
from auxsearch.core.suggest import did_you_mean


def is_reference(text: str) -> bool:
    """Whether `text` has the shape of a ``module:function`` reference."""
    module, colon, attribute = text.partition(":")
    return bool(colon) and all(part.isidentifier() for part in module.split(".")) and (
        attribute.isidentifier())


def import_function(
    reference: str, where: str, error: type[AuxSearchError], returns: str
) -> Callable:
    """Imports the function a ``"package.module:function"`` reference names.

    Args:
        reference: The reference, e.g. ``"mymodels:build"``.
        where: How messages name the setting, e.g. ``"model.builder = 'x:y'"``.
        error: The error class to raise (the stage's own).
        returns: What the function must return, in words (for messages).

    Returns:
        The callable.

    Raises:
        error: The reference is malformed, its module cannot be imported
            (with the exception the import raised), or the module has no
            such callable (with the closest of its callables).
    """
    module_name, _, attribute = reference.partition(":")
    if not is_reference(reference):
        raise error(f"{where} is malformed; expected 'package.module:function', "
                    "e.g. 'mymodels:build'")
    module = _import(module_name, where, error)
    if not hasattr(module, attribute):
        callables = [name for name, value in vars(module).items()
                     if callable(value) and not name.startswith("_")]
        raise error(f"{where}: module {module_name!r} has no attribute {attribute!r}"
                    f"{did_you_mean(attribute, callables)}; its callables: "
                    f"{', '.join(sorted(callables)) or 'none'}")
    function = getattr(module, attribute)
    if not callable(function):
        raise error(f"{where}: {attribute!r} is a {type(function).__name__}, not a "
                    f"function; it must be callable and return {returns}")
    return function


def _import(module_name: str, where: str, error: type[AuxSearchError]) -> Any:
    """Imports a module with the current directory first on `sys.path`."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except Exception as err:  # a user module may raise anything on import
        raise error(f"{where}: cannot import module {module_name!r}: "
                    f"{type(err).__name__}: {error_line(err)} (searched the current "
                    "directory, PYTHONPATH and installed packages)") from err
    finally:
        if added:
            sys.path.remove(cwd)
