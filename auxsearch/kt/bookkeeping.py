"""An oracle's bookkeeping, read and changed under its lock.

Keras Tuner's oracle keeps which trial each tuner holds (`ongoing_trials`),
which tuners it waits for (`tuner_ids`) and the order trials ended in
(`end_order`), and guards them with a lock of its own. The code outside
`auxsearch.kt` reads and changes them only through these functions.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple

import keras_tuner as kt
from keras_tuner.src.engine import oracle as _oracle

__all__ = [
    "OracleState", "ended_trials", "fail_trial", "forget_tuner", "oracle_lock",
    "oracle_state", "running_trials",
]

_FAILED = kt.engine.trial.TrialStatus.FAILED


@contextlib.contextmanager
def oracle_lock(oracle: Any) -> Iterator[Any]:
    """Holds the lock Keras Tuner's `synchronized` oracle methods take.

    Reentrant per thread, as `synchronized` is: inside the block the
    oracle's own methods run without waiting. Unlike `synchronized`, the
    lock is released however the block ends, an exception included.

    Args:
        oracle: The oracle.

    Yields:
        The oracle.
    """
    thread = threading.current_thread().name
    acquire = _oracle.THREADS[oracle] != thread
    if acquire:
        _oracle.LOCKS[oracle].acquire()
        _oracle.THREADS[oracle] = thread
    try:
        yield oracle
    finally:
        if acquire:
            _oracle.THREADS[oracle] = None
            _oracle.LOCKS[oracle].release()


class OracleState(NamedTuple):
    """What a chief watches of its oracle, read at one moment.

    Attributes:
        ended: The ids of the ended trials, in the order they ended.
        running: The running trials, `tuner id -> trial id`.
        tuners: The ids of the tuners the oracle has not yet told to stop.
    """

    ended: list[str]
    running: dict[str, str]
    tuners: set[str]


def oracle_state(oracle: kt.Oracle) -> OracleState:
    """Returns the oracle's ended and running trials and its tuners, read at once."""
    with oracle_lock(oracle):
        return OracleState(ended_trials(oracle), running_trials(oracle), set(oracle.tuner_ids))


def ended_trials(oracle: kt.Oracle) -> list[str]:
    """Returns the ids of the ended trials, in the order they ended."""
    with oracle_lock(oracle):
        return list(oracle.end_order)


def running_trials(oracle: Any) -> dict[str, str]:
    """Returns the running trials, `tuner id -> trial id` (none for a worker's client)."""
    ongoing = getattr(oracle, "ongoing_trials", None)
    if ongoing is None:  # a worker's gRPC client keeps no bookkeeping
        return {}
    with oracle_lock(oracle):
        return {tuner_id: trial.trial_id for tuner_id, trial in ongoing.items()}


def fail_trial(oracle: kt.Oracle, tuner_id: str, trial_id: str, reason: str) -> bool:
    """Ends a tuner's running trial as `FAILED`, and stops waiting for the tuner.

    Args:
        oracle: The oracle.
        tuner_id: The tuner that holds the trial.
        trial_id: The trial.
        reason: String, the trial's `message`.

    Returns:
        Whether it ended the trial (not if it ended meanwhile).
    """
    with oracle_lock(oracle):
        trial = oracle.ongoing_trials.get(tuner_id)
        if trial is None or trial.trial_id != trial_id:
            return False  # it ended meanwhile
        trial.status = _FAILED
        trial.message = reason
        oracle.end_trial(trial)  # also takes it out of ongoing_trials
        oracle.tuner_ids.discard(tuner_id)  # else a chief waits for it forever
        return True


def forget_tuner(oracle: kt.Oracle, tuner_id: str) -> None:
    """Stops waiting for a tuner (a dead worker) before the oracle ends the search."""
    with oracle_lock(oracle):
        oracle.tuner_ids.discard(tuner_id)
