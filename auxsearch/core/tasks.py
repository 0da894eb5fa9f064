"""The task table: what each kind of supervised task means to every module.

A task decides the main output's activation, its loss, the metric the
objective reads and its direction, what labels must look like, and the
score of the best constant prediction (the chance level the leaderboard
flags). Every module reads these facts here, and nowhere else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Task:
    """One kind of supervised task.

    Attributes:
        name: "multiclass", "binary", "regression" or "segmentation".
        activation: The main output's activation for probabilities (or
            values): what built-in models and auxiliary heads end in.
        loss: The Keras loss of the main output and of every head.
        logits_loss: The Keras loss class that takes `from_logits=True`, for
            a model whose output is not a probability; `None` where outputs
            are values anyway (regression).
        metric: The metric the objective reads, as Keras names it.
        direction: "max" or "min", the metric's better direction.
        classes: Boolean, whether labels are class indices.
        label_dtype: The dtype labels are cast to for training.
        labels: What labels must be, in words (for messages).
        output: What the model's output must be, in words (for messages).
        positions: Boolean, whether labels are per position (a mask
            `(n, H, W)` or a sequence `(n, T)`, one class per position):
            the output keeps the positions, `(batch, *positions, K)`, and so
            does every head (a map, not a pooled vector).
        one_hot: Boolean, whether one-hot labels are taken as their classes.
        units: `(low, high)`, the widths the main output's last axis may
            have (`high` None: any).
        metrics: The metrics every output with labels reports besides the
            objective's, as Keras names them.
    """

    name: str
    activation: str
    loss: str
    logits_loss: str | None
    metric: str
    direction: str
    classes: bool
    label_dtype: str
    labels: str
    output: str
    positions: bool = False
    one_hot: bool = False
    units: tuple[int, int | None] = (1, None)
    metrics: tuple[str, ...] = ()

    def output_fits(self, shape: tuple[int | None, ...]) -> bool:
        """Whether a main output of `shape` (batch axis first) fits the task.

        One row per example `(batch, units)`; per position `(batch, T, K)` or
        `(batch, H, W, K)`, the position axes may be None (any size).
        """
        ranks = (3, 4) if self.positions else (2,)
        low, high = self.units
        return (len(shape) in ranks and shape[-1] is not None and shape[-1] >= low
                and (high is None or shape[-1] <= high))

    def num_classes(self, y: Any, ignore_label: int | None = None) -> int | None:
        """The classes labels `y` imply: the largest label + 1 (binary: 2).

        `None` for targets; 0 for no labels. The ignore label is no class.
        """
        if not self.classes:
            return None
        if self.units == (1, 1):  # one probability: two classes
            return 2
        y = np.asarray(y)
        if ignore_label is not None:
            y = y[y != ignore_label]
        return int(y.max()) + 1 if y.size else 0

    def chance_score(self, y: Any, metric: str,
                     ignore_label: int | None = None) -> float | None:
        """Returns `metric` for the best constant prediction of labels `y`.

        The majority class's share for accuracy; for mean IoU (per position)
        that share over the number of classes present, since a constant
        prediction of the majority class scores its share as that class's
        IoU and 0 on every other class present; the mean absolute deviation
        from the median for MAE; `None` for other metrics or no labels.
        Positions labelled `ignore_label` count in none of them. A model
        that does no better has learnt nothing.
        """
        y = np.asarray(y)
        if self.classes and ignore_label is not None:
            y = y[y != ignore_label]
        if not y.size:
            return None
        if metric in ("accuracy", "mean_iou") and self.classes:
            counts = np.bincount(y.astype(int).ravel())
            share = float(counts.max() / y.size)
            return share / np.count_nonzero(counts) if metric == "mean_iou" else share
        if metric == "mae":
            return float(np.mean(np.abs(y - np.median(y, axis=0))))
        return None


# The range of each metric an objective may read: intervals stay inside it.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "accuracy": (0.0, 1.0), "mean_iou": (0.0, 1.0), "mae": (0.0, None), "loss": (0.0, None)}


def learnt(score: float, chance: float, direction: str) -> bool:
    """Whether a score beats the best constant prediction's by a margin.

    The margin is 1 point of accuracy ("max" metrics) or 1% of the constant
    prediction's error ("min" metrics); a score within it has learnt
    nothing. The leaderboard flags such a configuration, and confirmation
    counts such seeds as not trained.
    """
    if direction == "max":
        return score > chance + 0.01
    return score < chance - 0.01 * abs(chance)


def counted_score(score: float | None, chance: float | None, direction: str) -> float:
    """A score as the race counts it: a diverged training (`None`) learnt nothing.

    It counts as a constant prediction's score (`chance`), or, without one,
    as the worst score there is for the direction ("max" or "min").
    """
    if score is not None:
        return score
    if chance is not None:
        return chance
    return -math.inf if direction == "max" else math.inf


TASKS: dict[str, Task] = {
    task.name: task for task in (
        Task("multiclass", "softmax", "sparse_categorical_crossentropy",
             "SparseCategoricalCrossentropy", "accuracy", "max", classes=True,
             label_dtype="int32", labels="integers 0..K-1, one per example",
             output="class probabilities of shape (batch, num_classes)",
             one_hot=True, units=(2, None)),
        Task("binary", "sigmoid", "binary_crossentropy", "BinaryCrossentropy",
             "accuracy", "max", classes=True, label_dtype="float32",
             labels="0 or 1, one per example",
             output="one sigmoid probability, shape (batch, 1)", units=(1, 1)),
        Task("regression", "linear", "mse", None, "mae", "min", classes=False,
             label_dtype="float32", labels="numbers, (n,) or (n, outputs)",
             output="predictions of shape (batch, targets)"),
        # Per position: the objective is the dataset-level mean IoU (Keras'
        # confusion matrix), reported with per-position accuracy. Width 1 is
        # a binary mask as one sigmoid per position.
        Task("segmentation", "softmax", "sparse_categorical_crossentropy",
             "SparseCategoricalCrossentropy", "mean_iou", "max", classes=True,
             label_dtype="int32",
             labels="integer masks 0..K-1, (n, H, W), (n, H, W, 1) or (n, T), or one-hot",
             output="class scores per position, (batch, H, W, K) or (batch, T, K)",
             positions=True, one_hot=True, units=(1, None), metrics=("accuracy",)),
    )
}
ACTIVATIONS = tuple(dict.fromkeys(task.activation for task in TASKS.values()))
