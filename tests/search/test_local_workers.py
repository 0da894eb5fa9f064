"""Local worker processes: started with their logs, reported once when they die."""

from __future__ import annotations

import time

import pytest

from auxsearch.search.local_workers import LocalWorkers


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


class _Exited:
    """A worker process that already exited with `code`, having logged `line`."""

    started: list[list[str]] = []

    def __init__(self, argv, stdout, code, line, **kwargs):
        self.argv, self.code, self.waited = argv, code, []
        stdout.write(line)
        _Exited.started.append(argv)

    def poll(self):
        return self.code

    def wait(self, timeout=None):
        self.waited.append(timeout)
        return self.code


def test_exited_workers_are_reported_once_and_summarised(tmp_path, monkeypatch):
    # In-process: Popen is replaced, so no worker starts (the e2e test above starts one).
    import auxsearch.search.local_workers as module

    codes = iter([(2, "error: chief address 'nohost' is not HOST:PORT\n"), (0, "")])
    monkeypatch.setattr(module.subprocess, "Popen",
                        lambda argv, stdout, **kw: _Exited(argv, stdout, *next(codes), **kw))
    _Exited.started.clear()
    workers = LocalWorkers(2, "nohost", tmp_path, tensorboard=tmp_path / "tb")
    assert [argv[argv.index("--id") + 1] for argv in _Exited.started] == ["tuner0", "tuner1"]
    assert all(argv[-2:] == ["--tensorboard", str(tmp_path / "tb")] for argv in _Exited.started)
    assert workers.all_exited()
    assert workers.dead() == {"tuner0": "worker tuner0 died (exit code 2)"}  # tuner1 exited 0
    assert workers.dead() == {}  # reported once
    assert workers.summary() == ("tuner0: exit code 2: error: chief address 'nohost' is not "
                                 "HOST:PORT; tuner1: exit code 0: (empty log)")
    workers.close(grace=0.1)
    assert all(len(p.waited) == 1 for p in workers.processes.values())  # none left to signal
