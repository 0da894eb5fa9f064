"""The version gate: the installed keras-tuner passes, others are refused in one line."""

from __future__ import annotations

import keras_tuner as kt
import pytest

from auxsearch.core.errors import AuxSearchError
from auxsearch.kt.version import check_version


@pytest.mark.parametrize("version", [kt.__version__, "1.4.8", "1.4.9", "1.4.10rc1"])
def test_supported_versions_pass(version):
    check_version(version)


@pytest.mark.parametrize("version", ["1.4.7", "1.5.0", "2.0.0"])
def test_other_versions_are_refused_as_an_import_error(version):
    # An ImportError: code that tries auxsearch and falls back catches it so.
    with pytest.raises(ImportError, match=rf"^auxsearch needs keras-tuner>=1\.4\.8,<1\.5, "
                                          rf"but keras-tuner {version} is installed$") as info:
        check_version(version)
    assert isinstance(info.value, AuxSearchError)  # and the CLI prints it as one line
