"""A very deep plain CNN: the case deep supervision was proposed for.

Twenty-six 3x3 conv layers (`conv1` to `conv26`), ReLU, no normalisation and no
shortcuts, on 8x8 digits. Trained alone with Adam for 9 epochs it often does
not learn at all: its gradient has to cross twenty-six layers. Use it from a
search space as ``builder = "search_spaces.models.deep_plain:build"`` (run
from the repository root).
"""

from __future__ import annotations

import keras

DEPTH = 26
WIDTH = 16


def build(
    input_shape: tuple[int, ...], num_outputs: int, activation: str = "softmax"
) -> keras.Model:
    """Twenty-six 3x3 conv layers, `conv1` to `conv26`, then `predictions`.

    Args:
        input_shape: An image shape, `(height, width, channels)`.
        num_outputs: Units of the `predictions` layer.
        activation: Activation of the `predictions` layer.
    """
    inputs = keras.Input(input_shape, name="image")
    h = inputs
    for i in range(1, DEPTH + 1):
        h = keras.layers.Conv2D(WIDTH, 3, padding="same", activation="relu", name=f"conv{i}")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    outputs = keras.layers.Dense(num_outputs, activation=activation, name="predictions")(h)
    return keras.Model(inputs, outputs, name="deep_plain")
