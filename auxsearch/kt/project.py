"""A Keras Tuner project's files: its directory, state files and checkpoints.

Keras Tuner writes its JSON state files in place, so a search killed while
it writes one could not be resumed; these functions replace them
atomically. `SaveBestEpoch` is Keras Tuner's callback that keeps a trial's
best epoch as its checkpoint.
"""

from __future__ import annotations

import os
from typing import Any

import keras_tuner as kt
from keras_tuner.src import utils as _utils
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from auxsearch.core.atomic import save_json
from auxsearch.core.rundir import TRIAL_STATE

__all__ = [
    "SaveBestEpoch", "checkpoint_path", "save_build_config", "save_oracle_state",
    "save_trial_state", "save_tuner_state",
]


def save_oracle_state(oracle: kt.Oracle) -> None:
    """Replaces the oracle's state file (`oracle.json`) atomically."""
    save_json(oracle._get_oracle_fname(), oracle.get_state())


def save_trial_state(oracle: kt.Oracle, trial: kt.engine.trial.Trial) -> None:
    """Replaces a trial's state file (`trial_<id>/trial.json`) atomically."""
    path = os.path.join(oracle._get_trial_dir(trial.trial_id), TRIAL_STATE)
    save_json(path, trial.get_state())


def save_tuner_state(tuner: kt.Tuner) -> None:
    """Replaces the tuner's state file (`<tuner id>.json`) atomically."""
    save_json(tuner._get_tuner_fname(), tuner.get_state())


def checkpoint_path(tuner: kt.Tuner, trial_id: str) -> str:
    """Returns the path of a trial's best-epoch checkpoint, where Keras Tuner keeps it."""
    return tuner._get_checkpoint_fname(trial_id)


def save_build_config(tuner: kt.Tuner, trial_id: str, model: Any) -> None:
    """Saves a trial's build configuration, as Keras Tuner does after `fit`."""
    _utils.save_json(tuner._get_build_config_fname(trial_id), model.get_build_config())
