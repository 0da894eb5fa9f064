"""The search loop's grouping: which held trials train together; no model built."""

from __future__ import annotations

import keras_tuner as kt

from auxsearch.kt.loop import _largest_group


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
