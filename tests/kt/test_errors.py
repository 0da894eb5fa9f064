"""FatalTrialError: an auxsearch error that ends a Keras Tuner search at once."""

from __future__ import annotations

import keras_tuner as kt
import pytest

from auxsearch.core.errors import AuxSearchError, ModelError
from auxsearch.kt.errors import FatalTrialError


class _Failing(kt.HyperModel):
    """Raises `error` in every trial (its first build only declares the space)."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error
        self.builds = 0

    def build(self, hp):
        hp.Float("weight/a", 0.01, 1.0)
        self.builds += 1
        if self.builds > 1:
            raise self.error


def _tuner(tmp_path, error: Exception) -> kt.Tuner:
    return kt.RandomSearch(_Failing(error), objective="val_loss", max_trials=5,
                           max_consecutive_failed_trials=3, directory=str(tmp_path),
                           project_name="p")


def _search(tuner: kt.Tuner) -> None:
    tuner.search([[0.0]], [0.0], validation_data=([[0.0]], [0.0]), verbose=0)


def test_a_fatal_trial_error_ends_the_search_at_its_first_trial(tmp_path):
    cause = ModelError("the model builder first built 9 layers, then 10")
    tuner = _tuner(tmp_path, FatalTrialError(cause))
    with pytest.raises(FatalTrialError, match="^the model builder first built 9 layers, "
                                              "then 10$") as info:
        _search(tuner)
    assert info.value.error is cause  # the search ends with the error it carries
    assert isinstance(info.value, AuxSearchError)
    assert len(tuner.oracle.trials) == 1


@pytest.mark.e2e  # three failing trials of Keras Tuner's own loop: seconds
def test_any_other_error_only_fails_its_trial_until_too_many_did(tmp_path):
    # What FatalTrialError is for: without it Keras Tuner tries trial after trial.
    tuner = _tuner(tmp_path, ModelError("the model builder changed"))
    with pytest.raises(RuntimeError, match="Number of consecutive failures exceeded"):
        _search(tuner)
    assert len(tuner.oracle.trials) == 3
