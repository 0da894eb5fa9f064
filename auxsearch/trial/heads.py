"""Auxiliary outputs: what reads a tapped layer, and the loss it gets.

Three kinds of tap, each a small branch from the tapped tensor to an output
of its own (the tapped layer is never called again), named as
`names.output_name` says:

- `head`: predicts the main labels (deep supervision), through an optional
  hidden Dense layer; its loss is the main task's loss. For labels per
  position (segmentation) the head keeps the map instead (`dense`).
- `penalty`: the layer's mean squared (or absolute) activation per example;
  its loss is that value, with no labels.
- `hint`: regresses the layer onto given targets of another shape (e.g. a
  teacher's features) through a learned adapter; its loss is the MSE.
"""

from __future__ import annotations

import math

import keras

_POOLING = {
    3: keras.layers.GlobalAveragePooling1D,
    4: keras.layers.GlobalAveragePooling2D,
    5: keras.layers.GlobalAveragePooling3D,
}


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
