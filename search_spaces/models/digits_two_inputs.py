"""An example builder for a model with two inputs: an image and a vector.

Use it from a search space as ``builder =
"search_spaces.models.digits_two_inputs:build"`` in [model] (run from the
repository root), on an `.npz` archive with named inputs ``x_train/image``
and ``x_train/stats`` (``search_spaces/data/digits_two_inputs.npz``). The
model's inputs are named after the data's: auxsearch feeds each array to the
input of its name.
"""

from __future__ import annotations

import keras


def build(
    input_shape: dict[str, tuple[int, ...]], num_outputs: int, activation: str = "softmax"
) -> keras.Model:
    """A small CNN on `image` (`conv1`, `conv2`) and an MLP on `stats`, merged.

    Both branches meet in `merge` (a `Concatenate`), then `dense` and the
    `predictions` layer.

    Args:
        input_shape: `{"image": (height, width, channels), "stats": (n,)}`:
            the data's input shapes by name.
        num_outputs: Units of the `predictions` layer.
        activation: Activation of the `predictions` layer.
    """
    image = keras.Input(input_shape["image"], name="image")
    stats = keras.Input(input_shape["stats"], name="stats")
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(image)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu",
                            name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    s = keras.layers.Dense(16, activation="relu", name="stats_dense")(stats)
    h = keras.layers.Concatenate(name="merge")([h, s])
    h = keras.layers.Dense(64, activation="relu", name="dense")(h)
    outputs = keras.layers.Dense(num_outputs, activation=activation, name="predictions")(h)
    return keras.Model({"image": image, "stats": stats}, outputs, name="digits_two_inputs")
