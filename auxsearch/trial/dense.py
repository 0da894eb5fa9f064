"""Per-position outputs: heads on maps, their resizing, losses and metrics.

A task whose labels are per position (`Task.positions`: a mask per image,
a label per step) keeps the positions in every output. A head on a tapped
map `(b, h, w, c)` or `(b, t, c)` is an optional hidden 3x3 convolution
and a 1x1 convolution to K classes, as mmsegmentation's FCN head is; its
logits are resized (bilinear) to the main output's positions before the
activation and the loss, so a tap at any resolution, in an encoder or a
decoder, is scored against the labels as they are. The size is read from
the main output at run time, so inputs of unknown height and width work.

The losses and metrics are Keras' own: sparse categorical cross-entropy
with `ignore_class`, `MeanIoU` (named `mean_iou`) and sparse categorical
accuracy, whose positions labelled `ignore_label` weigh 0. A width-1
output is a binary mask (one sigmoid per position): its metrics threshold
it into classes 0 and 1 first. `per_example_scores` gives each example's
own score for the paired tests of confirmation.
"""

from __future__ import annotations

import keras
import numpy as np

_CONV = {3: keras.layers.Conv1D, 4: keras.layers.Conv2D}


@keras.saving.register_keras_serializable(package="auxsearch")
class ResizeLike(keras.layers.Layer):
    """Resizes a map to the positions of another, bilinearly: `[x, like] -> x'`.

    `x` is `(b, h, w, c)` or `(b, t, c)`; the result has `like`'s position
    axes and `x`'s channels. The size is read at run time, so `like` may
    have unknown positions.
    """

    def call(self, inputs):
        x, like = inputs
        shape = keras.ops.shape(like)
        if len(x.shape) == 3:  # a sequence: resize along time only
            wide = keras.ops.expand_dims(x, 2)
            return keras.ops.squeeze(keras.ops.image.resize(
                wide, (shape[1], 1), interpolation="bilinear"), 2)
        return keras.ops.image.resize(x, (shape[1], shape[2]), interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        x, like = input_shape
        return (x[0], *like[1:-1], x[-1])


def attach_dense_head(
    tensor: keras.KerasTensor,
    like: keras.KerasTensor,
    outputs: int,
    name: str,
    activation: str = "softmax",
    units: int = 0,
) -> keras.KerasTensor:
    """Adds a per-position head on a tapped map, at the main output's positions.

    Args:
        tensor: The tapped layer's symbolic output, `(b, h, w, c)` or `(b, t, c)`.
        like: The main output, whose positions the head's output takes.
        outputs: Integer, the classes (the main output's width).
        name: String, the name of the head's output.
        activation: The main output's activation ("linear" for logits).
        units: Integer, the width of a hidden 3x3 ReLU convolution; 0 for none.

    Returns:
        The head's symbolic output, `like`'s shape.
    """
    conv = _CONV[len(tensor.shape)]
    if units:
        tensor = conv(units, 3, padding="same", activation="relu", name=f"{name}_hidden")(tensor)
    logits = conv(outputs, 1, name=f"{name}_logits")(tensor)
    # Resized as logits, then activated, as mmsegmentation resizes before its loss.
    if tuple(logits.shape[1:-1]) != tuple(like.shape[1:-1]) or None in like.shape[1:-1]:
        logits = ResizeLike(name=f"{name}_resize")([logits, like])
    return keras.layers.Activation(activation, name=name)(logits)


def _ignored(y_true, ignore_label: int | None, sample_weight):
    """`sample_weight` with the positions labelled `ignore_label` weighed 0."""
    if ignore_label is None:
        return sample_weight
    keep = keras.ops.cast(keras.ops.not_equal(
        keras.ops.cast(y_true, "int32"), ignore_label), "float32")
    if len(keep.shape) == 4:  # (b, H, W, 1) labels: the weights of (b, H, W) positions
        keep = keras.ops.squeeze(keep, -1)
    return keep if sample_weight is None else keep * sample_weight


def _classes(y_true, y_pred, threshold: float | None):
    """Integer labels `(b, *positions)` and predicted classes of the same shape."""
    y_true = keras.ops.cast(y_true, "int32")
    if len(y_true.shape) == len(y_pred.shape):
        y_true = keras.ops.squeeze(y_true, -1)
    if threshold is None:
        predicted = keras.ops.argmax(y_pred, axis=-1)
    else:  # one sigmoid per position: class 1 above the threshold
        predicted = keras.ops.squeeze(y_pred, -1) > threshold
    return y_true, keras.ops.cast(predicted, "int32")


@keras.saving.register_keras_serializable(package="auxsearch")
class MaskMeanIoU(keras.metrics.MeanIoU):
    """Keras' `MeanIoU` over predicted classes: argmax, or a threshold for one sigmoid.

    The dataset-level mean IoU: one confusion matrix over every position of
    every example, averaged over the classes present in labels or predictions.
    """

    def __init__(self, num_classes: int, threshold: float | None = None,
                 ignore_label: int | None = None, name: str = "mean_iou", **kwargs) -> None:
        kwargs.pop("ignore_class", None)
        kwargs.pop("sparse_y_pred", None)
        super().__init__(num_classes=num_classes, name=name, ignore_class=ignore_label,
                         sparse_y_pred=True, **kwargs)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, predicted = _classes(y_true, y_pred, self.threshold)
        return super().update_state(y_true, predicted, sample_weight)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold,
                "ignore_label": self.ignore_class}


