"""The task table."""

import numpy as np
import pytest

from auxsearch.core.errors import SpaceError
from auxsearch.core.rules import check
from auxsearch.core.tasks import ACTIVATIONS, TASKS, counted_score


def test_every_task_has_its_facts():
    assert list(TASKS) == ["multiclass", "binary", "regression", "segmentation"]
    assert ACTIVATIONS == ("softmax", "sigmoid", "linear")
    assert {t.direction for t in TASKS.values()} <= {"max", "min"}
    assert TASKS["regression"].logits_loss is None and not TASKS["regression"].classes


def test_chance_score_is_the_best_constant_prediction():
    y = np.array([0, 1, 1, 2, 1])
    assert TASKS["multiclass"].chance_score(y, "accuracy") == pytest.approx(0.6)
    assert TASKS["binary"].chance_score(np.array([0.0, 1, 1, 1]), "accuracy") == 0.75
    targets = np.array([1.0, 2, 3, 10])
    assert TASKS["regression"].chance_score(targets, "mae") == pytest.approx(
        np.mean(np.abs(targets - 2.5)))
    assert TASKS["multiclass"].chance_score(y, "loss") is None
    assert TASKS["multiclass"].chance_score(np.array([]), "accuracy") is None


def test_an_unknown_task_suggests_the_closest():
    with pytest.raises(SpaceError, match=r"task must be one of .*; got 'multiclas' "
                                         r"\(did you mean 'multiclass'\?\)"):
        check("task", "multiclas")


def test_segmentation_is_per_position_and_ranks_by_mean_iou():
    task = TASKS["segmentation"]
    assert task.positions and task.one_hot and task.metric == "mean_iou"
    assert task.output_fits((None, 16, 16, 3)) and task.output_fits((None, 12, 4))
    assert task.output_fits((None, None, None, 1))  # a binary mask, any size
    assert not task.output_fits((None, 10)) and not TASKS["multiclass"].output_fits((None, 4, 4))
    assert not TASKS["binary"].output_fits((None, 2))


def test_the_chance_of_a_mask_is_the_constant_predictions_mean_iou():
    # 6 of 10 positions class 0, 3 class 1, 1 class 2, two ignored (255):
    # predicting 0 everywhere scores IoU 0.6 on class 0 and 0 on the others.
    y = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 1, 2]])
    ignored = np.concatenate([y, [[255, 255, 0, 0, 0]]])[:, :5]
    task = TASKS["segmentation"]
    assert task.chance_score(y, "mean_iou") == pytest.approx(0.6 / 3)
    assert task.chance_score(y, "accuracy") == pytest.approx(0.6)
    assert task.chance_score(ignored, "mean_iou", ignore_label=255) == pytest.approx(
        9 / 13 / 3)
    assert task.num_classes(ignored, ignore_label=255) == 3
    assert task.num_classes(ignored) == 256


def test_a_diverged_score_counts_as_chance_else_the_worst():
    assert counted_score(0.8, 0.1, "max") == 0.8
    assert counted_score(None, 0.1, "max") == 0.1
    assert counted_score(None, None, "max") == -np.inf
    assert counted_score(None, None, "min") == np.inf
