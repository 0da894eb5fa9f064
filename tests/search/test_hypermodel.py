import random

import keras
import keras_tuner as kt
import numpy as np
import pytest

from auxsearch.core.errors import ModelError, SpaceError, TapError
from auxsearch.core.space import TapSpec, TrainingSpec
from auxsearch.core.tapspace import AuxLoss
from auxsearch.kt.errors import FatalTrialError
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.trial.traced import seeded
from tests.conftest import functional_mlp, sequential_cnn

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
    hm.declare(hp)  # declare the space
    for tap in hm.taps:
        hp.values[f"tap/{tap.name}"] = tap.name in taps
        if tap.name in taps:
            hp.values[f"weight/{tap.name}"] = taps[tap.name]
    return hp


def _loss_weights(hm):
    return {name: float(v.numpy()) for name, v in hm.trainer.models.current.loss_weights.items()}


def _fit(hm, hp, model, data, epochs=1, **kwargs):
    x, y, xv, yv = data
    return hm.fit(hp, model, x, y, validation_data=(xv, yv), epochs=epochs, verbose=0, **kwargs)


def test_space_has_a_switch_per_candidate_and_conditional_weights():
    hm = AuxLossHyperModel(functional_mlp, TapSpec(weight_range=(0.05, 0.5)))
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


@pytest.mark.e2e
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


@pytest.mark.e2e
def test_labels_reach_every_active_head(tiny_data):
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d1=0.5, d3=0.125)
    logs = {k: v[-1] for k, v in _fit(hm, hp, hm.build(hp), tiny_data).history.items()}
    for head in ["main", "aux_d1", "aux_d3"]:
        assert f"val_{head}_accuracy" in logs
    # The total loss is the weighted sum of the per-output losses.
    expected = logs["main_loss"] + 0.5 * logs["aux_d1_loss"] + 0.125 * logs["aux_d3_loss"]
    assert logs["loss"] == pytest.approx(expected, rel=1e-3)


@pytest.mark.e2e
def test_trials_reuse_one_traced_model_from_fresh_weights(tiny_data):
    hm = AuxLossHyperModel(counting_mlp)
    first_hp, second_hp = _hp(hm, d1=0.25), _hp(hm, d2=0.5)
    first = hm.build(first_hp)
    _fit(hm, first_hp, first, tiny_data, epochs=2)
    layer_weights = hm.trainer.models.current.layer_weights  # the loss weights left out
    trained = [v.numpy() for v in layer_weights]
    assert int(first.optimizer.iterations) > 0

    second = hm.build(second_hp)
    assert second is first  # reused: compiled once
    with seeded(hm.trial_seed(second_hp)):
        expected = hm.trainer.assembly.model(hm.trainer.models.structure).get_weights()
    now = [v.numpy() for v in layer_weights]
    for weights, fresh in zip(now, expected, strict=True):
        np.testing.assert_array_equal(weights, fresh)  # a fresh start, not the last trial's
    assert any(not np.array_equal(a, b) for a, b in zip(now, trained))
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


@pytest.mark.e2e
def test_a_trial_with_all_taps_off_trains_like_the_plain_model(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, None, TrainingSpec(optimizer="adam", learning_rate=0.01))
    hp = _hp(hm)
    trial = hm.build(hp)
    hm.fit(hp, trial, x, y, validation_data=(xv, yv), epochs=3, batch_size=8,
           shuffle=False, verbose=0)

    with seeded(hm.trial_seed(hp)):
        plain = functional_mlp()
    plain.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    plain.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for name in ["d1", "d2", "d3", "out"]:
        for got, want in zip(trial.get_layer(name).get_weights(),
                             plain.get_layer(name).get_weights()):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.e2e
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
        AuxLossHyperModel(functional_mlp, ["d11"])
    with pytest.raises(SpaceError,
                       match=r"weight_range must be 0 < low <= high .*; got \[0.0, 1.0\]"):
        AuxLossHyperModel(functional_mlp, TapSpec(weight_range=(0.0, 1.0)))


