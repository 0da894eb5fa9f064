"""Errors raised by auxsearch.

Every error derives from one base class, so callers and the CLI can catch
them all at once::

    AuxSearchError          anything auxsearch refuses, with a one-line reason
    ├── SpaceError          a search-space file that is malformed or invalid
    ├── TapError            a tap that names no candidate layer of the model
    ├── ModelError          a model builder that breaks the builder contract
    └── DataError           data that is missing, malformed or unfit for the task
"""

from __future__ import annotations


class AuxSearchError(Exception):
    """Base class of every error auxsearch raises on purpose."""


class SpaceError(AuxSearchError, ValueError):
    """A search-space file is malformed, or a value in it is not allowed."""


class TapError(AuxSearchError, ValueError):
    """A requested tap does not name (or match) any candidate layer."""


class ModelError(AuxSearchError, ValueError):
    """A model builder returned something auxsearch cannot search on."""


class DataError(AuxSearchError, ValueError):
    """Data cannot be read, or is malformed or unfit for the task."""
