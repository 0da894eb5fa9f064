"""Worker processes on this machine, started and watched by a chief.

`python -m auxsearch run --workers N` makes its chief start N local
`python -m auxsearch worker` processes; `LocalWorkers` starts them, tells
which died, and ends them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from auxsearch.core.rundir import RunDir
from auxsearch.search.worker import PARENT_ENV

logger = logging.getLogger(__name__)

__all__ = ["LocalWorkers"]


class LocalWorkers:
    """Worker processes on this machine, `python -m auxsearch worker`.

    Each one's output goes to `RUN/logs/<id>.log`.

    Args:
        count: How many (ids `tuner0`, `tuner1`, ...).
        chief: The chief's `HOST:PORT`.
        run_dir: The run directory (its `space.toml` is the space).
        verbose: Boolean, whether the workers log Keras' per-epoch output.
        tensorboard: Passed on to every worker.
    """

    def __init__(
        self,
        count: int,
        chief: str,
        run_dir: Path,
        verbose: bool = False,
        tensorboard: str | Path | None = None,
    ) -> None:
        logs = RunDir(run_dir).logs
        logs.mkdir(parents=True, exist_ok=True)
        self.logs = {f"tuner{i}": logs / f"tuner{i}.log" for i in range(count)}
        self.processes: dict[str, subprocess.Popen] = {}
        self._reported: set[str] = set()
        options = ["-v"] if verbose else []
        if tensorboard:
            options += ["--tensorboard", str(tensorboard)]
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        for tuner_id, log in self.logs.items():
            with open(log, "w") as stream:  # the child keeps its own handle
                self.processes[tuner_id] = subprocess.Popen(
                    [sys.executable, "-m", "auxsearch", "worker", "--out", str(run_dir),
                     "--chief", chief, "--id", tuner_id, *options],
                    stdout=stream, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env,
                )

    def dead(self) -> dict[str, str]:
        """Workers that exited with an error since the last call, with why."""
        dead = {}
        for tuner_id, process in self.processes.items():
            code = process.poll()
            if code is None or tuner_id in self._reported:
                continue
            self._reported.add(tuner_id)
            if code != 0:
                dead[tuner_id] = f"worker {tuner_id} died (exit code {code})"
                logger.warning("worker %s died (exit code %s); its log: %s",
                               tuner_id, code, self.logs[tuner_id])
        return dead

    def all_exited(self) -> bool:
        """Whether no worker process is left."""
        return all(p.poll() is not None for p in self.processes.values())

    def summary(self) -> str:
        """Each worker's exit code, and its log's last line."""
        return "; ".join(
            f"{tuner_id}: exit code {p.poll()}: {_last_line(self.logs[tuner_id])}"
            for tuner_id, p in self.processes.items()
        )

    def close(self, grace: float = 3.0) -> None:
        """Lets the workers exit for `grace` seconds; then SIGTERM, SIGKILL."""
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(deadline - time.monotonic(), 0.01))
        for signal in ("terminate", "kill"):
            running = [p for p in self.processes.values() if p.poll() is None]
            for process in running:
                getattr(process, signal)()
            for process in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else "(empty log)"
