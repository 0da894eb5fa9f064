"""Local worker processes: started with their logs, reported once when they die."""

from __future__ import annotations

import time

import pytest

from auxsearch.search.workers import LocalWorkers


@pytest.mark.e2e
def test_a_worker_that_exits_with_an_error_is_reported_once_with_its_log(tmp_path):
    # `nohost` is no HOST:PORT: the worker exits with 2 at once, without a chief.
    workers = LocalWorkers(1, "nohost", tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not workers.all_exited():
            assert time.monotonic() < deadline, "the worker did not exit"
            time.sleep(0.1)
        assert workers.dead() == {"tuner0": "worker tuner0 died (exit code 2)"}
        assert workers.dead() == {}  # reported once
        log = (tmp_path / "logs" / "tuner0.log").read_text()
        assert "error: chief address 'nohost' is not HOST:PORT" in log
        assert workers.summary() == f"tuner0: exit code 2: {log.strip().splitlines()[-1]}"
    finally:
        workers.close(grace=0.1)