@pytest.mark.e2e
@pytest.mark.parametrize("tuner_class", [kt.Hyperband, kt.RandomSearch])
def test_works_with_keras_tuner(tuner_class, tiny_data, tmp_path):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, None, TrainingSpec(batch_size=16))
    options = {"max_epochs": 2} if tuner_class is kt.Hyperband else {"max_trials": 2}
    tuner = tuner_class(hm, objective=hm.objective, seed=1, directory=tmp_path,
                        project_name="p", **options)
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2 and all(t.status == "COMPLETED" for t in trials)
    assert all(t.metrics.exists("val_main_accuracy") for t in trials)
    best, second = tuner.get_best_models(2)
    assert best is not second and "main" in best.output_names


@pytest.mark.e2e
def test_a_diverging_trial_stops_at_once_and_fails(tiny_data):
    hm = AuxLossHyperModel(functional_mlp, None, TrainingSpec(optimizer="sgd", learning_rate=1e30))
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


@pytest.mark.e2e
def test_failed_trials_are_recorded_and_the_search_goes_on(tiny_data, tmp_path):
    from auxsearch.results.tables import trials
    from auxsearch.search.tuner import Hyperband

    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, None,
                           TrainingSpec(optimizer="sgd", learning_rate=1e30, batch_size=16))
    tuner = Hyperband(hm, max_epochs=2, seed=1, directory=tmp_path, project_name="search",
                      max_consecutive_failed_trials=5)
    tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    table = trials(tmp_path)
    assert len(table) == 2 and set(table["status"]) == {"FAILED"}
    assert all("the loss became" in m for m in table["message"])


def test_kinds_schedules_and_widths_are_searched_per_tap():
    hm = AuxLossHyperModel(functional_mlp, TapSpec(
        candidates=("d2",), kinds=("head", "penalty"), schedules=("constant", "off_after"),
        head_units=(0, 16)))
    hp = kt.HyperParameters()
    hm.declare(hp)
    assert [p.name for p in hp.space] == [
        "tap/d2", "weight/d2", "kind/d2", "units/d2", "schedule/d2"]
    assert hp.values == {"tap/d2": False}  # the baseline: nothing else is active
    hp.values.update({"tap/d2": True, "weight/d2": 0.3, "kind/d2": "head",
                      "units/d2": 16, "schedule/d2": "off_after"})
    assert hm.declare(hp) == {"d2": AuxLoss("d2", 0.3, "head", "off_after", 16)}
    model = hm.build(hp)
    assert {"aux_d2", "aux_d2_h16", "penalty_d2"} < set(model.output_names)
    assert _loss_weights(hm) == {"aux_d2": 0.0, "aux_d2_h16": pytest.approx(0.3),
                                 "penalty_d2": 0.0}


@pytest.mark.e2e
def test_penalty_is_the_mean_squared_activation_in_the_same_pass(tiny_data):
    TRACES.clear()
    hm = AuxLossHyperModel(counting_mlp,
                           TapSpec(candidates=("d1", "d2"), kinds=("penalty",), penalty="l2"))
    hp = hm.hyperparameters({"tap/d2": True, "weight/d2": 0.5, "tap/d1": False})
    model = hm.build(hp)
    assert model.output_names == ["main", "penalty_d1", "penalty_d2"]
    x = tiny_data[0][:4]
    outputs = model(x)
    activations = keras.Model(model.inputs, model.get_layer("d2").output)(x)
    np.testing.assert_allclose(outputs["penalty_d2"], np.mean(np.square(activations), axis=1),
                               rtol=1e-5)
    traces = len(TRACES)
    history = _fit(hm, hp, model, tiny_data, epochs=1)
    logs = {k: v[-1] for k, v in history.history.items()}
    # The counting layer sits before both taps: one call per traced step, never two.
    assert len(TRACES) - traces <= 3
    assert logs["loss"] == pytest.approx(logs["main_loss"] + 0.5 * logs["penalty_d2_loss"],
                                         rel=1e-3)


