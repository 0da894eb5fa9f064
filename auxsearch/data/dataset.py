"""The data set: train, validation and test arrays of one task, and hints.

A `Dataset` is what every loader returns (`auxsearch.data.load`), checked and
cast by `auxsearch.data.checks.check_dataset`; its task's facts (activation,
whether labels are classes) come from the task table `auxsearch.core.tasks.TASKS`.

The inputs of a split are one array (a model with one input), or a dict of
named inputs `{input name: array}` (an `.npz` archive's `x_train/<input>`
arrays): every split then has the same names, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from auxsearch.core.names import HINT_KEY, MAIN
from auxsearch.core.tasks import TASKS

# One split's inputs: one array, or named inputs in the model's terms.
Inputs = np.ndarray | dict[str, np.ndarray]

SPLITS = ("train", "val", "test")


def named_inputs(x: Inputs, name: str) -> list[tuple[str, np.ndarray]]:
    """Returns a split's inputs as `(array name, array)` pairs.

    Args:
        x: One split's inputs.
        name: What the split's x is called: `x_train`, `x_val`, `x_test`.

    Returns:
        `[(name, x)]` for one array; `[(f"{name}/{input}", array), ...]`
        for named inputs, in their order (the `.npz` layout's names).
    """
    if isinstance(x, Mapping):
        return [(f"{name}/{key}", array) for key, array in x.items()]
    return [(name, x)]


def map_inputs(x: Inputs, function: Any) -> Inputs:
    """Applies `function` to every input array, keeping the names."""
    if isinstance(x, Mapping):
        return {key: function(array) for key, array in x.items()}
    return function(x)


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits of a supervised task.

    Attributes:
        x_train, y_train: The arrays the trials train on.
        x_val, y_val: The arrays the objective is measured on.
        x_test, y_test: Held out: never seen by the search (may be empty).
        task: A name in `auxsearch.core.tasks.TASKS`. Multiclass labels are
            `0 .. num_classes-1`, binary labels 0 or 1, regression targets
            `(n,)` or `(n, d)`, segmentation masks `(n, H, W)` or `(n, T)`.
        hints: Layer name -> `(train targets, val targets)`, aligned with
            `x_train` and `x_val`: targets for that layer's auxiliary head.
        ignore_label: Per position (segmentation), the label of positions
            that count in no loss and no metric, or `None`.

    Each `x_*` is an array, or a dict `{input name: array}` of named inputs
    (one row per example in every array); `len(y_*)` counts the examples.
    """

    x_train: Inputs
    y_train: np.ndarray
    x_val: Inputs
    y_val: np.ndarray
    x_test: Inputs
    y_test: np.ndarray
    task: str = "multiclass"
    hints: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    ignore_label: int | None = None

    @property
    def input_names(self) -> list[str] | None:
        """The names of named inputs, in order; None for one plain array."""
        if isinstance(self.x_train, Mapping):
            return list(self.x_train)
        return None

    @property
    def input_shape(self) -> tuple[int, ...] | dict[str, tuple[int, ...]]:
        """The shape of one example: a tuple, or `{input name: shape}`."""
        if isinstance(self.x_train, Mapping):
            return {key: tuple(x.shape[1:]) for key, x in self.x_train.items()}
        return tuple(self.x_train.shape[1:])

    def num_examples(self, split: str) -> int:
        """The examples in a split: "train", "val" or "test"."""
        if split not in SPLITS:
            raise KeyError(split)
        return len(getattr(self, f"y_{split}"))

    def head(self, n: int) -> Dataset:
        """A copy with at most the first `n` examples of every split.

        For a quick trial run on real data (inputs, labels and hints alike).
        """
        def first(array: np.ndarray) -> np.ndarray:
            return array[:n]

        return type(self)(
            map_inputs(self.x_train, first), self.y_train[:n],
            map_inputs(self.x_val, first), self.y_val[:n],
            map_inputs(self.x_test, first), self.y_test[:n], task=self.task,
            hints={layer: (train[:n], val[:n])
                   for layer, (train, val) in self.hints.items()},
            ignore_label=self.ignore_label,
        )

    @property
    def num_classes(self) -> int | None:
        """Classes: the largest label + 1 (not the ignore label), binary 2, regression None."""
        task = TASKS[self.task]
        return max(task.num_classes(y, self.ignore_label) or 0
                   for y in (self.y_train, self.y_val)) if task.classes else None

    @property
    def num_outputs(self) -> int:
        """Units of the main output layer: its classes, 1 (binary), or the targets."""
        task = TASKS[self.task]
        if task.classes:
            return 1 if task.units == (1, 1) else int(self.num_classes)
        return 1 if self.y_train.ndim == 1 else int(self.y_train.shape[1])

    @property
    def activation(self) -> str:
        """The main output's activation: softmax, sigmoid or linear."""
        return TASKS[self.task].activation

    def labels(self, split: str) -> Any:
        """Returns the `y` that `AuxLossHyperModel.fit` takes for a split.

        Args:
            split: "train" or "val".

        Returns:
            The labels, or with hint targets a dict `{"main": labels,
            "hint/<layer>": targets}`.
        """
        index = {"train": 0, "val": 1}[split]
        y = self.y_train if split == "train" else self.y_val
        if not self.hints:
            return y
        return {MAIN: y, **{f"{HINT_KEY}{layer}": pair[index]
                            for layer, pair in self.hints.items()}}
