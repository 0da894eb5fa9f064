"""What a trial reports: constant-over-epochs metrics Keras Tuner keeps."""

import keras

from auxsearch.core import names
from auxsearch.trial.report import add_report


def test_the_report_is_constant_over_the_epochs_and_keeps_the_curve():
    history = keras.callbacks.History()
    history.epoch = [0, 1]
    history.history = {"val_main_accuracy": [0.5, 0.75]}
    add_report(history, "val_main_accuracy", initial_epoch=3, chance=0.1, fit_seconds=2.0,
               trial_seconds=3.0)
    assert history.history[f"{names.AT_EPOCH}4"] == [0.5, 0.5]
    assert history.history[f"{names.AT_EPOCH}5"] == [0.75, 0.75]
    assert history.history[names.CHANCE_SCORE] == [0.1, 0.1]
    assert history.history[names.EPOCHS_TRAINED] == [2, 2]
    assert history.history[names.FIT_SECONDS] == [2.0, 2.0]
    assert history.history[names.TRIAL_SECONDS] == [3.0, 3.0]


def test_no_chance_score_when_unknown():
    history = keras.callbacks.History()
    history.epoch = [0]
    history.history = {}
    add_report(history, "val_main_loss", 0, None, 1.0, 1.0)
    assert names.CHANCE_SCORE not in history.history
