"""An example model builder for tabular data.

Use it from a search space as ``builder = "tabular:build"`` in [model], with
this directory on the import path::

    PYTHONPATH=search_spaces/models auxsearch run my_space.toml

(`search_spaces` is not a package, so ``search_spaces.models.tabular:build``
does not work.)
"""

from __future__ import annotations

import keras


def build(
    input_shape: tuple[int, ...], num_outputs: int, activation: str = "softmax"
) -> keras.Model:
    """A small MLP, `dense1` to `dense3`, with a residual `add` around `dense2`.

    Args:
        input_shape: `(n_features,)`; other shapes are flattened first.
        num_outputs: Units of the `predictions` layer.
        activation: Activation of the `predictions` layer.
    """
    inputs = keras.Input(input_shape, name="features")
    h = inputs
    if len(input_shape) > 1:
        h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(64, activation="relu", name="dense1")(h)
    skip = keras.layers.Dense(64, activation="relu", name="dense2")(h)
    h = keras.layers.Add(name="add")([h, skip])
    h = keras.layers.Dense(32, activation="relu", name="dense3")(h)
    outputs = keras.layers.Dense(
        num_outputs, activation=activation, name="predictions"
    )(h)
    return keras.Model(inputs, outputs, name="tabular_mlp")
