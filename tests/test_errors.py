"""The error tree: everything auxsearch refuses derives from one class."""

import keras_tuner as kt
import pytest

from auxsearch import errors
from auxsearch.hypermodel import FatalTrialError


@pytest.mark.parametrize("kind", [errors.SpaceError, errors.TapError, errors.ModelError,
                                  errors.DataError, errors.RunDirError, errors.SearchFailed])
def test_every_error_is_an_auxsearch_error(kind):
    assert issubclass(kind, errors.AuxSearchError)


def test_bad_input_is_also_a_value_error():
    for kind in (errors.SpaceError, errors.TapError, errors.ModelError, errors.DataError):
        assert issubclass(kind, ValueError)
    assert not issubclass(errors.SearchFailed, ValueError)  # a search that failed: exit 1


def test_a_run_directory_error_says_whether_discarding_it_would_help():
    assert errors.RunDirError("x").discardable is False
    assert errors.RunDirError("x", discardable=True).discardable is True


def test_a_fatal_trial_error_ends_a_keras_tuner_search_and_keeps_its_cause():
    cause = errors.ModelError("the builder changed")
    fatal = FatalTrialError(cause)
    assert isinstance(fatal, kt.errors.FatalError) and isinstance(fatal, errors.AuxSearchError)
    assert fatal.error is cause and str(fatal) == "the builder changed"