@pytest.mark.e2e
def test_hints_regress_a_layer_onto_targets_through_an_adapter(tiny_data):
    x, y, xv, yv = tiny_data
    rng = np.random.default_rng(1)
    hints = {"d1": (4,), "d3": (8,)}
    hm = AuxLossHyperModel(functional_mlp, TapSpec(kinds=["head", "hint"]), hints=hints)
    hp = hm.hyperparameters({"tap/d1": True, "weight/d1": 0.2, "kind/d1": "hint",
                         "tap/d2": False, "tap/d3": False})
    model = hm.build(hp)
    assert tuple(model.get_layer("hint_d1").output.shape) == (None, 4)  # adapter
    assert isinstance(model.get_layer("hint_d3"), keras.layers.Identity)  # same shape
    assert "kind/d2" not in [p.name for p in hp.space]  # no targets, no hint
    train = {"main": y, "hint/d1": rng.normal(size=(len(x), 4)).astype("float32"),
             "hint/d3": rng.normal(size=(len(x), 8)).astype("float32")}
    val = {"main": yv, "hint/d1": np.zeros((len(xv), 4), "float32"),
           "hint/d3": np.zeros((len(xv), 8), "float32")}
    history = hm.fit(hp, model, x, train, validation_data=(xv, val), epochs=1, verbose=0)
    assert "val_hint_d1_loss" in history.history and "val_hint_d3_loss" not in history.history
    with pytest.raises(ValueError, match="hint/d1"):
        hm.fit(hp, model, x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    with pytest.raises(TapError, match="'d9', which is not a candidate"):
        AuxLossHyperModel(functional_mlp, TapSpec(kinds=["hint"]), hints={"d9": (4,)})


class _Weights(keras.callbacks.Callback):
    def __init__(self, hm):
        super().__init__()
        self.hm, self.seen = hm, []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append((epoch, _loss_weights(self.hm)["aux_d2"], dict(logs)))


@pytest.mark.e2e
@pytest.mark.parametrize("schedule, factors", [
    ("constant", [1, 1, 1, 1]),
    ("linear_decay", [1, 2 / 3, 1 / 3, 0]),
    ("off_after", [1, 1, 0, 0]),
])
def test_weights_follow_the_schedule_by_absolute_epoch(tiny_data, schedule, factors):
    hm = AuxLossHyperModel(functional_mlp, TapSpec(candidates=("d2",), schedules=(schedule,)),
                           max_epochs=4)
    hp = hm.hyperparameters({"tap/d2": True, "weight/d2": 0.6})
    model = hm.build(hp)
    probe = _Weights(hm)
    _fit(hm, hp, model, tiny_data, epochs=2, callbacks=[probe])
    # A Hyperband round that resumes at epoch 2 continues the schedule there.
    _fit(hm, hp, model, tiny_data, epochs=4, initial_epoch=2, callbacks=[probe])
    assert [epoch for epoch, *_ in probe.seen] == [0, 1, 2, 3]
    assert [w for _, w, _ in probe.seen] == pytest.approx([0.6 * f for f in factors])
    for _, weight, logs in probe.seen:  # the loss itself changes with the weight
        assert logs["loss"] == pytest.approx(
            logs["main_loss"] + weight * logs["aux_d2_loss"], rel=1e-3)


@pytest.mark.e2e
@pytest.mark.parametrize("task, units, activation, labels, objective", [
    ("binary", 1, "sigmoid", lambda y: (y > 0).astype("float32"), ("val_main_accuracy", "max")),
    ("regression", 2, None, lambda y: np.stack([y, -y], 1).astype("float32"),
     ("val_main_mae", "min")),
])
def test_tasks_set_heads_losses_and_objective(tiny_data, task, units, activation, labels,
                                              objective):
    def build():
        inputs = keras.Input((6,))
        h = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
        return keras.Model(inputs, keras.layers.Dense(units, activation=activation)(h))

    hm = AuxLossHyperModel(build, task=task)
    assert (hm.objective.name, hm.objective.direction) == objective
    hp = hm.hyperparameters({"tap/d1": True, "weight/d1": 0.5})
    model = hm.build(hp)
    assert model.get_layer("aux_d1").units == units
    x, y, xv, yv = tiny_data
    history = hm.fit(hp, model, x, labels(y), validation_data=(xv, labels(yv)),
                     epochs=1, verbose=0)
    assert objective[0] in history.history and f"val_aux_d1_{objective[0][9:]}" in history.history
    with pytest.raises(ModelError, match=f"for a {task} task"):
        AuxLossHyperModel(functional_mlp, task=task) if task == "binary" else \
            AuxLossHyperModel(
                lambda: keras.Sequential([keras.Input((6,)), keras.layers.Reshape((2, 3))]),
                task=task)


@pytest.mark.e2e
def test_many_candidate_outputs_get_a_model_per_configuration(tiny_data, monkeypatch):
    import auxsearch.trial.trainer as module

    monkeypatch.setattr(module, "MAX_TRACED_OUTPUTS", 1)
    hm = AuxLossHyperModel(functional_mlp)
    first_hp = hm.hyperparameters(
        {"tap/d1": True, "weight/d1": 0.1, "tap/d2": False, "tap/d3": False})
    first = hm.build(first_hp)
    assert sorted(first.output_names) == ["aux_d1", "main"]
    _fit(hm, first_hp, first, tiny_data)
    again = hm.build(first_hp)
    assert again is first  # the same structure: reused
    second = hm.build(hm.hyperparameters({"tap/d1": False, "tap/d2": False, "tap/d3": False}))
    assert second.output_names == ["main"]


@pytest.mark.e2e
def test_a_150_layer_application_lists_taps_and_builds_a_trial():
    def build():
        return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10)

    hm = AuxLossHyperModel(build)
    assert len(hm.taps) >= 150 and hm.trainer.models.every is None  # a model per configuration
    hp = hm.hyperparameters({"tap/block_5_add": True, "weight/block_5_add": 0.1})
    model = hm.build(hp)
    assert sorted(model.output_names) == ["aux_block_5_add", "main"]
    assert hm.space.count() == 2 ** len(hm.taps)


