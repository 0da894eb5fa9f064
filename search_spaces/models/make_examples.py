"""Writes the example model files next to this script.

Run ``python search_spaces/models/make_examples.py``. It writes
`digits_residual.keras`: a small functional CNN for 8x8x1 digits, 10-class
softmax, whose `stem` is a nested `keras.Sequential` (`conv_a`, `conv_b`),
followed by a two-branch `Concatenate` and a residual `Add`. Its weights are
untrained: auxsearch re-initialises them for every trial anyway.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

HERE = Path(__file__).resolve().parent


def digits_residual() -> keras.Model:
    """Nested `stem`, a 1x1/3x3 `concat` branch and a residual `add`."""
    stem = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu",
                                name="conv_a"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu",
                                name="conv_b"),
        ],
        name="stem",
    )
    inputs = keras.Input((8, 8, 1), name="image")
    h = stem(inputs)
    narrow = keras.layers.Conv2D(8, 1, activation="relu", name="branch_1x1")(h)
    wide = keras.layers.Conv2D(8, 3, padding="same", activation="relu",
                               name="branch_3x3")(h)
    branches = keras.layers.Concatenate(name="concat")([narrow, wide])
    h = keras.layers.Add(name="add")([h, branches])
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same",
                            activation="relu", name="conv_c")(h)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    outputs = keras.layers.Dense(10, activation="softmax",
                                 name="predictions")(h)
    return keras.Model(inputs, outputs, name="digits_residual")


def main() -> None:
    keras.utils.set_random_seed(0)
    path = HERE / "digits_residual.keras"
    digits_residual().save(path)
    logging.info("wrote %s (%d bytes)", path, path.stat().st_size)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
