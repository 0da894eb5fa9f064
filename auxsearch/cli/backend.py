"""The Keras backend and Keras Tuner, imported for a command.

TensorFlow announces itself on start-up, from C++ and from Python, and Keras
Tuner prints every failed trial's traceback; a command that shows its own
one-line messages imports them here, quietly.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def loaded(quiet: bool, tracebacks: bool) -> Iterator[None]:
    """Imports TensorFlow and Keras Tuner, without their start-up noise.

    Keras Tuner prints each failed trial's traceback only if `tracebacks`
    (each trial's message keeps it anyway), until the block ends.
    """
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced(quiet):
        import keras
        import keras_tuner  # noqa: F401

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # probes for GPUs, noisily
    if quiet:  # Expected on every Hyperband promotion: Keras Tuner reloads the
        # parent's weights but, by design, not its optimizer state.
        warnings.filterwarnings("ignore", message="Skipping variable loading")
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from auxsearch.kt.output import show_tracebacks

    shown = show_tracebacks(tracebacks)
    try:
        yield
    finally:
        show_tracebacks(shown)


@contextlib.contextmanager
def _native_stderr_silenced(active: bool) -> Iterator[None]:
    # TensorFlow's C++ start-up messages bypass Python; mute file descriptor 2.
    if not active:
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
