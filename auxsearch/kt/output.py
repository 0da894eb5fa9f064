"""What Keras Tuner prints by itself: failed trials' tracebacks, a stray debugging print.

Both are process-wide switches inside Keras Tuner; these functions set them
only for as long as a caller asks, and put them back.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from keras_tuner.src import config as _config
from keras_tuner.src.engine import conditions as _conditions

__all__ = ["muted_condition_print", "show_tracebacks"]

# How many `muted_condition_print` blocks are open, in any thread: the first
# one mutes, the last one to close restores. (A chief and a worker may run in
# one process, in two threads, and close in any order.)
_muted = 0
_muted_lock = threading.Lock()


def show_tracebacks(flag: bool) -> bool:
    """Sets whether Keras Tuner prints each failed trial's traceback.

    Keras Tuner prints them to stderr by default (its `config.DEBUG`).
    auxsearch never changes that by itself: a caller chooses, as a command
    line would for a debug option. The traceback is kept in the trial's
    `message` either way.

    Args:
        flag: Boolean, whether to print them.

    Returns:
        The previous setting.
    """
    previous = bool(_config.DEBUG)
    _config.DEBUG = bool(flag)
    return previous


@contextlib.contextmanager
def muted_condition_print() -> Iterator[None]:
    """Mutes the debugging `print` Keras Tuner 1.4.8 left in `conditions`, inside the block.

    `Parent.to_proto` prints `True` to stdout for every conditional
    hyperparameter of every trial sent over gRPC, so a chief and its workers
    run inside this block. Only that module's `print` is replaced, and only
    until the last open block closes.
    """
    global _muted
    with _muted_lock:
        if _muted == 0:
            _conditions.print = _no_print
        _muted += 1
    try:
        yield
    finally:
        with _muted_lock:
            _muted -= 1
            if _muted == 0:
                # The module has no `print` of its own: the builtin shows again.
                del _conditions.print


def _no_print(*args: object, **kwargs: object) -> None:
    """Prints nothing."""
