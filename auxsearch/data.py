"""Data sets: the arrays a search trains, validates and tests on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Dataset:
    """Train, validation and test splits of a classification task.

    Attributes:
        x_train, y_train: The arrays the trials train on.
        x_val, y_val: The arrays the objective is measured on.
        x_test, y_test: Held out: never seen by the search.
        num_classes: The number of classes; labels are `0 .. num_classes-1`.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example."""
        return tuple(self.x_train.shape[1:])


def load_digits(
    seed: int, validation_fraction: float = 0.2, test_fraction: float = 0.2
) -> Dataset:
    """Loads scikit-learn's 8x8 digits (shipped with it: no download).

    Pixels are scaled to [0, 1] and shaped `(8, 8, 1)`; the splits are
    stratified by class and drawn with `seed`.

    Args:
        seed: Integer, the seed of the split.
        validation_fraction: Float, the share of all examples to validate on.
        test_fraction: Float, the share of all examples held out for testing.

    Returns:
        The `Dataset`, 10 classes.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    x, y = sklearn_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    return split(x, y.astype("int32"), seed, validation_fraction, test_fraction)


def split(
    x: np.ndarray,
    y: np.ndarray,
    seed: int,
    validation_fraction: float,
    test_fraction: float,
) -> Dataset:
    """Splits labelled arrays three ways, stratified by class."""
    if test_fraction > 0:
        x, x_test, y, y_test = train_test_split(
            x, y, test_size=test_fraction, random_state=seed, stratify=y
        )
    else:
        x_test, y_test = x[:0], y[:0]
    x_train, x_val, y_train, y_val = train_test_split(
        x, y,
        test_size=validation_fraction / (1 - test_fraction),
        random_state=seed,
        stratify=y,
    )
    return Dataset(x_train, y_train, x_val, y_val, x_test, y_test,
                   num_classes=int(max(y_train.max(), y_val.max())) + 1)


BUILTIN_DATA: dict[str, Callable[..., Dataset]] = {"digits": load_digits}
