import random

import keras
import keras_tuner as kt
import numpy as np
import pytest

from auxsearch.errors import ModelError, TapError
from auxsearch.hypermodel import AuxLossHyperModel, TrialLogs, active_taps, route_labels
from conftest import functional_mlp, sequential_cnn

TRACES = []


class CountTraces(keras.layers.Layer):
    """Identity that counts how often Keras runs its Python `call`."""

    def call(self, x):
        TRACES.append(1)
        return x


def counting_mlp() -> keras.Model:
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
    h = CountTraces(name="count")(h)
    h = keras.layers.Dense(8, activation="relu", name="d2")(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


def _hp(hm, **taps):
    """HyperParameters with the given taps on (name=weight), the rest off."""
    hp = kt.HyperParameters()
    hm.sample_taps(hp)  # declare the space
    for tap in hm.taps:
        hp.values[f"tap/{tap.name}"] = tap.name in taps
        if tap.name in taps:
            hp.values[f"weight/{tap.name}"] = taps[tap.name]
    return hp


def _loss_weights(hm):
    return {name: float(v.numpy()) for name, v in hm._traced.loss_weights.items()}


def _fit(hm, hp, model, data, epochs=1, **kwargs):
    x, y, xv, yv = data
    return hm.fit(hp, model, x, y, validation_data=(xv, yv), epochs=epochs, verbose=0, **kwargs)


def test_space_has_a_switch_per_candidate_and_conditional_weights():
    hm = AuxLossHyperModel(functional_mlp, weight_range=(0.05, 0.5))
    hp = kt.HyperParameters()
    hm.build(hp)
    names = [p.name for p in hp.space]
    assert names == ["tap/d1", "weight/d1", "tap/d2", "weight/d2", "tap/d3", "weight/d3"]
    weight = hp.space[1]
    assert (weight.min_value, weight.max_value, weight.sampling) == (0.05, 0.5, "log")
    assert hp.values == {"tap/d1": False, "tap/d2": False, "tap/d3": False}


def test_build_with_no_taps_turns_every_head_off():
    hm = AuxLossHyperModel(functional_mlp)
    model = hm.build(_hp(hm))
    assert sorted(model.output_names) == ["aux_d1", "aux_d2", "aux_d3", "main"]
    assert _loss_weights(hm) == {"aux_d1": 0.0, "aux_d2": 0.0, "aux_d3": 0.0}


def test_build_with_some_taps():
    hm = AuxLossHyperModel(functional_mlp)
    hm.build(_hp(hm, d2=0.25))
    assert _loss_weights(hm) == {"aux_d1": 0.0, "aux_d2": 0.25, "aux_d3": 0.0}


def test_build_with_all_taps_on_a_sequential_model():
    hm = AuxLossHyperModel(sequential_cnn)
    weights = {"conv_a": 0.125, "seq": 0.25, "conv_b": 0.375, "pool": 0.5}
    model = hm.build(_hp(hm, **weights))
    assert sorted(model.output_names) == sorted(["main"] + [f"aux_{n}" for n in weights])
    assert _loss_weights(hm) == {f"aux_{k}": v for k, v in weights.items()}
    assert type(model.get_layer("aux_conv_a_pool")).__name__ == "GlobalAveragePooling2D"
    assert type(model.get_layer("aux_seq_pool")).__name__ == "GlobalAveragePooling1D"
    # Heads read the tapped layers' outputs in the same graph: no layer is called twice.
    assert all(len(layer._inbound_nodes) == 1 for layer in model.layers)


def test_logs_hold_the_objective_and_only_active_heads(tiny_data):
    hm = AuxLossHyperModel(functional_mlp)
    assert (hm.objective.name, hm.objective.direction) == ("val_main_accuracy", "max")
    hp = _hp(hm)
    history = _fit(hm, hp, hm.build(hp), tiny_data, epochs=2)
    assert len(history.history["val_main_accuracy"]) == 2
    assert not [key for key in history.history if "aux_" in key]
    assert history.history["epochs_trained"] == [2, 2]
    assert history.history["trial_seconds"][0] >= history.history["fit_seconds"][0] > 0
    hp = _hp(hm, d3=0.5)
    history = _fit(hm, hp, hm.build(hp), tiny_data)
    assert sorted(k for k in history.history if "aux_" in k) == [
        "aux_d3_accuracy", "aux_d3_loss", "val_aux_d3_accuracy", "val_aux_d3_loss"]


def test_single_output_logs_get_main_names(tiny_data):
    # A model with one output (as a user's own build may return) logs
    # `val_accuracy`; the objective needs `val_main_accuracy`.
    x, y, xv, yv = tiny_data
    inputs = keras.Input((6,))
    outputs = keras.layers.Dense(3, activation="softmax", name="main")(inputs)
    model = keras.Model(inputs, {"main": outputs})
    model.compile("adam", {"main": "sparse_categorical_crossentropy"}, metrics={"main": ["accuracy"]})
    history = model.fit(x, {"main": y}, validation_data=(xv, {"main": yv}), epochs=1,
                        verbose=0, callbacks=[TrialLogs(["main"])])
    assert history.history["val_main_accuracy"] == history.history["val_accuracy"]
    assert history.history["main_loss"] == history.history["loss"]


def test_labels_reach_every_active_head(tiny_data):
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d1=0.5, d3=0.125)
    logs = {k: v[-1] for k, v in _fit(hm, hp, hm.build(hp), tiny_data).history.items()}
    for head in ["main", "aux_d1", "aux_d3"]:
        assert f"val_{head}_accuracy" in logs
    # The total loss is the weighted sum of the per-output losses.
    expected = logs["main_loss"] + 0.5 * logs["aux_d1_loss"] + 0.125 * logs["aux_d3_loss"]
    assert logs["loss"] == pytest.approx(expected, rel=1e-3)


