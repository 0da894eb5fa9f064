import keras
import numpy as np
import pytest

from auxsearch.trial.traced import TracedModel, TracedModels, build_metrics, seeded


def _model():
    inputs = keras.Input((4,))
    h = keras.layers.Dense(4, name="h")(inputs)
    main = keras.layers.Dense(2, activation="softmax", name="main")(h)
    aux = keras.layers.Dense(2, activation="softmax", name="aux_h")(h)
    return keras.Model(inputs, {"main": main, "aux_h": aux})


def _traced():
    return TracedModel(_model(), {"optimizer": keras.optimizers.Adam(0.1),
                                  "loss": "sparse_categorical_crossentropy",
                                  "metrics": ["accuracy"]})


def test_heads_start_off_and_take_their_weights():
    traced = _traced()
    assert {k: float(v.numpy()) for k, v in traced.loss_weights.items()} == {"aux_h": 0.0}
    traced.set_loss_weights({"aux_h": 0.5})
    assert float(traced.loss_weights["aux_h"].numpy()) == 0.5
    traced.set_loss_weights({})
    assert float(traced.loss_weights["aux_h"].numpy()) == 0.0
    with pytest.raises(KeyError, match="aux_x"):
        traced.set_loss_weights({"aux_x": 1.0})


def test_loss_weights_act_without_recompiling():
    traced = _traced()
    x = np.ones((8, 4), "float32")
    y = {"main": np.zeros(8, "int32"), "aux_h": np.ones(8, "int32")}
    traced.set_loss_weights({"aux_h": 0.0})
    off = traced.model.evaluate(x, y, verbose=0, return_dict=True)
    traced.set_loss_weights({"aux_h": 2.0})
    on = traced.model.evaluate(x, y, verbose=0, return_dict=True)
    assert off["loss"] == pytest.approx(off["main_loss"], rel=1e-6)
    assert on["loss"] == pytest.approx(on["main_loss"] + 2 * on["aux_h_loss"], rel=1e-5)


def test_reset_takes_fresh_weights_and_restarts_the_optimizer():
    traced = _traced()
    x = np.ones((8, 4), "float32")
    y = {"main": np.zeros(8, "int32"), "aux_h": np.ones(8, "int32")}
    traced.model.fit(x, y, epochs=2, verbose=0)
    assert int(traced.model.optimizer.iterations) == 2
    fresh = _model()
    traced.reset(fresh)
    for got, want in zip([v.numpy() for v in traced.layer_weights], fresh.get_weights(),
                         strict=True):
        np.testing.assert_array_equal(got, want)
    assert int(traced.model.optimizer.iterations) == 0
    assert float(traced.model.optimizer.learning_rate.numpy()) == pytest.approx(0.1)
    assert all(not np.any(v.numpy()) for v in traced.model.optimizer.variables
               if "momentum" in v.path or "velocity" in v.path)


def _structure_model(structure):
    inputs = keras.Input((4,))
    h = keras.layers.Dense(4, name="h")(inputs)
    outputs = {"main": keras.layers.Dense(2, activation="softmax", name="main")(h)}
    for layer, _, _ in structure:
        outputs[f"aux_{layer}"] = keras.layers.Dense(2, activation="softmax",
                                                     name=f"aux_{layer}")(h)
    return keras.Model(inputs, outputs)


def _compile_args(structure):
    return {"optimizer": keras.optimizers.Adam(0.1), "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"]}


def test_seeded_draws_the_same_weights_and_restores_the_generators():
    import random

    random.seed(7)
    expected_next = random.random()
    random.seed(7)
    with seeded(3):
        first = _model().get_weights()
    assert random.random() == expected_next  # the caller's generator is untouched
    with seeded(3):
        again = _model().get_weights()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_one_model_serves_every_configuration_once_trained():
    models = TracedModels(_structure_model, _compile_args, every=[("h", "head", 0)])
    first = models.get([], seed=1, weights={})
    assert models.get([], seed=1, weights={}) is not first  # not trained: maybe still in use
    second = models.get([("h", "head", 0)], seed=1, weights={"aux_h": 0.5})
    models.trained(second.model)
    third = models.get([], seed=2, weights={})
    assert third is second and float(third.loss_weights["aux_h"].numpy()) == 0.0
    assert models.owns(third.model) is third and models.owns(first.model) is None


@pytest.mark.e2e
def test_without_every_output_each_configuration_gets_its_own():
    models = TracedModels(_structure_model, _compile_args, every=None)
    plain = models.get([], seed=1, weights={})
    assert plain.model.output_names == ["main"]
    models.trained(plain.model)
    assert models.get([], seed=1, weights={}) is plain  # the same outputs: reused
    models.trained(plain.model)
    tapped = models.get([("h", "head", 0)], seed=1, weights={"aux_h": 0.1})
    assert sorted(tapped.model.output_names) == ["aux_h", "main"]


REDRAWN = [("h", "head", 0)]


def _builds(make):
    models = TracedModels(make, _compile_args, every=REDRAWN)
    built = []
    real = models.make
    models.make = lambda s: built.append(1) or real(s)
    traced = models.get([], seed=1, weights={})
    for seed in (2, 3, 4):
        models.trained(traced.model)
        traced = models.get([], seed=seed, weights={})
        with seeded(seed):
            expected = make(REDRAWN).get_weights()
        for got, want in zip(traced.values(), expected, strict=True):
            np.testing.assert_array_equal(got, want)
    return len(built)


def test_reuses_redraw_the_weights_a_build_draws_once_a_build_confirmed_them():
    assert _builds(_structure_model) == 2  # the traced model, then one build that confirms


def test_weights_a_builder_sets_itself_are_built_every_time():
    def noisy(structure):
        model = _structure_model(structure)
        model.get_layer("h").set_weights([np.random.normal(size=(4, 4)), np.zeros(4)])
        return model
    assert _builds(noisy) == 4  # the confirming build differed: every reuse builds


def test_metrics_built_before_the_first_fit_leave_training_as_it_was():
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    y = {"main": np.arange(16) % 2, "aux_h": np.arange(16) % 2}

    def fit(prebuild):
        keras.utils.set_random_seed(0)
        traced = _traced()
        if prebuild:
            build_metrics(traced.model, (x[:1], {k: v[:1] for k, v in y.items()}))
            assert all(float(keras.ops.sum(v)) == 0 for v in traced.model.metrics_variables)
        count = len(traced.model.metrics_variables)
        history = traced.model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
        return count, len(traced.model.metrics_variables), history.history

    before, after, built = fit(prebuild=True)
    assert before == after  # the first trace creates no variable: it is traced once
    assert built == fit(prebuild=False)[2]
