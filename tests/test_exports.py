import subprocess
import sys
from pathlib import Path

import pytest

import auxsearch


def test_public_api_is_exported():
    for name in auxsearch.__all__:
        assert getattr(auxsearch, name).__module__.startswith("auxsearch."), name
    assert auxsearch.__all__ == sorted(auxsearch.__all__) == sorted(auxsearch._EXPORTS)
    assert "AuxLossHyperModel" in dir(auxsearch)


def test_the_run_directory_the_errors_and_the_tap_space_are_public():
    from auxsearch.core import errors, rundir, tapspace

    assert auxsearch.RunDir is rundir.RunDir
    assert auxsearch.RunDirError is errors.RunDirError
    assert auxsearch.SearchFailed is errors.SearchFailed
    assert auxsearch.TapSpace is tapspace.TapSpace
    assert auxsearch.AuxLoss is tapspace.AuxLoss
    assert auxsearch.format_taps is tapspace.format_taps


@pytest.mark.e2e
def test_importing_the_package_imports_no_keras():
    code = ("import sys, auxsearch; auxsearch.RunDir; auxsearch.SearchFailed; "
            "print(auxsearch.__version__, [m for m in ('keras', 'tensorflow', 'keras_tuner') "
            "if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == [auxsearch.__version__, "[]"]


def test_no_subpackage_shadows_a_public_name():
    # Importing `auxsearch.<stage>` sets that attribute of the package: a stage
    # named like a public function would replace it.
    stages = {path.name for path in Path(auxsearch.__file__).parent.iterdir()
              if (path / "__init__.py").exists()}
    assert not stages & set(auxsearch.__all__)
