"""Keras Tuner's distributed mode: a chief and worker processes on loopback."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent import futures

import grpc
import keras_tuner as kt
import pandas as pd
import pytest

from auxsearch.cli import main
from auxsearch.distributed import (
    Chief,
    DistributedError,
    _report,
    _snapshot,
    _Watchdog,
    parse_address,
    run_worker,
)
from auxsearch.ktshim import set_project_dir
from auxsearch.rundir import RunDir
from auxsearch.space import dump_space, load_space


def test_chief_and_two_workers_finish_the_search_as_one_process_would(
    tiny_space, tmp_path, _tiny_run, capsys
):
    # Two iterations: 4 trials for 2 workers; the first 2 are _tiny_run's.
    tiny_space.write_text(tiny_space.read_text() + "hyperband_iterations = 2\n")
    out = tmp_path / "run"
    assert main(["run", str(tiny_space), "--workers", "2", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "[4/4 trials" in err and "training in 2 worker processes" in err

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
    assert (out / "search" / "chief.json").exists()


def test_a_worker_killed_mid_trial_does_not_stall_the_chief(tiny_space, tmp_path):
    chief = Chief(load_space(tiny_space), tmp_path / "run", workers=2)
    reports = []
    result = {}
    thread = threading.Thread(
        target=lambda: result.update(run=chief.run(
            on_trial_end=lambda trial, oracle: reports.append(trial.trial_id))))
    thread.start()
    deadline = time.monotonic() + 90
    while not (chief.oracle and "tuner0" in chief.oracle.ongoing_trials):
        assert time.monotonic() < deadline and thread.is_alive(), "tuner0 got no trial"
        time.sleep(0.02)
    killed = chief.oracle.ongoing_trials["tuner0"].trial_id
    os.kill(chief.local.processes["tuner0"].pid, signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive(), "the chief waits for its dead worker"

    trials = result["run"].trials.set_index("trial_id")
    assert sorted(trials.index) == ["0000", "0001"] and sorted(reports) == ["0000", "0001"]
    assert trials.loc[killed, "status"] == "FAILED"
    assert trials.loc[killed, "message"] == "worker tuner0 died (exit code -9)"
    assert (trials["status"] == "COMPLETED").sum() == 1


def test_a_worker_refuses_a_run_directory_of_another_space(tiny_space, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    space_path = RunDir(run_dir).space
    other = dump_space(load_space(tiny_space)).replace("seed = 3", "seed = 4")
    space_path.write_text(other)
    with _bare_server() as address:
        with pytest.raises(DistributedError, match=r"worker refused: .* holds a search "
                           r"of another space \(seed: 4 -> 3\); a worker only joins"):
            run_worker(run_dir, address, "tuner0", space=load_space(tiny_space))
        assert [p.name for p in run_dir.iterdir()] == [space_path.name]  # untouched
        assert space_path.read_text() == other
        space_path.unlink()
        with pytest.raises(DistributedError, match="has no space.toml though its chief"):
            run_worker(run_dir, address, "tuner0")
    assert list(run_dir.iterdir()) == []  # nothing written


@pytest.mark.parametrize(
    "argv, message",
    [
        (["worker", "--out", "{run}", "--chief", "nohost"], "'nohost' is not HOST:PORT"),
        (["worker", "--out", "{run}", "--chief", "h:1", "--id", "chief1"],
         "must not contain 'chief'"),
        (["run", "--workers", "-1", "--out", "{run}"], "--workers must be >= 0"),
        (["chief", "--out", "{run}", "--port", "70000"], "--port must be in 0..65535"),
    ],
)
def test_bad_distributed_options_are_one_line_errors(argv, message, tmp_path, capsys):
    argv = [arg.format(run=tmp_path / "run") for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_the_watchdog_fails_a_silent_workers_trial_and_forgets_it(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner7")
    watchdog = _Watchdog(oracle, trial_timeout=60)
    assert not watchdog.check(100.0, {"tuner7": trial.trial_id}, {})
    assert not watchdog.check(159.0, {"tuner7": trial.trial_id}, {})
    assert watchdog.check(161.0, {"tuner7": trial.trial_id}, {})
    assert trial.status == "FAILED" and "tuner7" not in oracle.tuner_ids
    assert trial.message == "no result from worker tuner7 within 60 s (--trial-timeout)"
    assert oracle.ongoing_trials == {}


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
    thread = threading.Thread(target=lambda: seen.append(_snapshot(oracle)), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the oracle stayed locked after the hook raised"
    assert seen == [([], {"tuner0": trial.trial_id}, {"tuner0"})]


def test_parse_address():
    assert parse_address("node7.cluster:8000") == ("node7.cluster", 8000)
    for bad in ("8000", "host:", "host:0", "host:x"):
        with pytest.raises(DistributedError):
            parse_address(bad)


def _oracle(tmp_path) -> kt.Oracle:
    hp = kt.HyperParameters()
    hp.Boolean("tap/conv2")
    oracle = kt.oracles.RandomSearchOracle(
        kt.Objective("score", "max"), max_trials=5, hyperparameters=hp, seed=1)
    set_project_dir(oracle, tmp_path, "search")
    return oracle


class _bare_server:
    """A gRPC server with no service: enough for a worker to find its chief."""

    def __enter__(self) -> str:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        return f"127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.stop(None)
