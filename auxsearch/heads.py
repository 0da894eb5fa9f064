"""Auxiliary heads: small classifiers that read a tapped layer's output."""

from __future__ import annotations

import re

import keras

MAIN = "main"  # the name of the model's own output

_POOLING = {
    3: keras.layers.GlobalAveragePooling1D,
    4: keras.layers.GlobalAveragePooling2D,
    5: keras.layers.GlobalAveragePooling3D,
}


def head_name(layer_name: str) -> str:
    """Returns the output name of the head on `layer_name`: `aux_<layer>`."""
    return "aux_" + re.sub(r"\W", "_", layer_name)


def attach_head(
    tensor: keras.KerasTensor, num_classes: int, name: str
) -> keras.KerasTensor:
    """Adds a classifier head that predicts the main labels from `tensor`.

    Rank-3 to rank-5 outputs are globally average-pooled over their spatial
    axes first; the head ends in a softmax Dense layer named `name`, so that
    Keras names the head's losses and metrics after it.

    Args:
        tensor: The tapped layer's symbolic output, rank 2 to 5.
        num_classes: Integer, the number of classes of the main task.
        name: String, the name of the head's output.

    Returns:
        The head's symbolic output, shape `(batch, num_classes)`.
    """
    rank = len(tensor.shape)
    if rank in _POOLING:
        tensor = _POOLING[rank](name=f"{name}_pool")(tensor)
    return keras.layers.Dense(num_classes, activation="softmax", name=name)(tensor)
