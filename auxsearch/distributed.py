"""Scale-out on Keras Tuner's own distributed mode: a chief, and workers.

The chief holds Keras Tuner's oracle and serves it over gRPC; it trains
nothing. Each worker asks it for a trial, trains it into the shared run
directory and reports the result. auxsearch adds what Keras Tuner lacks:

- a chief that notices dead workers (its own local processes at once,
  remote ones after `trial_timeout`) and ends their trials as `FAILED`,
  which would otherwise keep it waiting forever;
- a chief that reports each finished trial, stops within a fraction of a
  second of the last one (Keras Tuner's own loop sleeps 20 s at a time while
  a worker has not collected its "stop"), and writes the leaderboards;
- the message of a trial that failed on a worker, which Keras Tuner's
  `Trial` protobuf has no field for, sent as gRPC metadata instead
  (`ktshim.ChiefServicer`, `ktshim.WorkerClient`);
- workers that never overwrite, and refuse a run directory of another space.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import keras
import keras_tuner as kt

from auxsearch.errors import AuxSearchError
from auxsearch.ktshim import (
    TIMEOUT,
    ChiefServicer,
    WorkerClient,
    mute_condition_print,
    oracle_lock,
    serve,
    tuner_env,
)
from auxsearch.rundir import RunDir
from auxsearch.search import BaselineHook, Search, SearchResult, make_tuner
from auxsearch.space import SearchSpace, load_space
from auxsearch.tuner import Hyperband, TrialHook

logger = logging.getLogger(__name__)

# Every trial sent over gRPC would print `True` to stdout (Keras Tuner 1.4.8).
mute_condition_print()

DEFAULT_TRIAL_TIMEOUT = float(TIMEOUT)  # seconds; Keras Tuner's own client timeout
CONNECT_TIMEOUT = 600.0  # how long a worker waits for its chief to answer
_POLL = 0.2  # seconds between the chief's looks at the oracle
_STOP_GRACE = 10.0  # seconds idle workers get to collect their "stop"
_PARENT_ENV = "AUXSEARCH_PARENT_PID"  # set for local workers: exit with the chief
_WILDCARDS = ("0.0.0.0", "::", "")
_FAILED = kt.engine.trial.TrialStatus.FAILED


class DistributedError(AuxSearchError):
    """A chief or worker cannot run: address, run directory, lost workers."""


class Chief(Search):
    """A search whose process serves the oracle to workers and trains nothing.

    Takes `Search`'s arguments, and listens on `host:port` at once (port 0:
    a free one; `address` says which). `run()` then does what `Search.run`
    does, the workers training the trials: it writes `space.toml` before it
    serves (workers compare their space with it) and the leaderboards after
    the last trial; only the chief ever discards a search (`overwrite`).

    Dead-worker policy: the trial of a worker that died is ended as `FAILED`,
    with the reason in its `message`, and the search goes on. A local worker
    (`workers`) is known dead when its process exits; any worker is taken
    for dead when its trial runs longer than `trial_timeout` seconds.

    Args:
        space: The validated search space.
        run_dir: The run directory; every worker must see it (shared).
        host: The address to listen on: `127.0.0.1` for local workers only,
            `0.0.0.0` for workers on other machines.
        port: The port; 0 picks a free one.
        workers: How many local worker processes to start once serving.
        trial_timeout: Seconds after which a running trial is ended as
            failed; 0: never.

    Raises:
        DistributedError: If the chief cannot listen on `host:port`.
    """

    def __init__(
        self,
        space: SearchSpace,
        run_dir: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 0,
        trial_timeout: float = DEFAULT_TRIAL_TIMEOUT,
    ) -> None:
        super().__init__(space, run_dir)
        self.host = host
        self.workers = workers
        self.trial_timeout = trial_timeout
        self.oracle: kt.Oracle | None = None  # set while serving
        self.local: LocalWorkers | None = None  # set while serving
        self._on_trial_end: TrialHook | None = None
        # One request at a time, as in Keras Tuner: the oracle is not reentrant.
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        self._servicer = ChiefServicer()
        serve(self._servicer, self._server)
        try:
            self.port = self._server.add_insecure_port(f"{host}:{port}")
        except RuntimeError:  # grpcio raises where it used to return 0
            self.port = 0
        if not self.port:
            raise DistributedError(f"the chief cannot listen on {host}:{port}")

    @property
    def address(self) -> str:
        """`HOST:PORT` for remote workers (a wildcard host: this machine's name)."""
        host = socket.getfqdn() if self.host in _WILDCARDS else self.host
        return f"{host}:{self.port}"

    def run(
        self,
        overwrite: bool = False,
        verbose: bool = False,
        on_trial_end: TrialHook | None = None,
        tensorboard: str | Path | None = None,
        on_baseline: BaselineHook | None = None,
    ) -> SearchResult:
        """Serves the search until every trial ended; see `Search.run`.

        `tensorboard` is passed on to the local workers. The baseline's extra
        seeds are trained here, once the workers are done.
        """
        self._on_trial_end = on_trial_end
        try:
            with tuner_env("chief", self.host, self.port):
                return super().run(overwrite, verbose, on_trial_end, tensorboard, on_baseline)
        finally:
            self._server.stop(grace=1).wait()

    def _search(
        self, tuner: Hyperband, verbose: bool, tensorboard: str | Path | None
    ) -> None:
        oracle = self.oracle = tuner.oracle
        oracle.verbose = 1 if verbose else 0  # Keras Tuner's own trial printout
        tuner.save()  # as Keras Tuner's chief does before it serves
        self._servicer.oracle = oracle
        self._server.start()
        logger.info("chief: serving %s on %s", self.space.name, self.address)
        watchdog = _Watchdog(oracle, self.trial_timeout)
        reported = len(oracle.end_order)  # a resumed search reported those before
        stopping_since: float | None = None
        try:
            if self.workers:
                local = self.host if self.host not in _WILDCARDS else "127.0.0.1"
                self.local = LocalWorkers(self.workers, f"{local}:{self.port}",
                                          self.run_dir, verbose, tensorboard)
            while True:
                self._servicer.raise_error()
                ended, ongoing, tuner_ids = _snapshot(oracle)
                for trial_id in ended[reported:]:
                    _report(oracle, self._on_trial_end, trial_id)
                reported = len(ended)
                dead = self.local.dead() if self.local else {}
                if watchdog.check(time.monotonic(), ongoing, dead):
                    continue  # look again at once: a trial ended
                if self._servicer.stop_triggered and not ongoing:
                    # Give idle workers the time to collect their "stop".
                    stopping_since = stopping_since or time.monotonic()
                    if not tuner_ids or time.monotonic() - stopping_since > _STOP_GRACE:
                        return
                elif self.local and self.local.all_exited():
                    raise DistributedError(
                        f"every worker exited before the search ended "
                        f"({self.local.summary()}); run again to resume"
                    )
                time.sleep(_POLL)
        finally:
            if self.local:
                self.local.close()


def run_worker(
    run_dir: str | Path,
    chief: str,
    tuner_id: str | None = None,
    space: SearchSpace | None = None,
    verbose: bool = False,
    tensorboard: str | Path | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> int:
    """Trains a chief's trials until it says stop.

    Never overwrites nor deletes anything: the chief owns the run directory.

    Args:
        run_dir: The chief's run directory (a shared filesystem).
        chief: The chief's `HOST:PORT`.
        tuner_id: This worker's unique id (default: from host name and
            process id). A restarted worker with the id of a dead one takes
            over that worker's trial, if the chief has not yet ended it.
        space: The space to search; default: the run directory's own.
        verbose: Boolean, whether Keras prints its per-epoch progress.
        tensorboard: A log directory for every trial this worker trains.
        connect_timeout: Seconds to wait for the chief to answer.

    Returns:
        The number of trials this worker ended.

    Raises:
        DistributedError: If the id or address is malformed, the chief does
            not answer, or the run directory is not the chief's or holds
            another space.
    """
    run = RunDir(run_dir)
    host, port = parse_address(chief)
    tuner_id = tuner_id or f"tuner-{socket.gethostname()}-{os.getpid()}"
    if "chief" in tuner_id:  # Keras Tuner would make it a second chief
        raise DistributedError(f"worker id {tuner_id!r} must not contain 'chief'")
    if os.environ.get(_PARENT_ENV):
        _exit_with_parent(int(os.environ[_PARENT_ENV]))
    # The chief writes space.toml (and discards an overwritten search) before
    # it serves: only then is the run directory's space the one to train.
    wait_for_chief(chief, connect_timeout)
    if not run.space.exists():
        raise DistributedError(
            f"{run} has no {run.space.name} though its chief serves: "
            "is it the chief's run directory, on a shared filesystem?"
        )
    search = Search(space if space is not None else load_space(run.space), run)
    _refuse_other_space(search)
    keras.utils.set_random_seed(search.space.seed)
    with tuner_env(tuner_id, host, port):
        tuner = make_tuner(search.space, search.hypermodel, run)  # never overwrite
        client = tuner.oracle = WorkerClient(tuner.oracle)
        logger.info("worker %s: training trials of %s", tuner_id, chief)
        search._search(tuner, verbose, tensorboard)
    return client.ended


def parse_address(address: str) -> tuple[str, int]:
    """Splits `HOST:PORT`.

    Raises:
        DistributedError: If it is not `HOST:PORT` with a port in 1..65535.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributedError(f"chief address {address!r} is not HOST:PORT")
    return host, int(port)


def wait_for_chief(address: str, timeout: float) -> None:
    """Waits until a gRPC server answers at `address`.

    Raises:
        DistributedError: If none does within `timeout` seconds.
    """
    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise DistributedError(
                f"no chief answers at {address} after {timeout:g} s"
            ) from None


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
        env = {**os.environ, _PARENT_ENV: str(os.getpid())}
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


class _Watchdog:
    """Ends the trials of dead or silent workers as `FAILED`."""

    def __init__(self, oracle: kt.Oracle, trial_timeout: float) -> None:
        self.oracle = oracle
        self.trial_timeout = trial_timeout
        self.started: dict[tuple[str, str], float] = {}  # (tuner, trial) -> first seen

    def check(
        self, now: float, ongoing: dict[str, str], dead: dict[str, str]
    ) -> bool:
        """Looks at the running trials once.

        Args:
            now: The time (`time.monotonic()`).
            ongoing: The running trials, `tuner id -> trial id`.
            dead: The workers known dead, `tuner id -> why`.

        Returns:
            Whether it ended a trial.
        """
        ended = False
        for tuner_id, trial_id in ongoing.items():
            started = self.started.setdefault((tuner_id, trial_id), now)
            if tuner_id in dead:
                reason = dead[tuner_id]
            elif self.trial_timeout and now - started > self.trial_timeout:
                reason = (f"no result from worker {tuner_id} within "
                          f"{self.trial_timeout:g} s (--trial-timeout)")
            else:
                continue
            logger.warning("trial %s ended as FAILED: %s", trial_id, reason)
            ended = _fail_trial(self.oracle, tuner_id, trial_id, reason) or ended
        for tuner_id in dead:
            _forget_tuner(self.oracle, tuner_id)
        return ended


def _snapshot(oracle: kt.Oracle) -> tuple[list[str], dict[str, str], set[str]]:
    """The ended trials, running trials (tuner -> trial) and known tuners."""
    with oracle_lock(oracle):
        ongoing = {tuner_id: t.trial_id for tuner_id, t in oracle.ongoing_trials.items()}
        return list(oracle.end_order), ongoing, set(oracle.tuner_ids)


def _report(oracle: kt.Oracle, hook: TrialHook | None, trial_id: str) -> None:
    if hook:
        with oracle_lock(oracle):  # the hook reads every trial
            hook(oracle.trials[trial_id], oracle)


def _fail_trial(oracle: kt.Oracle, tuner_id: str, trial_id: str, reason: str) -> bool:
    with oracle_lock(oracle):
        trial = oracle.ongoing_trials.get(tuner_id)
        if trial is None or trial.trial_id != trial_id:
            return False  # it ended meanwhile
        trial.status = _FAILED
        trial.message = reason
        oracle.end_trial(trial)  # also takes it out of ongoing_trials
        oracle.tuner_ids.discard(tuner_id)  # else the chief waits for it forever
        return True


def _forget_tuner(oracle: kt.Oracle, tuner_id: str) -> None:
    with oracle_lock(oracle):
        oracle.tuner_ids.discard(tuner_id)


def _refuse_other_space(search: Search) -> None:
    try:
        search.check_resumable()
    except AuxSearchError as err:  # a RunDirError: the chief may discard, workers never
        raise DistributedError(
            f"worker refused: {err}; a worker only joins its chief's space"
        ) from None


def _exit_with_parent(parent: int) -> None:
    """Ends this process once its parent is gone (a killed chief's workers
    would otherwise wait an hour, Keras Tuner's client timeout)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        logger.warning("worker: the chief's process is gone; exiting")
        os._exit(1)

    threading.Thread(target=watch, name="auxsearch-parent-watch", daemon=True).start()


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else "(empty log)"
