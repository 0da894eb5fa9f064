"""A worker of a distributed search: trains its chief's trials until told to stop.

Workers never overwrite nor delete anything (the chief owns the run
directory), and refuse a run directory that holds another space's search.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

import grpc
import keras

from auxsearch.core.errors import AuxSearchError, DistributedError
from auxsearch.core.rundir import RunDir
from auxsearch.core.space import SearchSpace, load_space
from auxsearch.kt.output import muted_condition_print
from auxsearch.kt.remote import connect_worker, tuner_env
from auxsearch.search.run import Search, make_tuner

logger = logging.getLogger(__name__)

__all__ = ["CONNECT_TIMEOUT", "PARENT_ENV", "parse_address", "run_worker", "wait_for_chief"]

CONNECT_TIMEOUT = 600.0  # how long a worker waits for its chief to answer
PARENT_ENV = "AUXSEARCH_PARENT_PID"  # set for local workers: exit with the chief


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
    run_dir = RunDir(run_dir)
    host, port = parse_address(chief)
    tuner_id = tuner_id or f"tuner-{socket.gethostname()}-{os.getpid()}"
    if "chief" in tuner_id:  # Keras Tuner would make it a second chief
        raise DistributedError(f"worker id {tuner_id!r} must not contain 'chief'")
    if os.environ.get(PARENT_ENV):
        _exit_with_parent(int(os.environ[PARENT_ENV]))
    # The chief writes space.toml (and discards an overwritten search) before
    # it serves: only then is the run directory's space the one to train.
    wait_for_chief(chief, connect_timeout)
    if not run_dir.space.exists():
        raise DistributedError(
            f"{run_dir} has no {run_dir.space.name} though its chief serves: "
            "is it the chief's run directory, on a shared filesystem?"
        )
    search = Search(space if space is not None else load_space(run_dir.space), run_dir)
    _refuse_other_space(search)
    keras.utils.set_random_seed(search.space.seed)
    with muted_condition_print(), tuner_env(tuner_id, host, port):
        tuner = make_tuner(search.space, search.hypermodel, run_dir)  # never overwrite
        client = connect_worker(tuner)
        logger.info("worker %s: training trials of %s", tuner_id, chief)
        search.train_trials(tuner, verbose, tensorboard)
    return client.ended


def parse_address(address: str) -> tuple[str, int]:
    """Splits `HOST:PORT`.

    Args:
        address: String, `HOST:PORT`.

    Returns:
        The host, and the port as an integer.

    Raises:
        DistributedError: If it is not `HOST:PORT` with a port in 1..65535.
    """
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributedError(f"chief address {address!r} is not HOST:PORT")
    return host, int(port)


def wait_for_chief(address: str, timeout: float) -> None:
    """Waits until a gRPC server answers at `address`.

    Args:
        address: String, the chief's `HOST:PORT`.
        timeout: Float, seconds to wait.

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
