"""What tests of stand-alone oracles need and the package does not: a project directory.

A Tuner gives its oracle a project directory; a test that builds an oracle
alone gives it one here (through Keras Tuner's private setter, which the
package itself never needs).
"""

from __future__ import annotations

import os

import keras_tuner as kt


def set_project_dir(oracle: kt.Oracle, directory: str | os.PathLike, project_name: str) -> None:
    """Gives a stand-alone oracle its project directory, as a Tuner would."""
    oracle._set_project_dir(str(directory), project_name)