@pytest.mark.e2e
def test_history_holds_the_chance_score_of_a_constant_prediction(tiny_data):
    hm = AuxLossHyperModel(functional_mlp)
    hp = hm.hyperparameters({"tap/d1": False, "tap/d2": False, "tap/d3": False})
    history = _fit(hm, hp, hm.build(hp), tiny_data)
    yv = tiny_data[3]
    assert history.history["chance_score"][-1] == pytest.approx(
        np.bincount(yv).max() / len(yv))


def test_an_exception_in_the_builder_is_recorded_with_its_message(tiny_data, tmp_path):
    from auxsearch.results.tables import trials
    from auxsearch.search.tuner import Hyperband

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) > 2:  # fine while checked, broken once the search runs
            raise RuntimeError("the builder ran out of luck")
        return functional_mlp()

    x, y, xv, yv = tiny_data
    tuner = Hyperband(AuxLossHyperModel(flaky), max_epochs=2, seed=1, directory=tmp_path,
                      project_name="search", max_consecutive_failed_trials=5)
    tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    table = trials(tmp_path)
    assert set(table["status"]) == {"FAILED"}
    assert set(table["message"]) == {"RuntimeError: the builder ran out of luck"}


def _nested_model() -> keras.Model:
    block = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="inner"),
                              keras.layers.Dense(8, activation="relu", name="last")],
                             name="block")
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu", name="after")(block(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


@pytest.mark.e2e
def test_a_head_on_a_layer_inside_a_nested_model_trains(tiny_data, tmp_path):
    hm = AuxLossHyperModel(_nested_model, TapSpec(kinds=["head", "penalty"]))
    assert [tap.name for tap in hm.taps] == ["block", "block/inner", "after"]
    hp = hm.hyperparameters({"tap/block": False, "tap/after": False, "tap/block/inner": True,
                         "weight/block/inner": 0.5, "kind/block/inner": "head"})
    model = hm.build(hp)
    assert "aux_block_inner" in model.output_names
    assert len(model.get_layer("aux_block_inner").get_weights()) == 2
    kernel = next(w for w in model.weights if w.path == "block/inner/kernel")
    before = kernel.numpy().copy()
    history = _fit(hm, hp, model, tiny_data, epochs=1)
    assert "val_aux_block_inner_accuracy" in history.history
    assert not np.allclose(kernel.numpy(), before)  # the nested layer itself trains
    # Its deployable model (heads removed) saves and loads with plain Keras.
    from auxsearch.search.export import main_model

    path = tmp_path / "main.keras"
    main_model(model).save(path)
    loaded = keras.saving.load_model(path)
    assert [layer.name for layer in loaded.layers][1:] == ["block", "after", "out", "main"]
    x = tiny_data[2]
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0)["main"], atol=1e-6)


