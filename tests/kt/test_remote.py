"""Keras Tuner's distributed mode: a servicer and a client on loopback; no model built."""

from __future__ import annotations

import os
from concurrent import futures

import grpc
import keras_tuner as kt
import pytest

from auxsearch.kt.output import muted_condition_print
from auxsearch.kt.remote import (
    ChiefServicer,
    WorkerClient,
    connect_worker,
    local_oracle,
    serve,
    tuner_env,
)
from tests.oracles import set_project_dir


def _oracle(tmp_path) -> kt.Oracle:
    hp = kt.HyperParameters()
    hp.Boolean("tap/a")
    with hp.conditional_scope("tap/a", [True]):
        hp.Float("weight/a", 0.1, 1.0, default=0.5)
    oracle = kt.oracles.RandomSearchOracle(
        kt.Objective("score", "max"), max_trials=5, hyperparameters=hp, seed=1)
    set_project_dir(oracle, tmp_path, "search")
    return oracle


def test_tuner_env_is_restored(monkeypatch):
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "10.0.0.9")
    with tuner_env("tuner3", "10.0.0.1", 9000):
        assert os.environ["KERASTUNER_TUNER_ID"] == "tuner3"
        assert os.environ["KERASTUNER_ORACLE_IP"] == "10.0.0.1"
        assert os.environ["KERASTUNER_ORACLE_PORT"] == "9000"
    assert "KERASTUNER_TUNER_ID" not in os.environ
    assert os.environ["KERASTUNER_ORACLE_IP"] == "10.0.0.9"


@pytest.mark.e2e
def test_a_failed_trial_keeps_its_message_and_late_results_are_ignored(tmp_path, capsys):
    oracle = _oracle(tmp_path)
    oracle.verbose = 0  # no trial printout: stdout shows only what the protobufs print
    servicer = ChiefServicer()
    servicer.attach(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    serve(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with muted_condition_print(), tuner_env("tuner0", "127.0.0.1", port):
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
        assert not servicer.stopping  # trials are left to give
        assert capsys.readouterr().out == ""  # Keras Tuner's `True`s muted
    finally:
        server.stop(None)


def test_a_connected_worker_asks_the_chief_through_its_client(tmp_path):
    class Tuner:  # what `connect_worker` needs of a Keras Tuner tuner
        pass

    tuner = Tuner()
    tuner.oracle = oracle = _oracle(tmp_path)
    with tuner_env("tuner0", "127.0.0.1", 1):  # no server: a client only connects lazily
        client = connect_worker(tuner)
    assert tuner.oracle is client and isinstance(client, WorkerClient)
    assert local_oracle(client) is oracle and client.ended == 0