def test_route_labels_shares_one_array():
    x, y = np.zeros((4, 2)), np.arange(4)
    routed_x, routed_y = route_labels(x, y, ["main", "aux_a"])
    assert routed_x is x and routed_y["main"] is y and routed_y["aux_a"] is y


def test_datasets_are_routed_too(tiny_data):
    import tensorflow as tf

    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d2=0.25)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(8)
    history = hm.fit(hp, hm.build(hp), train, validation_data=val, epochs=1, verbose=0)
    assert "val_aux_d2_accuracy" in history.history


def test_trials_reuse_one_traced_model_from_fresh_weights(tiny_data):
    hm = AuxLossHyperModel(counting_mlp)
    first_hp, second_hp = _hp(hm, d1=0.25), _hp(hm, d2=0.5)
    first = hm.build(first_hp)
    _fit(hm, first_hp, first, tiny_data, epochs=2)
    trained = first.get_weights()
    assert int(first.optimizer.iterations) > 0

    second = hm.build(second_hp)
    assert second is first  # reused: compiled once
    random.seed(hm._trial_seed(second_hp))
    np.random.seed(hm._trial_seed(second_hp))
    expected = hm._full_model().get_weights()
    for now, fresh, old in zip(second.get_weights(), expected, trained):
        np.testing.assert_array_equal(now, fresh)  # a fresh start, not the last trial's
    assert any(not np.array_equal(a, b) for a, b in zip(second.get_weights(), trained))
    assert int(second.optimizer.iterations) == 0
    assert all(not np.any(v.numpy()) for v in second.optimizer.variables
               if "momentum" in v.path or "velocity" in v.path)

    TRACES.clear()
    _fit(hm, second_hp, second, tiny_data, epochs=2)
    assert TRACES == []  # the training and validation steps were not traced again


def test_a_model_not_trained_since_it_was_handed_out_is_not_reused(tiny_data):
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d1=0.25)
    kept = hm.build(hp)  # e.g. tuner.get_best_models(): the caller keeps it
    other = hm.build(hp)
    assert other is not kept
    assert not {id(v) for v in kept.weights} & {id(v) for v in other.weights}


def test_a_trial_with_all_taps_off_trains_like_the_plain_model(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, optimizer="adam", learning_rate=0.01)
    hp = _hp(hm)
    trial = hm.build(hp)
    hm.fit(hp, trial, x, y, validation_data=(xv, yv), epochs=3, batch_size=8,
           shuffle=False, verbose=0)

    random.seed(hm._trial_seed(hp))
    np.random.seed(hm._trial_seed(hp))
    plain = functional_mlp()
    plain.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    plain.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for name in ["d1", "d2", "d3", "out"]:
        for got, want in zip(trial.get_layer(name).get_weights(), plain.get_layer(name).get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_reloaded_checkpoint_restores_weights_and_optimizer_state(tiny_data, tmp_path):
    # What Hyperband does for a promotion: build, then load the parent's checkpoint.
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d2=0.25)
    parent = hm.build(hp)
    _fit(hm, hp, parent, tiny_data, epochs=2)
    path = tmp_path / "checkpoint.weights.h5"
    parent.save_weights(path)
    saved = [v.numpy().copy() for v in parent.optimizer.variables]
    weights = [w.copy() for w in parent.get_weights()]

    child = hm.build(hp)
    assert int(child.optimizer.iterations) == 0
    child.load_weights(path)
    for got, want in zip(child.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(child.optimizer.variables, saved):
        np.testing.assert_array_equal(got.numpy(), want)


def test_same_configuration_same_result(tiny_data):
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d1=0.5)
    first = _fit(hm, hp, hm.build(hp), tiny_data, epochs=2).history["val_main_loss"]
    other = _hp(hm, d3=0.5)
    _fit(hm, other, hm.build(other), tiny_data)
    again = _fit(hm, hp, hm.build(hp), tiny_data, epochs=2).history["val_main_loss"]
    assert again == pytest.approx(first, rel=1e-6)


