"""What a trial reports besides Keras' logs: the leaderboard's raw data.

Keras Tuner keeps each metric of a trial at its best epoch only, so what the
leaderboards need beyond that is stored as metrics that are constant over
the epochs: the objective at every absolute epoch (`at_epoch/<n>`, the
baseline's curve for `delta_vs_baseline`), the chance score, the epochs
trained and the wall time. `leaderboards` and `progress` read them back by
the names in `names`.
"""

from __future__ import annotations

from typing import Any

from auxsearch.core import names
from auxsearch.core.tasks import Task
from auxsearch.trial import routing


def add_report(
    history: Any,
    objective: str,
    initial_epoch: int,
    chance: float | None,
    fit_seconds: float,
    trial_seconds: float,
) -> None:
    """Adds a trial's report to its Keras `History`, in place.

    Args:
        history: The `keras.callbacks.History` that `fit` returned.
        objective: The objective's name.
        initial_epoch: Integer, the absolute epoch training started from.
        chance: The objective of the best constant prediction, if known.
        fit_seconds: Float, the wall time of `fit`.
        trial_seconds: Float, the wall time of build and fit.
    """
    epochs = len(history.epoch)
    report = {f"{names.AT_EPOCH}{epoch}": value for epoch, value in
              enumerate(history.history.get(objective, []), initial_epoch + 1)}
    if chance is not None:
        report[names.CHANCE_SCORE] = chance
    report[names.EPOCHS_TRAINED] = epochs
    report[names.FIT_SECONDS] = fit_seconds
    report[names.TRIAL_SECONDS] = trial_seconds
    for key, value in report.items():
        history.history[key] = [value] * epochs


def chance_score(task: Task, objective: str, validation_data: Any,
                 ignore_label: int | None = None) -> float | None:
    """The objective's value for the best constant prediction, if known.

    A model that does no better has learnt nothing, e.g. because a large
    auxiliary weight made it diverge; the leaderboard flags it. Known for
    array validation data (not a dataset); positions labelled
    `ignore_label` do not count.
    """
    if validation_data is None or routing.is_dataset(validation_data):
        return None
    return task.chance_score(routing.main_labels(validation_data[1]),
                             names.objective_metric(objective), ignore_label)
