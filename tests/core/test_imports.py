import sys
import textwrap

import pytest

from auxsearch.core.errors import DataError, ModelError
from auxsearch.core.imports import import_function, is_reference


@pytest.fixture
def module(tmp_path, monkeypatch):
    """A `userfns.py` in a temporary working directory, not on sys.path."""
    (tmp_path / "userfns.py").write_text(textwrap.dedent("""
        VALUE = 3

        def load():
            return {"x": 1}

        def loader_two():
            return {}
    """))
    (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    for name in ("userfns", "raises_on_import"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("text, shaped", [
    ("mod:fn", True), ("pkg.sub.mod:build_2", True), ("mod", False), ("mod:", False),
    (":fn", False), ("mod:fn:x", False), ("data.npz", False), ("C:\\data.npz", False),
    ("my-mod:fn", False), ("mod.:fn", False)])
def test_a_reference_is_module_colon_function(text, shaped):
    assert is_reference(text) is shaped


def test_the_function_is_imported_from_the_working_directory(module):
    function = import_function("userfns:load", "data.loader = 'userfns:load'", DataError,
                               "a dict")
    assert function() == {"x": 1}
    assert str(module) not in sys.path  # the directory is added only while importing


@pytest.mark.parametrize("reference, error, words", [
    ("userfns.load", DataError, r"^W is malformed; expected 'package.module:function'"),
    ("nomodule_xyz:load", ModelError,
     (r"^W: cannot import module 'nomodule_xyz': ModuleNotFoundError: No module named "
     r"'nomodule_xyz' \(searched the current directory, PYTHONPATH and installed packages\)$")),
    ("raises_on_import:f", DataError,
     r"^W: cannot import module 'raises_on_import': RuntimeError: boom at import"),
    ("userfns:lod", DataError,
     (r"^W: module 'userfns' has no attribute 'lod' \(did you mean 'load'\?\); its callables: "
     r"load, loader_two$")),
    ("userfns:VALUE", ModelError,
     r"^W: 'VALUE' is a int, not a function; it must be callable and return a dict$"),
])
def test_what_cannot_be_imported_is_refused_in_one_line(module, reference, error, words):
    with pytest.raises(error, match=words):
        import_function(reference, "W", error, "a dict")
