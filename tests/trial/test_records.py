"""Trial records: logs, loss-weight schedules, the best-epoch checkpoint, NaN stop."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from auxsearch.core.space import TrainingSpec
from auxsearch.kt.project import SaveBestEpoch
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.trial import checkpoints
from auxsearch.trial.records import LossWeightSchedule, TrialRecords
from auxsearch.trial.traced import TracedModel
from tests.conftest import functional_mlp


def _hp(hm, **taps):
    return hm.hyperparameters({f"tap/{t.name}": t.name in taps for t in hm.taps}
                              | {f"weight/{k}": v for k, v in taps.items()})


def _fit(hm, hp, model, data, epochs=1, **kwargs):
    x, y, xv, yv = data
    return hm.fit(hp, model, x, y, validation_data=(xv, yv), epochs=epochs, verbose=0, **kwargs)


def test_single_output_logs_get_main_names(tiny_data):
    # A model with one output (as a user's own build may return) logs
    # `val_accuracy`; the objective needs `val_main_accuracy`.
    x, y, xv, yv = tiny_data
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, activation="softmax", name="main")(inputs)
    model = keras.Model(inputs, {"main": outputs})
    traced = TracedModel(model, {"optimizer": "adam", "loss": "sparse_categorical_crossentropy",
                                 "metrics": ["accuracy"]})
    records = TrialRecords(traced, [[]], kt.Objective("val_main_accuracy", "max"), 1, 0.5)
    history = model.fit(x, {"main": y}, validation_data=(xv, {"main": yv}), epochs=1,
                        verbose=0, callbacks=[records])
    assert history.history["val_main_accuracy"] == history.history["val_accuracy"]
    assert history.history["main_loss"] == history.history["loss"]
    assert records.history[0]["val_main_accuracy"] == history.history["val_accuracy"]


@pytest.mark.e2e
def test_best_epoch_checkpoint_is_written_once_at_the_best_epoch(tiny_data, tmp_path, monkeypatch):
    hm = AuxLossHyperModel(functional_mlp, None, TrainingSpec(batch_size=16))  # 2 steps per epoch
    hp = _hp(hm, d1=0.5)
    model = hm.build(hp)
    path = str(tmp_path / "checkpoint.weights.h5")
    objective = kt.Objective("val_main_loss", "min")
    writes = []
    original = checkpoints.write
    monkeypatch.setattr(checkpoints, "write", lambda m, p: (writes.append(p), original(m, p)))
    history = _fit(hm, hp, model, tiny_data, epochs=4, callbacks=[SaveBestEpoch(objective, path)])
    assert writes == [path]
    losses = history.history["val_main_loss"]
    best_epoch = losses.index(min(losses))
    assert int(model.optimizer.iterations) == 2 * (best_epoch + 1)
    saved = [w.copy() for w in model.get_weights()]
    reloaded = hm.build(_hp(hm))
    reloaded.load_weights(path)
    for got, want in zip(reloaded.get_weights(), saved):
        np.testing.assert_array_equal(got, want)


def test_the_schedule_sets_every_variable_from_the_absolute_epoch():
    variables = {name: keras.Variable(0.0, trainable=False) for name in ("a", "b", "c")}
    callback = LossWeightSchedule(variables, {"a": (0.8, "linear_decay"), "b": (0.5, "constant")},
                                  max_epochs=5)
    callback.on_epoch_begin(2)  # e.g. a Hyperband round that resumes at epoch 2
    assert {k: float(v.numpy()) for k, v in variables.items()} == pytest.approx(
        {"a": 0.4, "b": 0.5, "c": 0.0})
    assert callback.weights_at(4) == {"a": 0.0, "b": 0.5, "c": 0.0}


@pytest.mark.e2e
def test_a_diverged_copy_fails_with_its_epoch_and_stops_the_fit(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, None, TrainingSpec(optimizer="sgd", learning_rate=1e30))
    hp = _hp(hm, d1=0.5)
    model = hm.build(hp)
    with pytest.raises(kt.errors.FailedTrialError,
                       match=r"^the loss became (nan|inf) in epoch (3|4); training stopped there"):
        hm.fit(hp, model, x, y, validation_data=(xv, yv), epochs=8, initial_epoch=2, verbose=0)
    # The first step's loss is finite, the next is not: the fit stopped there, not at epoch 8.
    assert int(model.optimizer.iterations) <= 2 * -(-len(x) // 64)