@pytest.mark.e2e
def test_a_builder_that_changes_its_architecture_ends_the_search_at_once(tiny_data, tmp_path):
    searching = []

    def growing():
        model = functional_mlp()
        if searching:  # fine while checked, another architecture once the search runs
            return keras.Model(model.inputs, keras.layers.Dense(3, activation="softmax")(
                model.outputs[0]), name="mlp")
        return model

    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(growing)
    tuner = kt.RandomSearch(hm, objective=hm.objective, max_trials=3, directory=tmp_path,
                            project_name="p")
    searching.append(True)
    with pytest.raises(FatalTrialError, match="first built 5 layers, then 6") as info:
        tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    assert isinstance(info.value.error, ModelError) and isinstance(info.value, kt.errors.FatalError)
    assert len(tuner.oracle.trials) == 1  # no second trial was tried


def test_seeded_copies_leave_the_search_hypermodel_and_global_generators_alone(tiny_data):
    hm = AuxLossHyperModel(functional_mlp, seed=3)
    twin = hm.seeded(11)
    hp = _hp(hm, d1=0.5)
    assert (hm.seed, twin.seed) == (3, 11) and hm.trial_seed(hp) != twin.trial_seed(hp)
    random.seed(5)
    np.random.seed(5)
    expected = random.random(), np.random.random()
    random.seed(5)
    np.random.seed(5)
    twin.build(hp)
    assert (random.random(), np.random.random()) == expected  # build seeds only its own scope


@pytest.mark.e2e
@pytest.mark.parametrize("task, units, labels", [
    ("multiclass", 3, lambda y: y),
    ("binary", 1, lambda y: (y > 0).astype("float32")),
])
def test_a_logits_model_trains_as_its_softmax_twin(tiny_data, task, units, labels):
    probability = "softmax" if task == "multiclass" else "sigmoid"

    def twin(activation):
        def build():
            inputs = keras.Input((6,))
            h = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
            return keras.Model(inputs, keras.layers.Dense(units, activation=activation,
                                                          name="out")(h))
        return build

    x, y, xv, yv = tiny_data
    histories = []
    for activation in (probability, None):
        hm = AuxLossHyperModel(twin(activation), task=task, seed=4)
        hp = hm.hyperparameters({"tap/d1": True, "weight/d1": 0.3})
        histories.append(hm.fit(hp, hm.build(hp), x, labels(y),
                                validation_data=(xv, labels(yv)), epochs=3, verbose=0).history)
    probabilities, logits = histories
    for key in ("loss", "val_main_loss", "val_aux_d1_loss", "val_main_accuracy"):
        np.testing.assert_allclose(logits[key], probabilities[key], rtol=1e-4, atol=1e-5)