def test_builder_returning_one_model_twice_is_refused():
    model = functional_mlp()
    with pytest.raises(ModelError, match="returned the same model object twice"):
        AuxLossHyperModel(lambda: model)


def test_builder_contract_errors():
    with pytest.raises(ModelError, match="must return a keras.Model; it returned str"):
        AuxLossHyperModel(lambda: "model")
    with pytest.raises(ModelError, match="num_classes=4, but model 'mlp' outputs 3 classes"):
        AuxLossHyperModel(functional_mlp, num_classes=4)
    with pytest.raises(TapError, match="did you mean 'd1'"):
        AuxLossHyperModel(functional_mlp, taps=["d11"])
    with pytest.raises(ValueError, match=r"0 < low <= high .* weight_range=\(0.0, 1.0\)"):
        AuxLossHyperModel(functional_mlp, weight_range=(0.0, 1.0))


def test_active_taps_reads_trial_values():
    values = {"tap/a": True, "weight/a": 0.2, "tap/b": False, "tuner/epochs": 3}
    assert active_taps(values) == {"a": 0.2}


@pytest.mark.parametrize("tuner_class", [kt.Hyperband, kt.RandomSearch])
def test_works_with_keras_tuner(tuner_class, tiny_data, tmp_path):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, batch_size=16)
    options = {"max_epochs": 2} if tuner_class is kt.Hyperband else {"max_trials": 2}
    tuner = tuner_class(hm, objective=hm.objective, seed=1, directory=tmp_path,
                        project_name="p", **options)
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2 and all(t.status == "COMPLETED" for t in trials)
    assert all(t.metrics.exists("val_main_accuracy") for t in trials)
    best, second = tuner.get_best_models(2)
    assert best is not second and "main" in best.output_names


def test_best_epoch_checkpoint_is_written_once_at_the_best_epoch(tiny_data, tmp_path, monkeypatch):
    from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

    hm = AuxLossHyperModel(functional_mlp, batch_size=16)  # 2 steps per epoch
    hp = _hp(hm, d1=0.5)
    model = hm.build(hp)
    path = str(tmp_path / "checkpoint.weights.h5")
    objective = kt.Objective("val_main_loss", "min")
    writes = []
    original = model.save_weights
    monkeypatch.setattr(model, "save_weights", lambda p: (writes.append(p), original(p)))
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


def test_a_diverging_trial_stops_at_once_and_fails(tiny_data):
    hm = AuxLossHyperModel(functional_mlp, optimizer="sgd", learning_rate=1e30)
    hp = _hp(hm, d1=0.5)
    model = hm.build(hp)
    with pytest.raises(kt.errors.FailedTrialError,
                       match=r"the loss became (nan|inf) in epoch (\d); training stopped") as info:
        _fit(hm, hp, model, tiny_data, epochs=20)
    epoch = int(str(info.value).split("epoch ")[1].split(";")[0])
    assert epoch < 20 and int(model.optimizer.iterations) <= 2 * epoch  # no wasted epochs
    # The next trial reuses the traced model, from fresh weights.
    again = hm.build(_hp(hm))
    assert again is model and all(np.isfinite(w).all() for w in again.get_weights())


def test_failed_trials_are_recorded_and_the_search_goes_on(tiny_data, tmp_path):
    from auxsearch.leaderboards import trials
    from auxsearch.tuner import Hyperband

    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, optimizer="sgd", learning_rate=1e30, batch_size=16)
    tuner = Hyperband(hm, max_epochs=2, seed=1, directory=tmp_path, project_name="search",
                      max_consecutive_failed_trials=5)
    tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    table = trials(tmp_path)
    assert len(table) == 2 and set(table["status"]) == {"FAILED"}
    assert all("the loss became" in m for m in table["message"])
