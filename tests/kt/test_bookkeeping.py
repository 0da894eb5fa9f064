"""The oracle's bookkeeping, read and changed under its lock; no model built."""

from __future__ import annotations

import threading

import keras_tuner as kt
import pytest

from auxsearch.kt.bookkeeping import (
    ended_trials,
    fail_trial,
    forget_tuner,
    oracle_lock,
    oracle_state,
    running_trials,
)
from tests.conftest import finishes
from tests.oracles import set_project_dir


def _oracle(tmp_path) -> kt.Oracle:
    hp = kt.HyperParameters()
    hp.Float("weight/a", 0.1, 1.0)
    oracle = kt.oracles.RandomSearchOracle(
        kt.Objective("score", "max"), max_trials=5, hyperparameters=hp, seed=1)
    set_project_dir(oracle, tmp_path, "search")
    return oracle


def test_the_oracle_lock_is_released_when_its_block_raises(tmp_path):
    oracle = _oracle(tmp_path)
    with pytest.raises(ValueError, match="a trial hook failed"):
        with oracle_lock(oracle):
            raise ValueError("a trial hook failed")

    def acquire():
        with oracle_lock(oracle):
            pass

    assert finishes(acquire), "the lock stayed held after the exception"
    assert finishes(oracle.create_trial, "tuner1"), "the oracle's own methods hang"


def test_the_oracle_lock_is_reentrant_and_excludes_other_threads(tmp_path):
    oracle = _oracle(tmp_path)
    entered = threading.Event()
    with oracle_lock(oracle):
        with oracle_lock(oracle):  # as `synchronized`: no deadlock in one thread
            oracle.create_trial("tuner0")  # a `synchronized` method
        thread = threading.Thread(
            target=lambda: (oracle.create_trial("tuner1"), entered.set()), daemon=True)
        thread.start()
        assert not entered.wait(0.3)  # Keras Tuner's own methods wait for it
    thread.join(10)
    assert entered.is_set()


def test_the_state_shows_running_and_ended_trials_and_the_tuners(tmp_path):
    oracle = _oracle(tmp_path)
    first = oracle.create_trial("tuner0")
    second = oracle.create_trial("tuner1")
    assert running_trials(oracle) == {"tuner0": first.trial_id, "tuner1": second.trial_id}
    oracle.update_trial(first.trial_id, {"score": 1.0})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    state = oracle_state(oracle)
    assert state.ended == ended_trials(oracle) == [first.trial_id]
    assert state.running == {"tuner1": second.trial_id}
    assert state.tuners == {"tuner0", "tuner1"}


def test_failing_a_trial_ends_it_and_forgets_its_tuner(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner7")
    assert fail_trial(oracle, "tuner7", trial.trial_id, "worker tuner7 died (exit code -9)")
    assert oracle.get_trial(trial.trial_id).status == "FAILED"
    assert oracle.get_trial(trial.trial_id).message == "worker tuner7 died (exit code -9)"
    assert oracle_state(oracle) == ([trial.trial_id], {}, set())


def test_a_trial_that_ended_meanwhile_is_not_failed(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    newer = oracle.create_trial("tuner0")  # the tuner's next trial: not the one to fail
    assert not fail_trial(oracle, "tuner0", trial.trial_id, "too late")
    assert oracle.get_trial(trial.trial_id).status == "COMPLETED"
    assert running_trials(oracle) == {"tuner0": newer.trial_id}


def test_a_forgotten_tuner_is_no_longer_waited_for(tmp_path):
    oracle = _oracle(tmp_path)
    oracle.create_trial("tuner0")
    oracle.create_trial("tuner1")
    forget_tuner(oracle, "tuner1")
    forget_tuner(oracle, "tuner9")  # never seen: nothing to forget
    assert oracle_state(oracle).tuners == {"tuner0"}


def test_a_workers_client_has_no_running_trials():
    class Client:  # as Keras Tuner's gRPC client: no bookkeeping of its own
        pass

    assert running_trials(Client()) == {}
