"""Auxiliary outputs: what reads a tapped layer, and the loss it gets.

Three kinds of tap, each a small branch from the tapped tensor to an output
of its own (the tapped layer is never called again):

- `head`: predicts the main labels (deep supervision), through an optional
  hidden Dense layer; its loss is the main task's loss.
- `penalty`: the layer's mean squared (or absolute) activation per example;
  its loss is that value, with no labels.
- `hint`: regresses the layer onto given targets of another shape (e.g. a
  teacher's features) through a learned adapter; its loss is the MSE.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import keras

MAIN = "main"  # the name of the model's own output
KINDS = ("head", "penalty", "hint")
PENALTIES = ("l2", "l1")

_POOLING = {
    3: keras.layers.GlobalAveragePooling1D,
    4: keras.layers.GlobalAveragePooling2D,
    5: keras.layers.GlobalAveragePooling3D,
}


@dataclass(frozen=True)
class AuxLoss:
    """One auxiliary loss of a configuration: where, what, how strong.

    Attributes:
        layer: The tapped layer's name (`outer/inner` inside a nested model).
        weight: The loss weight at full strength.
        kind: "head", "penalty" or "hint".
        schedule: How the weight changes over the epochs (see `schedules`).
        units: A head's hidden width; 0 for none.
    """

    layer: str
    weight: float
    kind: str = "head"
    schedule: str = "constant"
    units: int = 0

    @property
    def output(self) -> str:
        """The name of the model output that carries this loss."""
        return output_name(self.layer, self.kind, self.units)

    def __str__(self) -> str:
        # `conv2:0.31`, with what differs from a plain constant head after it:
        # `conv2:0.31:penalty:linear_decay`, `conv5:0.05:h32`.
        parts = [self.layer, f"{self.weight:.2g}"]
        if self.kind != "head":
            parts.append(self.kind)
        if self.units:
            parts.append(f"h{self.units}")
        if self.schedule != "constant":
            parts.append(self.schedule)
        return ":".join(parts)


def output_name(layer: str, kind: str = "head", units: int = 0) -> str:
    """Returns the output name of an auxiliary loss on `layer`.

    `aux_<layer>` for a head (`aux_<layer>_h<units>` with a hidden layer),
    `penalty_<layer>` and `hint_<layer>` for the other kinds; characters that
    are not allowed in names become `_`.
    """
    stem = re.sub(r"\W", "_", layer)
    if kind == "head":
        return f"aux_{stem}_h{units}" if units else f"aux_{stem}"
    return f"{kind}_{stem}"


def head_name(layer_name: str) -> str:
    """Returns the output name of a plain head on `layer_name`: `aux_<layer>`."""
    return output_name(layer_name)


def attach_head(
    tensor: keras.KerasTensor,
    outputs: int,
    name: str,
    activation: str = "softmax",
    units: int = 0,
) -> keras.KerasTensor:
    """Adds a head that predicts the main labels from `tensor`.

    Rank-3 to rank-5 outputs are globally average-pooled over their spatial
    axes first; the head ends in a Dense layer named `name`, so that Keras
    names the head's losses and metrics after it.

    Args:
        tensor: The tapped layer's symbolic output, rank 2 to 5.
        outputs: Integer, the units of the main output.
        name: String, the name of the head's output.
        activation: The main output's activation.
        units: Integer, the width of a hidden ReLU layer; 0 for none.

    Returns:
        The head's symbolic output, shape `(batch, outputs)`.
    """
    tensor = _pooled(tensor, name)
    if units:
        tensor = keras.layers.Dense(units, activation="relu", name=f"{name}_hidden")(tensor)
    return keras.layers.Dense(outputs, activation=activation, name=name)(tensor)


@keras.saving.register_keras_serializable(package="auxsearch")
class ActivationPenalty(keras.layers.Layer):
    """The mean squared (`l2`) or absolute (`l1`) value of each example."""

    def __init__(self, norm: str = "l2", **kwargs) -> None:
        super().__init__(**kwargs)
        self.norm = norm

    def call(self, inputs):
        values = keras.ops.square(inputs) if self.norm == "l2" else keras.ops.abs(inputs)
        return keras.ops.mean(keras.ops.reshape(values, (keras.ops.shape(inputs)[0], -1)), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "norm": self.norm}


def attach_penalty(tensor: keras.KerasTensor, name: str, norm: str = "l2") -> keras.KerasTensor:
    """Adds an output holding each example's activation penalty of `tensor`."""
    return ActivationPenalty(norm, name=name)(tensor)


def penalty_loss(y_true, y_pred):
    """The loss of a penalty output: the penalty itself (labels are ignored)."""
    del y_true
    return y_pred


def attach_hint(
    tensor: keras.KerasTensor, target_shape: tuple[int, ...], name: str
) -> keras.KerasTensor:
    """Adds an adapter from `tensor` to hint targets of `target_shape`.

    Same shape: no adapter. Same shape but the last axis: a Dense layer on
    the last axis (a 1x1 convolution on images). Otherwise: global average
    pooling, a Dense layer to the targets' size, then a reshape.

    Args:
        tensor: The tapped layer's symbolic output.
        target_shape: The shape of one example's targets.
        name: String, the name of the hint's output.
    """
    shape = tuple(tensor.shape[1:])
    target_shape = tuple(target_shape)
    if shape == target_shape:
        return keras.layers.Identity(name=name)(tensor)
    if shape[:-1] == target_shape[:-1]:
        return keras.layers.Dense(target_shape[-1], name=name)(tensor)
    tensor = _pooled(tensor, name)
    tensor = keras.layers.Dense(math.prod(target_shape), name=f"{name}_adapter")(tensor)
    return keras.layers.Reshape(target_shape, name=name)(tensor)


def _pooled(tensor: keras.KerasTensor, name: str) -> keras.KerasTensor:
    rank = len(tensor.shape)
    if rank in _POOLING:
        return _POOLING[rank](name=f"{name}_pool")(tensor)
    return tensor
