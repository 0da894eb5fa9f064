"""The preflight: one training step of a trial model on the real data, first.

Whatever can make every trial fail (a model that does not take the data,
labels that do not fit its output, a hint whose targets do not fit its
adapter) shows here, before a run directory is created, as one line. The
trial model holds every candidate output and runs one training step and one
evaluation step eagerly, on a few examples of the training and validation
splits: no step function is traced, so it costs a fraction of a trial.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import keras
import numpy as np

from auxsearch.core.errors import AuxSearchError, DataError, ModelError
from auxsearch.core.messages import error_line
from auxsearch.data.checks import check_inputs
from auxsearch.data.dataset import Dataset
from auxsearch.data.labels import prepare_labels
from auxsearch.trial import routing
from auxsearch.trial.trainer import Trainer

logger = logging.getLogger(__name__)

EXAMPLES = 8  # examples per split the preflight trains and evaluates on
# First layers that scale their inputs: data need not be scaled before them.
_SCALING = (keras.layers.Rescaling, keras.layers.Normalization)


def preflight(trainer: Trainer, data: Dataset, where: str = "data") -> float:
    """Checks that the search's trial models train on the data.

    Args:
        trainer: The search's trainer (`AuxLossHyperModel.trainer`).
        data: The data set it will search on.
        where: What the data is called in messages (its file).

    Returns:
        The seconds the preflight took.

    Raises:
        DataError: If the labels or targets do not fit the model's outputs.
        ModelError: If a trial model cannot take the data, or cannot train
            on it (the message names the cause, in one line).
    """
    started = time.perf_counter()
    model = trainer.assembly.model(trainer.space.variants())
    check_inputs(data, [t.name for t in model.inputs],
                 {t.name: tuple(t.shape) for t in model.inputs}, where)
    _check_targets(trainer, data, where)
    _warn_if_unscaled(model, data.x_train, where)
    args = trainer.assembly.compile_args(trainer.space.variants())
    outputs = list(model.output_names)
    model.compile(**args, loss_weights=dict.fromkeys(outputs, 1.0), run_eagerly=True)
    structure = trainer.space.variants()
    hints = tuple(trainer.hints)
    few = data.head(EXAMPLES)
    for split, step in (("train", model.train_on_batch), ("val", model.test_on_batch)):
        x, y = (few.x_train if split == "train" else few.x_val), few.labels(split)
        if not isinstance(x, dict):  # the trial model takes a list of its inputs
            x = [x]
        try:
            step(x, routing.targets(y, outputs, structure, hints))
        except AuxSearchError:
            raise
        except Exception as err:  # Keras and the backends raise many kinds
            raise ModelError(
                f"{where}: a trial model of {model.name!r} cannot "
                f"{'train' if split == 'train' else 'evaluate'} on the {split} split: "
                f"{type(err).__name__}: {error_line(err, first=True)}"
            ) from err
    seconds = time.perf_counter() - started
    logger.info("preflight: one training and one evaluation step in %.2f s", seconds)
    return seconds


def _check_targets(trainer: Trainer, data: Dataset, where: str) -> None:
    """Regression targets must have as many columns as the model outputs; masks
    must have its positions and classes (`labels.prepare_labels`)."""
    assembly = trainer.assembly
    if trainer.task.positions:
        for split in ("train", "val", "test"):
            if not data.num_examples(split):
                continue
            prepare_labels(trainer.task, getattr(data, f"y_{split}"), units=assembly.units,
                           where=where, positions=assembly.positions,
                           ignore_label=assembly.ignore_label, name=f"y_{split}")
    if trainer.task.classes:
        return
    y = data.y_train
    columns = y.shape[1] if y.ndim == 2 else 1
    if columns != trainer.units:
        raise DataError(
            f"{where}: regression targets have {columns} column{'s' * (columns != 1)}; "
            f"the model outputs {trainer.units}"
        )


def _warn_if_unscaled(model: keras.Model, x: Any, where: str) -> None:
    """Logs one warning for image-shaped inputs that look like raw pixels."""
    first = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if first and isinstance(first[0], _SCALING):
        return
    arrays = x.items() if isinstance(x, dict) else [("x_train", x)]
    for name, array in arrays:
        if array.ndim < 3 or not array.size:  # (examples, height, width[, channels])
            continue
        top = float(np.max(np.abs(array)))
        whole = bool(np.all(array == np.round(array)))
        if (whole and top > 1) or top > 10:
            logger.warning(
                "%s: %s looks unscaled (values up to %g%s); scale it to [0, 1], or start "
                "the model with keras.layers.Rescaling", where,
                name if name.startswith("x_") else f"x_train/{name}", top,
                ", whole numbers" if whole else "")
            return

