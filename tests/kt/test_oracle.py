"""HyperbandOracleBase's hooks and failure rule, and the bracket maths; no model built."""

from __future__ import annotations

import json

import keras_tuner as kt
import pytest

from auxsearch.core.errors import SearchFailed
from auxsearch.kt.oracle import HyperbandOracleBase, hyperband_brackets
from tests.conftest import finishes
from tests.oracles import set_project_dir


def _space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Boolean("tap/a")
    with hp.conditional_scope("tap/a", [True]):
        hp.Float("weight/a", 0.1, 1.0, default=0.5)
    return hp


def _hyperband(tmp_path, cls=HyperbandOracleBase, **kwargs) -> HyperbandOracleBase:
    oracle = cls(kt.Objective("score", "max"), max_epochs=9, factor=3,
                 hyperparameters=_space(), seed=1, **kwargs)
    set_project_dir(oracle, tmp_path, "p")
    return oracle


def _fail(oracle, message="Traceback (most recent call last):\n  ...\nValueError: boom\n"):
    trial = oracle.create_trial("tuner0")
    trial.status = "FAILED"
    trial.message = message
    oracle.end_trial(trial)
    return trial


def _play(oracle) -> list:
    """Plays a whole search, every trial scoring 1; returns the trials."""
    trials = []
    while (trial := oracle.create_trial("tuner0")).status == "RUNNING":
        trials.append(trial)
        oracle.update_trial(trial.trial_id, {"score": 1.0})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return trials


def test_consecutive_failures_end_the_search_with_one_line(tmp_path):
    oracle = _hyperband(tmp_path)
    _fail(oracle)
    _fail(oracle)
    trial = oracle.create_trial("tuner0")
    trial.status = "COMPLETED"  # resets the count
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    oracle.end_trial(trial)
    _fail(oracle)
    _fail(oracle)
    message = ("Traceback (most recent call last):\n  File ...\nauxsearch.errors.ModelError: "
               "the model builder first built 9 layers, then 10; ...\n")
    with pytest.raises(SearchFailed, match=r"^3 trials failed in a row; the last \(trial 0005\) "
                       r"failed with: auxsearch\.errors\.ModelError: the model builder first "
                       r"built 9 layers, then 10; \.\.\.$"):
        _fail(oracle, message)
    assert finishes(oracle.get_best_trials), "the oracle stayed locked"
    saved = json.loads((tmp_path / "p" / "trial_0005" / "trial.json").read_text())
    assert saved["status"] == "FAILED" and saved["message"] == message


def test_a_failure_without_message_is_named_so(tmp_path):
    oracle = _hyperband(tmp_path, max_consecutive_failed_trials=1)
    with pytest.raises(SearchFailed, match=r"^1 trials failed in a row; the last \(trial 0000\) "
                       r"failed with no message$"):
        _fail(oracle, "")


class _Scheduled(HyperbandOracleBase):
    def scheduled_values(self, bracket):
        if bracket != 0 or getattr(self, "done", False):
            return None
        self.done = True
        return {"tap/a": True, "weight/a": 0.25}


def test_scheduled_values_take_a_brackets_first_place(tmp_path):
    trials = _play(_hyperband(tmp_path, _Scheduled))
    fixed = [t.hyperparameters.values for t in trials
             if t.hyperparameters.values.get("weight/a") == 0.25]
    assert fixed == [{"tap/a": True, "weight/a": 0.25, "tuner/epochs": 9,
                      "tuner/initial_epoch": 0, "tuner/bracket": 0, "tuner/round": 0}]


class _ByTap(HyperbandOracleBase):
    def identity(self, values):
        return {"tap/a": values.get("tap/a")}


def test_identities_decide_what_counts_as_tried(tmp_path):
    oracle = _hyperband(tmp_path, _ByTap)
    oracle.mark_tried({"tap/a": False})
    new = [t.hyperparameters.values for t in _play(oracle)
           if "tuner/trial_id" not in t.hyperparameters.values]
    assert len(new) == 1 and new[0]["tap/a"] is True  # the one identity left


def _complete(oracle, trial, score: float) -> None:
    oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def test_a_promotion_waits_until_no_trial_of_its_round_runs(tmp_path):
    # The first bracket trains 9 configurations for 1 epoch, then promotes its
    # best 3. With trials held at once, it waits for the last of the 9 (the
    # best here) instead of promoting from the 8 that happened to end first.
    oracle = _hyperband(tmp_path)
    first_round = [oracle.create_trial(f"tuner{i}") for i in range(9)]
    assert {t.hyperparameters.values["tuner/epochs"] for t in first_round} == {1}
    for trial in first_round[:8]:
        _complete(oracle, trial, 1.0)
    meanwhile = oracle.create_trial("tuner0")
    assert "tuner/trial_id" not in meanwhile.hyperparameters.values  # no promotion yet
    _complete(oracle, first_round[8], 2.0)
    promoted = oracle.create_trial("tuner1")
    assert promoted.hyperparameters.values["tuner/trial_id"] == first_round[8].trial_id


def test_hyperband_brackets_follow_keras_tuner():
    assert hyperband_brackets(9, 3) == [
        [(3, 9)], [(5, 3), (2, 9)], [(9, 1), (3, 3), (1, 9)]]
    assert hyperband_brackets(1, 3) == [[(1, 1)]]
