"""The chief of a distributed search: serves Keras Tuner's oracle, trains nothing.

The chief holds Keras Tuner's oracle and serves it over gRPC; each worker
asks it for a trial, trains it into the shared run directory and reports the
result. auxsearch adds what Keras Tuner lacks:

- a chief that notices dead workers (its own local processes at once,
  remote ones after `trial_timeout`) and ends their trials as `FAILED`,
  which would otherwise keep it waiting forever;
- a chief that reports each finished trial, stops within a fraction of a
  second of the last one (Keras Tuner's own loop sleeps 20 s at a time while
  a worker has not collected its "stop"), and writes the leaderboards;
- the message of a trial that failed on a worker, which Keras Tuner's
  `Trial` protobuf has no field for (`kt.remote.ChiefServicer`).
"""

from __future__ import annotations

import logging
import socket
import time
from concurrent import futures
from pathlib import Path

import grpc
import keras_tuner as kt

from auxsearch.core.errors import DistributedError
from auxsearch.core.space import SearchSpace
from auxsearch.kt.bookkeeping import (
    ended_trials,
    fail_trial,
    forget_tuner,
    oracle_lock,
    oracle_state,
)
from auxsearch.kt.output import muted_condition_print
from auxsearch.kt.remote import TIMEOUT, ChiefServicer, serve, tuner_env
from auxsearch.search.local_workers import LocalWorkers
from auxsearch.search.race import RaceHook
from auxsearch.search.run import Search, SearchResult
from auxsearch.search.tuner import Hyperband, TrialHook

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_TRIAL_TIMEOUT", "Chief"]

DEFAULT_TRIAL_TIMEOUT = float(TIMEOUT)  # seconds; Keras Tuner's own client timeout
_POLL = 0.2  # seconds between the chief's looks at the oracle
_STOP_GRACE = 10.0  # seconds idle workers get to collect their "stop"
_WILDCARDS = ("0.0.0.0", "::", "")


class Chief(Search):
    """A search whose process serves the oracle to workers and trains nothing.

    Takes `Search`'s arguments, and listens on `host:port` at once (port 0:
    a free one; `address` says which). `run()` then does what `Search.run`
    does, the workers training the trials: it writes `space.toml` before it
    serves (workers compare their space with it) and the leaderboards after
    the last trial; only the chief ever discards a search (`overwrite`).

    Dead-worker policy: the trial of a worker that died is ended as `FAILED`,
    with the reason in its `message`, and the search goes on. A local worker
    (`local_workers`) is known dead when its process exits; any worker is taken
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
        on_race: RaceHook | None = None,
    ) -> SearchResult:
        """Serves the search until every trial ended; see `Search.run`.

        `tensorboard` is passed on to the local workers. The race and the
        baseline's extra seeds are trained here, once the workers are done.
        """
        self._on_trial_end = on_trial_end
        try:
            with muted_condition_print(), tuner_env("chief", self.host, self.port):
                return super().run(overwrite, verbose, on_trial_end, tensorboard, on_race)
        finally:
            self._server.stop(grace=1).wait()

    def train_trials(
        self, tuner: Hyperband, verbose: bool, tensorboard: str | Path | None
    ) -> None:
        """Serves the tuner's oracle until its workers trained every trial."""
        oracle = self.oracle = tuner.oracle
        oracle.verbose = 1 if verbose else 0  # Keras Tuner's own trial printout
        tuner.save()  # as Keras Tuner's chief does before it serves
        self._servicer.attach(oracle)
        self._server.start()
        logger.info("chief: serving %s on %s", self.space.name, self.address)
        watchdog = _Watchdog(oracle, self.trial_timeout)
        reported = len(ended_trials(oracle))  # a resumed search reported those before
        stopping_since: float | None = None
        try:
            if self.workers:
                local = self.host if self.host not in _WILDCARDS else "127.0.0.1"
                self.local = LocalWorkers(self.workers, f"{local}:{self.port}",
                                          self.run_dir, verbose, tensorboard)
            while True:
                self._servicer.raise_error()
                ended, running, tuners = oracle_state(oracle)
                for trial_id in ended[reported:]:
                    _report(oracle, self._on_trial_end, trial_id)
                reported = len(ended)
                dead = self.local.dead() if self.local else {}
                if watchdog.check(time.monotonic(), running, dead):
                    continue  # look again at once: a trial ended
                if self._servicer.stopping and not running:
                    # Give idle workers the time to collect their "stop".
                    stopping_since = stopping_since or time.monotonic()
                    if not tuners or time.monotonic() - stopping_since > _STOP_GRACE:
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


class _Watchdog:
    """Ends the trials of dead or silent workers as `FAILED`."""

    def __init__(self, oracle: kt.Oracle, trial_timeout: float) -> None:
        self.oracle = oracle
        self.trial_timeout = trial_timeout
        self.started: dict[tuple[str, str], float] = {}  # (tuner, trial) -> first seen

    def check(
        self, now: float, running: dict[str, str], dead: dict[str, str]
    ) -> bool:
        """Looks at the running trials once.

        Args:
            now: The time (`time.monotonic()`).
            running: The running trials, `tuner id -> trial id`.
            dead: The workers known dead, `tuner id -> why`.

        Returns:
            Whether it ended a trial.
        """
        ended = False
        for tuner_id, trial_id in running.items():
            started = self.started.setdefault((tuner_id, trial_id), now)
            if tuner_id in dead:
                reason = dead[tuner_id]
            elif self.trial_timeout and now - started > self.trial_timeout:
                reason = (f"no result from worker {tuner_id} within "
                          f"{self.trial_timeout:g} s (--trial-timeout)")
            else:
                continue
            logger.warning("trial %s ended as FAILED: %s", trial_id, reason)
            ended = fail_trial(self.oracle, tuner_id, trial_id, reason) or ended
        for tuner_id in dead:
            forget_tuner(self.oracle, tuner_id)
        return ended


def _report(oracle: kt.Oracle, hook: TrialHook | None, trial_id: str) -> None:
    """Calls the trial hook for an ended trial, under the oracle's lock."""
    if hook:
        with oracle_lock(oracle):  # the hook reads every trial
            hook(oracle.get_trial(trial_id), oracle)