@keras.saving.register_keras_serializable(package="auxsearch")
class MaskAccuracy(keras.metrics.Accuracy):
    """Keras' `Accuracy` of predicted classes per position, the ignored ones weighed 0."""

    def __init__(self, threshold: float | None = None, ignore_label: int | None = None,
                 name: str = "accuracy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.ignore_label = ignore_label

    def update_state(self, y_true, y_pred, sample_weight=None):
        weight = _ignored(y_true, self.ignore_label, sample_weight)
        y_true, predicted = _classes(y_true, y_pred, self.threshold)
        return super().update_state(y_true, predicted, weight)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold,
                "ignore_label": self.ignore_label}


@keras.saving.register_keras_serializable(package="auxsearch")
class MaskBinaryCrossentropy(keras.losses.BinaryCrossentropy):
    """Keras' binary cross-entropy of a `(b, ..., 1)` mask, ignored positions weighed 0."""

    def __init__(self, ignore_label: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ignore_label = ignore_label

    def __call__(self, y_true, y_pred, sample_weight=None):
        weight = _ignored(y_true, self.ignore_label, sample_weight)
        y_true = keras.ops.cast(y_true, "float32")
        if self.ignore_label is not None:  # any valid value: its weight is 0
            y_true = keras.ops.where(keras.ops.equal(y_true, self.ignore_label), 0.0, y_true)
        if len(y_true.shape) < len(y_pred.shape):
            y_true = keras.ops.expand_dims(y_true, -1)
        return super().__call__(y_true, y_pred, weight)

    def get_config(self):
        return {**super().get_config(), "ignore_label": self.ignore_label}


def dense_loss(units: int, logits: bool, ignore_label: int | None) -> keras.losses.Loss:
    """The loss of a per-position output of width `units` (1: one sigmoid)."""
    if units == 1:
        return MaskBinaryCrossentropy(ignore_label, from_logits=logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits,
                                                      ignore_class=ignore_label)


def dense_metrics(units: int, logits: bool, ignore_label: int | None,
                  metric: str = "mean_iou") -> list[keras.metrics.Metric]:
    """New instances of mean IoU and per-position accuracy, `metric` first."""
    threshold = None if units > 1 else (0.0 if logits else 0.5)
    found = [MaskMeanIoU(max(units, 2), threshold, ignore_label),
             MaskAccuracy(threshold, ignore_label)]
    return sorted(found, key=lambda m: m.name != metric)


def per_example_scores(y: np.ndarray, predictions: np.ndarray, metric: str, logits: bool,
                       ignore_label: int | None = None) -> np.ndarray:
    """Each example's own score: its mean IoU, or its per-position accuracy.

    An example's mean IoU averages the classes present in its labels or its
    prediction (a class in neither has no IoU there); positions labelled
    `ignore_label` count in neither score. An example whose every position
    is ignored has no score: NaN.

    Args:
        y: Integer labels `(n, *positions)` (or with a trailing axis of 1).
        predictions: The outputs `(n, *positions, K)`, K = 1 for one sigmoid.
        metric: "mean_iou" or "accuracy".
        logits: Whether the outputs are logits (a width-1 threshold is then 0).
        ignore_label: The label of positions that count in no score.

    Returns:
        `(n,)` float64 scores.
    """
    predictions = np.asarray(predictions)
    k = predictions.shape[-1]
    if k == 1:
        predicted = predictions[..., 0] > (0.0 if logits else 0.5)
    else:
        predicted = predictions.argmax(axis=-1)
    n = len(predictions)
    predicted = predicted.reshape(n, -1).astype("int64")
    y = np.asarray(y).reshape(n, -1).astype("int64")
    keep = np.ones_like(y, dtype=bool) if ignore_label is None else y != ignore_label
    classes = max(k, 2)
    scores = np.full(n, np.nan)
    for i in range(n):
        truth, guess = y[i][keep[i]], predicted[i][keep[i]]
        if not truth.size:
            continue
        if metric == "accuracy":
            scores[i] = np.mean(truth == guess)
            continue
        confusion = np.bincount(truth * classes + guess, minlength=classes * classes)
        confusion = confusion.reshape(classes, classes)
        overlap = np.diag(confusion)
        union = confusion.sum(axis=0) + confusion.sum(axis=1) - overlap
        scores[i] = np.mean(overlap[union > 0] / union[union > 0])
    return scores

