"""The version gate: the keras-tuner versions whose internals auxsearch knows.

`auxsearch.kt` imports this module before any other of its modules, so an
unsupported keras-tuner is refused with one line before anything imports a
`keras_tuner.src` module it may lack. Upgrading Keras Tuner means reading the
modules of `auxsearch.kt` against the new version, and widening `SUPPORTED`.
"""

from __future__ import annotations

import keras_tuner as kt
from packaging.specifiers import SpecifierSet

from auxsearch.core.errors import KerasTunerVersionError

SUPPORTED = ">=1.4.8,<1.5"  # the keras-tuner versions whose internals auxsearch knows

__all__ = ["SUPPORTED", "check_version"]


def check_version(version: str) -> None:
    """Refuses a keras-tuner version outside `SUPPORTED`.

    Args:
        version: String, a keras-tuner version, e.g. `"1.4.8"`.

    Raises:
        KerasTunerVersionError: If `version` is not supported.
    """
    if not SpecifierSet(SUPPORTED).contains(version, prereleases=True):
        raise KerasTunerVersionError(
            f"auxsearch needs keras-tuner{SUPPORTED}, but keras-tuner {version} is installed"
        )


check_version(kt.__version__)
