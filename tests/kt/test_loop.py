"""The search loop: which held trials train together, and where checkpoints are read."""

from __future__ import annotations

import sys

import keras
import keras_tuner as kt

from auxsearch.kt.loop import HyperbandTunerBase, _largest_group


def _trial(trial_id: str, initial_epoch: int, epochs: int) -> kt.engine.trial.Trial:
    hp = kt.HyperParameters()
    hp.values.update({"tuner/initial_epoch": initial_epoch, "tuner/epochs": epochs})
    return kt.engine.trial.Trial(hp, trial_id=trial_id)


def test_the_most_numerous_trials_with_the_same_epochs_train_together():
    held = [_trial("0003", 0, 3), _trial("0001", 1, 3), _trial("0002", 0, 3)]
    assert [t.trial_id for t in _largest_group(held)] == ["0002", "0003"]


def test_on_a_tie_the_group_of_the_earliest_trial_trains_first():
    held = [_trial("0004", 0, 1), _trial("0002", 1, 3), _trial("0003", 0, 1),
            _trial("0001", 1, 3)]
    assert [t.trial_id for t in _largest_group(held)] == ["0001", "0002"]


class _Recording(HyperbandTunerBase):
    """Records the checkpoints it is asked to load."""

    def declare_space(self, hp: kt.HyperParameters) -> None:
        pass

    def load_checkpoint(self, model, trial_id: str) -> None:
        self.loaded.append(trial_id)


def _build(hp):
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    return model


def test_a_promotion_and_a_best_model_read_their_checkpoint_through_the_hook(tmp_path):
    oracle = kt.oracles.HyperbandOracle(kt.Objective("loss", "min"), max_epochs=3)
    tuner = _Recording(oracle, _build, directory=str(tmp_path), project_name="p")
    tuner.loaded = []
    promoted = _trial("0002", 1, 3).hyperparameters
    promoted.values["tuner/trial_id"] = "0001"
    tuner._try_build(promoted)
    tuner._try_build(_trial("0003", 0, 1).hyperparameters)  # no parent: nothing read
    tuner.load_model(_trial("0004", 0, 3))
    assert tuner.loaded == ["0001", "0004"]


def test_tensorboard_is_set_up_only_for_a_tensorboard_callback(tmp_path, monkeypatch):
    oracle = kt.oracles.HyperbandOracle(kt.Objective("loss", "min"), max_epochs=3)
    tuner = _Recording(oracle, _build, directory=str(tmp_path), project_name="p")
    trial = _trial("0001", 0, 1)
    with monkeypatch.context() as patched:  # the plugin Keras Tuner would import
        patched.setitem(sys.modules, "tensorboard.plugins.hparams.api", None)
        callbacks = [keras.callbacks.History()]
        tuner._configure_tensorboard_dir(callbacks, trial)
    assert len(callbacks) == 1
    board = keras.callbacks.TensorBoard(str(tmp_path / "logs"))
    callbacks = [board]
    tuner._configure_tensorboard_dir(callbacks, trial)
    assert board.log_dir.endswith("execution0") and len(callbacks) == 2  # + HParams
