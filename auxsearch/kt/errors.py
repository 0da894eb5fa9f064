"""Errors that must be Keras Tuner's own kinds to end a search."""

from __future__ import annotations

import keras_tuner as kt

from auxsearch.core.errors import AuxSearchError


class FatalTrialError(AuxSearchError, kt.errors.FatalError):
    """A configuration error found during a trial; it ends the search at once.

    Keras Tuner fails a trial on any other exception and tries the next, so
    a builder that breaks its contract would fail every trial. This one is
    among Keras Tuner's fatal errors.

    Attributes:
        error: The original error (e.g. a `ModelError`).
    """

    def __init__(self, error: AuxSearchError) -> None:
        super().__init__(str(error))
        self.error = error
