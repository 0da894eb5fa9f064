"""Errors raised by auxsearch.

Every error derives from one base class, so callers and the CLI can catch
them all at once::

    AuxSearchError          anything auxsearch refuses, with a one-line reason
    ├── SpaceError          a setting that is malformed or not allowed
    ├── TapError            a tap that names no candidate layer of the model
    ├── ModelError          a model builder that breaks the builder contract
    ├── DataError           data that is missing, malformed or unfit for the task
    ├── RunDirError         a run directory that cannot be used as asked
    └── SearchFailed        a search that stopped: its trials kept failing

The first five are bad input (the CLI exits with 2); `SearchFailed` is a
search that ran and failed (exit 1). An error found inside a trial, such as
a builder that changes its architecture, ends the search at once: the
HyperModel raises it as `hypermodel.FatalTrialError`, which is also one of
Keras Tuner's fatal errors and carries the original error.
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


class SearchFailed(AuxSearchError):
    """A search stopped because its trials failed; the message says why."""
