"""The task table: what each kind of supervised task means to every module.

A task decides the main output's activation, its loss, the metric the
objective reads and its direction, what labels must look like, and the
score of the best constant prediction (the chance level the leaderboard
flags). Every module reads these facts here, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Task:
    """One kind of supervised task.

    Attributes:
        name: "multiclass", "binary" or "regression".
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

    def chance_score(self, y: Any, metric: str) -> float | None:
        """Returns `metric` for the best constant prediction of labels `y`.

        The majority class's share for accuracy, the mean absolute deviation
        from the median for MAE; `None` for other metrics or no labels. A
        model that does no better has learnt nothing.
        """
        y = np.asarray(y)
        if not y.size:
            return None
        if metric == "accuracy" and self.classes:
            return float(np.bincount(y.astype(int).ravel()).max() / y.size)
        if metric == "mae":
            return float(np.mean(np.abs(y - np.median(y, axis=0))))
        return None


# The range of each metric an objective may read: intervals stay inside it.
METRIC_RANGES: dict[str, tuple[float | None, float | None]] = {
    "accuracy": (0.0, 1.0), "mae": (0.0, None), "loss": (0.0, None)}


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


TASKS: dict[str, Task] = {
    task.name: task for task in (
        Task("multiclass", "softmax", "sparse_categorical_crossentropy",
             "SparseCategoricalCrossentropy", "accuracy", "max", classes=True,
             label_dtype="int32", labels="integers 0..K-1, one per example",
             output="class probabilities of shape (batch, num_classes)"),
        Task("binary", "sigmoid", "binary_crossentropy", "BinaryCrossentropy",
             "accuracy", "max", classes=True, label_dtype="float32",
             labels="0 or 1, one per example",
             output="one sigmoid probability, shape (batch, 1)"),
        Task("regression", "linear", "mse", None, "mae", "min", classes=False,
             label_dtype="float32", labels="numbers, (n,) or (n, outputs)",
             output="predictions of shape (batch, targets)"),
    )
}
ACTIVATIONS = tuple(dict.fromkeys(task.activation for task in TASKS.values()))
