"""Built-in models, each a builder `(input_shape, num_classes) -> Model`."""

from __future__ import annotations

from typing import Callable

import keras


def digits_cnn(input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    """A deep plain CNN: six 3x3 conv layers, `conv1` to `conv6`, no shortcuts.

    Deep, narrow and without normalisation or skip connections, it is the
    kind of network deep supervision was proposed for.
    """
    inputs = keras.Input(input_shape, name="image")
    h = inputs
    for i in range(1, 7):
        h = keras.layers.Conv2D(
            16, 3, padding="same", activation="relu", name=f"conv{i}"
        )(h)
    h = keras.layers.Flatten(name="flatten")(h)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="predictions"
    )(h)
    return keras.Model(inputs, outputs, name="digits_cnn")


BUILTIN_MODELS: dict[str, Callable[[tuple[int, ...], int], keras.Model]] = {
    "digits_cnn": digits_cnn,
}
