"""Errors raised by auxsearch.

Every error derives from one base class, so callers and the CLI can catch
them all at once. The whole tree (a class's other bases in brackets)::

    AuxSearchError              anything auxsearch refuses, with a one-line reason
    ├── SpaceError              [ValueError] a setting that is malformed or not allowed
    ├── TapError                [ValueError] a tap that names no candidate layer
    ├── ModelError              [ValueError] a model builder that breaks the builder contract
    ├── DataError               [ValueError] data that is missing, malformed or unfit
    ├── RunDirError             a run directory that cannot be used as asked
    ├── DistributedError        a chief or worker that cannot run: address, run
    │                           directory, workers that all exited
    ├── KerasTunerVersionError  [ImportError] an installed keras-tuner whose internals
    │                           auxsearch does not know
    ├── SearchFailed            a search that stopped: its trials kept failing
    └── kt.errors.FatalTrialError [keras_tuner.errors.FatalError]
                                a configuration error found inside a trial; it
                                carries the original error

All but the last live here. `FatalTrialError` lives in `auxsearch.kt.errors`
because it must also be one of Keras Tuner's fatal errors (the only kind
that ends a Keras Tuner search), and this module must not import Keras or
Keras Tuner: the command line imports it before TensorFlow.

The command line exits with 1 for `SearchFailed` (a search that ran and
failed) and with 2 for every other one (bad input, or a setup that cannot
run). A `FatalTrialError` (e.g. a builder that changes its architecture)
ends the search at once, which then raises the error it carries.
"""

from __future__ import annotations


class AuxSearchError(Exception):
    """Base class of every error auxsearch raises on purpose."""


class SpaceError(AuxSearchError, ValueError):
    """A search-space file or setting is malformed, or a value is not allowed."""


class TapError(AuxSearchError, ValueError):
    """A requested tap does not name (or match) any candidate layer."""


class ModelError(AuxSearchError, ValueError):
    """A model builder returned something auxsearch cannot search on."""


class DataError(AuxSearchError, ValueError):
    """Data cannot be read, or is malformed or unfit for the task."""


class RunDirError(AuxSearchError):
    """A run directory is not one, or holds a search that cannot be resumed.

    Attributes:
        discardable: Boolean, whether discarding the directory's search (or
            choosing another directory) would let the command run; the CLI
            then names its option for that.
    """

    def __init__(self, message: str, discardable: bool = False) -> None:
        super().__init__(message)
        self.discardable = discardable


class DistributedError(AuxSearchError):
    """A chief or worker cannot run: address, run directory, lost workers."""


class KerasTunerVersionError(AuxSearchError, ImportError):
    """The installed keras-tuner is not one whose internals auxsearch knows."""


class SearchFailed(AuxSearchError):
    """A search stopped because its trials failed; the message says why."""