@pytest.mark.e2e
def test_a_model_with_two_inputs_takes_a_list_or_a_dict(tiny_data, tmp_path):
    def two():
        a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
        h = keras.layers.Concatenate(name="cat")([keras.layers.Dense(5, name="da")(a),
                                                  keras.layers.Dense(5, name="db")(b)])
        return keras.Model([a, b], keras.layers.Dense(3, activation="softmax", name="out")(h))

    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(two, None, TrainingSpec(batch_size=8))
    assert [tap.name for tap in hm.taps] == ["da", "db", "cat"]
    hp = hm.hyperparameters({"tap/da": True, "weight/da": 0.3, "tap/db": False, "tap/cat": False})
    as_list = hm.fit(hp, hm.build(hp), [x[:, :4], x[:, 4:]], y,
                     validation_data=([xv[:, :4], xv[:, 4:]], yv), epochs=2, verbose=0).history
    as_dict = hm.fit(hp, hm.build(hp), {"a": x[:, :4], "b": x[:, 4:]}, y,
                     validation_data=({"a": xv[:, :4], "b": xv[:, 4:]}, yv), epochs=2,
                     verbose=0).history
    assert as_list["val_aux_da_accuracy"] and as_list["loss"] == pytest.approx(as_dict["loss"])
    tuner = kt.RandomSearch(hm, objective=hm.objective, max_trials=2, directory=tmp_path,
                            project_name="p", seed=1)
    tuner.search([x[:, :4], x[:, 4:]], y, validation_data=([xv[:, :4], xv[:, 4:]], yv),
                 epochs=1, verbose=0)
    assert {t.status for t in tuner.oracle.trials.values()} == {"COMPLETED"}


def test_paired_seeds_give_every_configuration_the_same_start():
    hm = AuxLossHyperModel(functional_mlp)
    one, other = _hp(hm, d1=0.5), _hp(hm, d3=0.2)
    paired = hm.seeded(9, paired=True)
    assert paired.trial_seed(one) == paired.trial_seed(other) == 9
    first = [w.copy() for w in paired.build(one).get_layer("d2").get_weights()]
    paired.trainer.models.trained(paired.trainer.models.current.model)
    second = paired.build(other).get_layer("d2").get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)  # the user's layers start alike
    assert hm.seeded(9).trial_seed(one) != hm.seeded(9).trial_seed(other)


