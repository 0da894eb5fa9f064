"""The Keras Tuner shim: version check, oracle lock, hooks, gRPC pieces; no model built."""

from __future__ import annotations

import json
import os
import threading
from concurrent import futures

import grpc
import keras_tuner as kt
import pytest

from auxsearch import ktshim
from auxsearch.errors import AuxSearchError, SearchFailed
from auxsearch.ktshim import (
    ChiefServicer,
    HyperbandOracleBase,
    KerasTunerVersionError,
    WorkerClient,
    check_version,
    hyperband_brackets,
    local_oracle,
    oracle_lock,
    set_project_dir,
    show_tracebacks,
    tuner_env,
)

WAIT = 10  # seconds: a thread that does not finish by then is stuck


def _in_thread(function, *args):
    """Runs `function` in another thread; returns whether it finished in time."""
    thread = threading.Thread(target=function, args=args, daemon=True)
    thread.start()
    thread.join(WAIT)
    return not thread.is_alive()


def _space():
    hp = kt.HyperParameters()
    hp.Boolean("tap/a")
    with hp.conditional_scope("tap/a", [True]):
        hp.Float("weight/a", 0.1, 1.0, default=0.5)
    return hp


def _hyperband(tmp_path, cls=HyperbandOracleBase, **kwargs):
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


def test_the_installed_version_is_supported_and_others_are_refused():
    check_version(kt.__version__)
    for good in ("1.4.8", "1.4.9", "1.4.10rc1"):
        check_version(good)
    for bad in ("1.4.7", "1.5.0", "2.0.0"):
        with pytest.raises(KerasTunerVersionError,
                           match=rf"^auxsearch needs keras-tuner>=1\.4\.8,<1\.5, but "
                                 rf"keras-tuner {bad} is installed$"):
            check_version(bad)
    assert issubclass(KerasTunerVersionError, AuxSearchError)
    assert issubclass(KerasTunerVersionError, ImportError)


def test_show_tracebacks_sets_keras_tuners_flag_and_returns_the_old_one():
    before = show_tracebacks(False)
    try:
        assert show_tracebacks(True) is False
        assert show_tracebacks(False) is True
    finally:
        show_tracebacks(before)


def test_muted_conditions_print_nothing_when_sent(capsys):
    ktshim.mute_condition_print()
    _space().to_proto()
    assert capsys.readouterr().out == ""


def test_the_oracle_lock_is_released_when_its_block_raises(tmp_path):
    oracle = _hyperband(tmp_path)
    with pytest.raises(ValueError, match="a trial hook failed"):
        with oracle_lock(oracle):
            raise ValueError("a trial hook failed")

    def acquire():
        with oracle_lock(oracle):
            pass

    assert _in_thread(acquire), "the lock stayed held after the exception"
    assert _in_thread(oracle.create_trial, "tuner1"), "the oracle's own methods hang"


def test_the_oracle_lock_is_reentrant_and_excludes_other_threads(tmp_path):
    oracle = _hyperband(tmp_path)
    entered = threading.Event()
    with oracle_lock(oracle):
        with oracle_lock(oracle):  # as `synchronized`: no deadlock in one thread
            oracle.create_trial("tuner0")  # a `synchronized` method
        thread = threading.Thread(
            target=lambda: (oracle.create_trial("tuner1"), entered.set()), daemon=True)
        thread.start()
        assert not entered.wait(0.3)  # Keras Tuner's own methods wait for it
    thread.join(WAIT)
    assert entered.is_set()


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
    assert _in_thread(oracle.get_best_trials), "the oracle stayed locked"
    saved = json.loads((tmp_path / "p" / "trial_0005" / "trial.json").read_text())
    assert saved["status"] == "FAILED" and saved["message"] == message


def test_a_failure_without_message_is_named_so(tmp_path):
    oracle = _hyperband(tmp_path, max_consecutive_failed_trials=1)
    with pytest.raises(SearchFailed, match=r"^1 trials failed in a row; the last \(trial 0000\) "
                       r"failed with no message$"):
        _fail(oracle, "")


def _play(oracle):
    """Plays a whole search, every trial scoring 1; returns the trials."""
    trials = []
    while (trial := oracle.create_trial("tuner0")).status == "RUNNING":
        trials.append(trial)
        oracle.update_trial(trial.trial_id, {"score": 1.0})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return trials


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


def test_state_files_are_written_atomically(tmp_path, monkeypatch):
    written = []
    real = ktshim.save_json
    monkeypatch.setattr(ktshim, "save_json",
                        lambda path, obj: written.append(os.path.basename(path)) or real(path, obj))
    oracle = _hyperband(tmp_path)
    oracle.create_trial("tuner0")
    assert {"oracle.json", "trial.json"} <= set(written)


def test_hyperband_brackets_follow_keras_tuner():
    assert hyperband_brackets(9, 3) == [
        [(3, 9)], [(5, 3), (2, 9)], [(9, 1), (3, 3), (1, 9)]]
    assert hyperband_brackets(1, 3) == [[(1, 1)]]


def test_tuner_env_is_restored():
    os.environ.pop("KERASTUNER_TUNER_ID", None)
    with tuner_env("tuner3", "10.0.0.1", 9000):
        assert os.environ["KERASTUNER_TUNER_ID"] == "tuner3"
        assert os.environ["KERASTUNER_ORACLE_PORT"] == "9000"
    assert "KERASTUNER_TUNER_ID" not in os.environ


def test_a_failed_trial_keeps_its_message_and_late_results_are_ignored(tmp_path):
    oracle = kt.oracles.RandomSearchOracle(
        kt.Objective("score", "max"), max_trials=5, hyperparameters=_space(), seed=1)
    set_project_dir(oracle, tmp_path, "search")
    servicer = ChiefServicer()
    servicer.oracle = oracle
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    ktshim.serve(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with tuner_env("tuner0", "127.0.0.1", port):
            client = WorkerClient(oracle)
        assert local_oracle(client) is oracle and local_oracle(oracle) is oracle
        trial = client.create_trial("tuner0")
        trial.status = "FAILED"
        trial.message = "Traceback (most recent call last):\n  ...\nValueError: boom"
        client.end_trial(trial)
        assert oracle.trials[trial.trial_id].status == "FAILED"
        assert oracle.trials[trial.trial_id].message.endswith("ValueError: boom")

        late = client.create_trial("tuner0")
        ended = oracle.trials[late.trial_id]  # as the chief ends a dead worker's trial
        ended.status, ended.message = "FAILED", "gone"
        oracle.end_trial(ended)
        late.status = "COMPLETED"
        client.end_trial(late)  # a worker taken for dead was only slow
        assert oracle.trials[late.trial_id].status == "FAILED"
        assert oracle.trials[late.trial_id].message == "gone"
        assert servicer.error is None and client.ended == 2
    finally:
        server.stop(None)
