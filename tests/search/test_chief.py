"""The chief: serves the oracle to worker processes on loopback, ends dead workers' trials."""

from __future__ import annotations

import os
import signal
import threading
import time

import keras_tuner as kt
import pandas as pd
import pytest

from auxsearch.cli.main import main
from auxsearch.core.space import load_space
from auxsearch.kt.bookkeeping import oracle_state, running_trials
from auxsearch.search.chief import Chief, _report, _Watchdog
from tests.oracles import set_project_dir


@pytest.mark.e2e
def test_chief_and_two_workers_finish_the_search_as_one_process_would(
    tiny_space, tmp_path, _tiny_run, capsys
):
    # Two iterations: 4 trials for 2 workers; the first 2 are _tiny_run's.
    tiny_space.write_text(tiny_space.read_text() + "hyperband_iterations = 2\n")
    out = tmp_path / "run"
    assert main(["run", str(tiny_space), "--workers", "2", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "[4/4 trials" in captured.err and "training in 2 worker processes" in captured.err
    assert "\nTrue\n" not in captured.out  # Keras Tuner's stray print, muted while serving

    trials = pd.read_csv(out / "trials.csv", dtype={"trial_id": str, "config": str})
    assert sorted(trials["trial_id"]) == ["0000", "0001", "0002", "0003"]
    assert set(trials["status"]) == {"COMPLETED"}
    assert (trials["n_taps"] == 0).sum() == 1  # the baseline, once
    alone = pd.read_csv(_tiny_run / "trials.csv", dtype={"trial_id": str, "config": str})
    # The same columns in the same order (here more: 0002 taps conv5 too).
    assert [c for c in trials.columns if c in set(alone.columns)] == list(alone.columns)
    same = trials.set_index("trial_id").loc[alone["trial_id"]]
    assert list(same["taps"].fillna("")) == list(alone["taps"].fillna(""))
    assert same["score"].tolist() == pytest.approx(alone["score"].tolist(), abs=1e-6)
    board = pd.read_csv(out / "leaderboard.csv")
    alone_columns = list(pd.read_csv(_tiny_run / "leaderboard.csv").columns)
    assert [c for c in board.columns if c in set(alone_columns)] == alone_columns
    assert len(board) == 4 and board["full_budget"].all()
    # Each worker trained and said so; only the chief wrote the run's files.
    logs = [(out / "logs" / f"tuner{i}.log").read_text() for i in range(2)]
    assert all("trials trained; the chief says stop" in log for log in logs)
    assert all("\nTrue\n" not in log for log in logs)
    assert (out / "search" / "chief.json").exists()


@pytest.mark.e2e
def test_two_workers_search_with_the_model_sampler(tiny_space, tmp_path, capsys):
    tiny_space.write_text(tiny_space.read_text().replace("max_epochs = 2", "max_epochs = 3")
                          + "sampler = \"model\"\n")
    out = tmp_path / "run"
    assert main(["run", str(tiny_space), "--workers", "2", "--out", str(out)]) == 0
    trials = pd.read_csv(out / "trials.csv", dtype={"trial_id": str})
    assert len(trials) == 6 and set(trials["status"]) == {"COMPLETED"}
    assert (trials["n_taps"] == 0).sum() == 1


@pytest.mark.e2e
def test_a_worker_killed_mid_trial_does_not_stall_the_chief(tiny_space, tmp_path):
    chief = Chief(load_space(tiny_space), tmp_path / "run", workers=2)
    reports = []
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(run=chief.run(
            on_trial_end=lambda trial, oracle: reports.append(trial.trial_id))))
    thread.start()
    deadline = time.monotonic() + 90
    while not (chief.oracle and "tuner0" in running_trials(chief.oracle)):
        assert time.monotonic() < deadline and thread.is_alive(), "tuner0 got no trial"
        time.sleep(0.02)
    killed = running_trials(chief.oracle)["tuner0"]
    os.kill(chief.local.processes["tuner0"].pid, signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive(), "the chief waits for its dead worker"

    trials = result["run"].trials.set_index("trial_id")
    assert sorted(trials.index) == ["0000", "0001"] and sorted(reports) == ["0000", "0001"]
    assert trials.loc[killed, "status"] == "FAILED"
    assert trials.loc[killed, "message"] == "worker tuner0 died (exit code -9)"
    assert (trials["status"] == "COMPLETED").sum() == 1


def test_the_watchdog_fails_a_silent_workers_trial_and_forgets_it(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner7")
    watchdog = _Watchdog(oracle, trial_timeout=60)
    assert not watchdog.check(100.0, {"tuner7": trial.trial_id}, {})
    assert not watchdog.check(159.0, {"tuner7": trial.trial_id}, {})
    assert watchdog.check(161.0, {"tuner7": trial.trial_id}, {})
    assert trial.status == "FAILED"
    assert trial.message == "no result from worker tuner7 within 60 s (--trial-timeout)"
    assert oracle_state(oracle) == ([trial.trial_id], {}, set())


def test_the_watchdog_fails_a_dead_workers_trial_at_once(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner0")
    oracle.create_trial("tuner1")
    watchdog = _Watchdog(oracle, trial_timeout=0)  # 0: no timeout
    assert not watchdog.check(1e6, running_trials(oracle), {})
    assert watchdog.check(1e6, running_trials(oracle), {"tuner0": "worker tuner0 died"})
    assert trial.status == "FAILED" and trial.message == "worker tuner0 died"
    assert oracle_state(oracle).tuners == {"tuner1"}


def test_a_raising_trial_hook_leaves_the_oracle_unlocked(tmp_path):
    # The chief reports under the oracle's lock; a hook that raises must not
    # keep it, or the servicer's thread (and the chief's exit) would hang.
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner0")

    def hook(trial, oracle):
        raise ValueError("the progress report failed")

    with pytest.raises(ValueError, match="the progress report failed"):
        _report(oracle, hook, trial.trial_id)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(oracle_state(oracle)), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the oracle stayed locked after the hook raised"
    assert seen == [([], {"tuner0": trial.trial_id}, {"tuner0"})]


def _oracle(tmp_path) -> kt.Oracle:
    hp = kt.HyperParameters()
    hp.Float("weight/conv2", 0.01, 1.0)
    oracle = kt.oracles.RandomSearchOracle(
        kt.Objective("score", "max"), max_trials=5, hyperparameters=hp, seed=1)
    set_project_dir(oracle, tmp_path, "search")
    return oracle
