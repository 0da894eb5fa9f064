"""Shared fixtures: tiny named-layer models and data made in memory."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

TINY_SPACE = """
name = "tiny"
seed = 3

[model]
builtin = "digits_cnn"

[data]
builtin = "digits"

[taps]
candidates = ["conv2", "conv5"]

[training]
batch_size = 128

[hyperband]
max_epochs = 2
factor = 3
"""


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


def encoder_decoder(size: int = 16, classes: int = 3, activation: str = "softmax",
                    channels: int = 1) -> keras.Model:
    """A tiny encoder-decoder without skips: taps at 1/2 and 1/4 resolution, both ways."""
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="enc1")(inputs)
    x = keras.layers.MaxPooling2D(name="down1")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="enc2")(x)
    x = keras.layers.MaxPooling2D(name="down2")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="dec1")(x)
    x = keras.layers.UpSampling2D(4, name="up")(x)
    return keras.Model(inputs, keras.layers.Conv2D(classes, 1, activation=activation,
                                                   name="out")(x))


def segmentation_builder(input_shape: tuple[int, ...], num_outputs: int,
                         activation: str) -> keras.Model:
    """`encoder_decoder` as a space's `[model] builder` is called."""
    return encoder_decoder(input_shape[0], num_outputs, activation, input_shape[-1])


def functional_mlp() -> keras.Model:
    """Input -> d1 -> d2 -> d3 -> 3-class softmax `out`."""
    inputs = keras.Input((6,), name="x")
    h = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
    h = keras.layers.Dense(8, activation="relu", name="d2")(h)
    h = keras.layers.Dense(8, activation="relu", name="d3")(h)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(h)
    return keras.Model(inputs, outputs, name="mlp")


def sequential_cnn() -> keras.Model:
    """A Sequential model with rank-4, rank-3 and rank-2 intermediate outputs."""
    return keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, padding="same", name="conv_a"),
            keras.layers.Reshape((36, 4), name="seq"),
            keras.layers.Conv1D(4, 3, name="conv_b"),
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ],
        name="seqcnn",
    )


@pytest.fixture
def tiny_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
    return x[:32], y[:32], x[32:], y[32:]


@pytest.fixture
def tiny_space(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SPACE)
    return path


@pytest.fixture(scope="session")
def _tiny_run(tmp_path_factory):
    from auxsearch.core.space import parse_space
    from auxsearch.search.run import run_search

    run_dir = tmp_path_factory.mktemp("tiny_run")
    run_search(parse_space(TINY_SPACE, name="tiny"), run_dir)
    return run_dir


@pytest.fixture
def tiny_run(_tiny_run, tmp_path):
    """A finished tiny search (baseline + 1 configuration), copied per test."""
    import shutil

    return Path(shutil.copytree(_tiny_run, tmp_path / "run"))


# Builders that break during a search (imported from the working directory).
CHANGING_BUILDER = """
import os

import keras

from auxsearch.models.builders import digits_cnn
from auxsearch.core.rundir import RunDir


def build(input_shape, num_outputs, activation):
    model = digits_cnn(input_shape, num_outputs, activation)
    if RunDir(os.environ["AUXSEARCH_TEST_RUN"]).trial_dir("0001").exists():
        # From the second trial on, one layer more: the builder breaks its contract.
        return keras.Model(model.inputs, keras.layers.Identity(name="extra")(model.output))
    return model
"""

NAN_BUILDER = """
import keras


def build(input_shape, num_outputs, activation):
    # The output weights are NaN: every trial's loss is NaN at once.
    inputs = keras.Input(input_shape)
    h = keras.layers.Dense(8, activation="relu", name="d1")(keras.layers.Flatten()(inputs))
    nan = keras.initializers.Constant(float("nan"))
    return keras.Model(inputs, keras.layers.Dense(num_outputs, activation=activation,
                                                  kernel_initializer=nan)(h))
"""


def packable_hypermodel():
    """A HyperModel with heads and penalties on two layers, for packed and unpacked fits."""
    from auxsearch.core.space import TapSpec, TrainingSpec
    from auxsearch.search.hypermodel import AuxLossHyperModel

    taps = TapSpec(candidates=("d1", "d2"), kinds=("head", "penalty"),
                   schedules=("constant", "linear_decay"))
    return AuxLossHyperModel(functional_mlp, taps, TrainingSpec(batch_size=16),
                             steps_per_execution=2, max_epochs=3)


def packable_data():
    """`(x, y, (x_val, y_val))`: 64 training and 16 validation rows of 3 classes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5).astype("int32")
    return x[:64], y[:64], (x[64:], y[64:])


def finishes(function, *args, wait: float = 10) -> bool:
    """Runs `function` in another thread; returns whether it finished within `wait` seconds."""
    import threading

    thread = threading.Thread(target=function, args=args, daemon=True)
    thread.start()
    thread.join(wait)
    return not thread.is_alive()
