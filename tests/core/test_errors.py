"""The error tree: everything auxsearch raises on purpose derives from one class,
and the tree at the top of `core/errors.py` says so truly."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys

import keras_tuner as kt
import pytest

import auxsearch
from auxsearch.core import errors

# `[ValueError]` and the like: the other bases the tree names for a class.
_BASES = {"ValueError": ValueError, "ImportError": ImportError,
          "keras_tuner.errors.FatalError": kt.errors.FatalError}


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in the package, found by importing its modules."""
    found = {}
    for module in pkgutil.walk_packages(auxsearch.__path__, "auxsearch."):
        if module.name.endswith("__main__"):  # runs the command line
            continue
        imported = importlib.import_module(module.name)
        for _, cls in inspect.getmembers(imported, inspect.isclass):
            if cls.__module__ == imported.__name__ and issubclass(cls, BaseException):
                found[cls.__name__] = cls
    return found


def _tree() -> dict[str, list[str]]:
    """The classes the module docstring's tree names, with the other bases it gives."""
    tree = {}
    for line in errors.__doc__.splitlines():
        match = re.match(r"^\s+(?:[├└]── )?(?:kt\.errors\.)?(\w+Error|\w+Failed)\b(.*)", line)
        if match:
            tree[match.group(1)] = re.findall(r"\[([\w.]+)\]", match.group(2))
    return tree


def test_every_exception_class_of_the_package_is_an_auxsearch_error():
    classes = _exception_classes()
    assert "FatalTrialError" in classes and "SpaceError" in classes  # the walk saw both stages
    strays = sorted(name for name, cls in classes.items()
                    if not issubclass(cls, errors.AuxSearchError))
    assert strays == []


def test_the_documented_tree_names_every_error_with_its_other_bases():
    classes = _exception_classes()
    tree = _tree()
    assert sorted(tree) == sorted(classes)
    for name, bases in tree.items():
        cls = classes[name]
        assert errors.AuxSearchError in cls.__mro__
        others = [b for b in cls.__bases__ if b not in (errors.AuxSearchError, Exception)]
        assert others == [_BASES[b] for b in bases], name


@pytest.mark.e2e
def test_the_core_errors_load_without_keras():
    # The command line imports them before TensorFlow, to start fast.
    code = ("import sys, auxsearch.core.errors; "
            "print(sorted(m for m in ('keras', 'keras_tuner', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out == "[]\n"


def test_a_run_directory_error_says_whether_discarding_it_would_help():
    assert errors.RunDirError("x").discardable is False
    assert errors.RunDirError("x", discardable=True).discardable is True

