"""Importing the Keras backend quietly, for a command."""

import pytest

from auxsearch.cli import backend
from auxsearch.kt import output as ktshim


@pytest.mark.parametrize("tracebacks", [True, False])
def test_tracebacks_are_shown_only_when_asked_and_restored_after(tracebacks):
    before = ktshim.show_tracebacks(True)
    try:
        with backend.loaded(quiet=True, tracebacks=tracebacks):
            assert ktshim.show_tracebacks(tracebacks) is tracebacks  # as set by `loaded`
        assert ktshim.show_tracebacks(True) is True  # put back afterwards
    finally:
        ktshim.show_tracebacks(before)


def test_quiet_keeps_file_descriptor_2_working(capfd):
    import os

    with backend.loaded(quiet=True, tracebacks=False):
        pass
    os.write(2, b"still here\n")
    assert "still here" in capfd.readouterr().err
