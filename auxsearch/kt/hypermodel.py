"""Copying a Keras Tuner HyperModel so that the copy builds with itself."""

from __future__ import annotations

import copy
import types

import keras_tuner as kt

__all__ = ["copy_hypermodel"]


def copy_hypermodel(hypermodel: kt.HyperModel) -> kt.HyperModel:
    """Returns a shallow copy of a HyperModel whose `build` builds with the copy.

    `HyperModel.__init__` binds `build` to its instance (`_build`,
    `_build_wrapper`), so a plain `copy.copy` would still build with the
    original.

    Args:
        hypermodel: The HyperModel to copy.

    Returns:
        The copy.
    """
    twin = copy.copy(hypermodel)
    twin._build = types.MethodType(type(hypermodel).build, twin)
    twin.build = twin._build_wrapper
    return twin
