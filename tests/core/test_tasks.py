"""The task table."""

import numpy as np
import pytest

from auxsearch.core.errors import SpaceError
from auxsearch.core.rules import check
from auxsearch.core.tasks import ACTIVATIONS, TASKS


def test_every_task_has_its_facts():
    assert list(TASKS) == ["multiclass", "binary", "regression"]
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