@pytest.mark.e2e
def test_one_hot_labels_through_keras_tuners_own_tuner_train_as_classes(tiny_data, tmp_path,
                                                                        caplog):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, ["d2"], seed=3)
    tuner = kt.RandomSearch(hm, objective=hm.objective, max_trials=2, seed=1,
                            directory=tmp_path, project_name="one_hot")
    with caplog.at_level("INFO", logger="auxsearch.data.labels"):
        tuner.search(x, np.eye(3)[y], validation_data=(xv, np.eye(3)[yv]), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"]
    # Checked and converted once for the search, not once per trial.
    said = "has one-hot labels of 3 columns; training on their argmax, integer labels"
    assert [r.getMessage().split(":")[1] for r in caplog.records] == [
        f" y {said} (the same loss)", f" y_val {said} (the same loss)"]
    hp = hm.hyperparameters(trials[0].hyperparameters.values)
    plain = hm.fit(hp, hm.build(hp), x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    assert trials[0].metrics.get_best_value("val_main_loss") == pytest.approx(
        plain.history["val_main_loss"][0], rel=1e-5)


def test_labels_that_do_not_fit_end_the_search_at_its_first_trial(tiny_data, tmp_path):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, ["d2"])
    tuner = kt.RandomSearch(hm, objective=hm.objective, max_trials=3,
                            directory=tmp_path, project_name="wrong")
    with pytest.raises(FatalTrialError, match=r"^fit: y has one-hot labels of 10 columns, but "
                                              r"the model has 3 classes; pass integer labels"):
        tuner.search(x, np.eye(10)[y], validation_data=(xv, yv), epochs=1, verbose=0)
    assert len(tuner.oracle.trials) == 1


def conv1d_labeller(steps=12, classes=3):
    """A per-step labeller: (batch, 12, 2) -> (batch, 12, classes), a tap at 1/2 in time."""
    inputs = keras.Input((steps, 2))
    h = keras.layers.Conv1D(4, 3, strides=2, padding="same", activation="relu", name="c1")(inputs)
    pooled = keras.layers.GlobalAveragePooling1D(name="pooled")(h)
    h = keras.layers.UpSampling1D(2, name="up")(h)
    h = h + keras.layers.RepeatVector(steps, name="again")(pooled)
    return keras.Model(inputs, keras.layers.Conv1D(classes, 1, name="out")(h))  # logits


@pytest.mark.e2e  # a conv model's first traced step takes seconds on 2 cores
def test_a_segmentation_search_trains_heads_on_masks_with_an_ignore_label():
    from tests.conftest import encoder_decoder

    hm = AuxLossHyperModel(encoder_decoder, ["enc2", "dec1"], task="segmentation",
                           ignore_label=255)
    assert hm.objective.name == "val_main_mean_iou" and hm.objective.direction == "max"
    rng = np.random.default_rng(0)
    x = rng.random((16, 16, 16, 1)).astype("float32")
    y = (x[..., 0] * 3).astype("int64")
    y[:, :2] = 255
    hp = _hp(hm, enc2=0.3, dec1=0.3)
    history = hm.fit(hp, hm.build(hp), x, y.astype("float32"), validation_data=(x, y),
                     epochs=1, verbose=0)
    logs = history.history
    assert 0 <= logs["val_main_mean_iou"][0] <= 1 and "val_aux_enc2_loss" in logs
    assert "val_main_accuracy" in logs
    counted = y[y != 255]
    assert logs["chance_score"][0] == pytest.approx(
        np.bincount(counted).max() / counted.size / 3)


def test_a_per_step_labeller_taps_only_layers_that_keep_their_steps():
    hm = AuxLossHyperModel(conv1d_labeller, task="segmentation")
    assert [tap.name for tap in hm.taps] == ["c1", "up", "again"]  # not the pooled one
    assert hm.trainer.assembly.logits and hm.trainer.assembly.positions == (12,)
    with pytest.raises(TapError, match="'pooled' cannot be tapped: its output .* no time axes"):
        AuxLossHyperModel(conv1d_labeller, ["pooled"], task="segmentation")


@pytest.mark.e2e  # a conv model's first traced step takes seconds on 2 cores
def test_a_per_step_labeller_trains_on_one_hot_steps_as_their_classes():
    hm = AuxLossHyperModel(conv1d_labeller, task="segmentation")
    rng = np.random.default_rng(1)
    x = rng.random((8, 12, 2)).astype("float32")
    y = (x[..., 0] * 3).astype("int32")
    hp = _hp(hm, c1=0.5)
    history = hm.fit(hp, hm.build(hp), x, np.eye(3)[y], validation_data=(x, y), epochs=1,
                     verbose=0)
    assert "val_aux_c1_loss" in history.history


def test_segmentation_refuses_masks_and_settings_that_do_not_fit():
    from tests.conftest import encoder_decoder

    hm = AuxLossHyperModel(encoder_decoder, ["enc2"], task="segmentation")
    hp = _hp(hm)
    x = np.zeros((4, 16, 16, 1), "float32")
    with pytest.raises(FatalTrialError, match=r"y has masks of shape \(8, 8\), but the model's "
                                              r"output has positions \(16, 16\)"):
        hm.fit(hp, hm.build(hp), x, np.zeros((4, 8, 8)), epochs=1, verbose=0)
    with pytest.raises(FatalTrialError, match=r"y has label 3 at index \(0, 0, 0\), but the "
                                              r"model has 3 classes; pass labels 0\.\.2"):
        hm.fit(hp, hm.build(hp), x, np.full((4, 16, 16), 3), epochs=1, verbose=0)
    with pytest.raises(FatalTrialError, match="y has label 0.5 at index"):
        hm.fit(hp, hm.build(hp), x, np.full((4, 16, 16), 0.5), epochs=1, verbose=0)
    with pytest.raises(SpaceError, match="ignore_label must be outside the model's classes 0..2"):
        AuxLossHyperModel(encoder_decoder, task="segmentation", ignore_label=0)
    with pytest.raises(SpaceError, match="ignore_label must be None for a task with one label"):
        AuxLossHyperModel(functional_mlp, ignore_label=255)
    with pytest.raises(ModelError, match=r"must output class scores per position.*\(None, 3\)"):
        AuxLossHyperModel(functional_mlp, task="segmentation")
    with pytest.raises(ModelError, match=r"its output has shape \(None, 16, 16, 3\) \(an output "
                                         r"for task = 'segmentation'\)$"):
        AuxLossHyperModel(encoder_decoder)
