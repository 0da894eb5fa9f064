import keras
import keras_tuner as kt
import numpy as np
import pytest

from auxsearch.errors import ModelError, TapError
from auxsearch.hypermodel import AuxLossHyperModel, active_taps, route_labels
from conftest import functional_mlp, sequential_cnn


def _hp(hm, **taps):
    """HyperParameters with the given taps on (name=weight), the rest off."""
    hp = kt.HyperParameters()
    hm.sample_taps(hp)  # declare the space
    for tap in hm.taps:
        hp.values[f"tap/{tap.name}"] = tap.name in taps
        if tap.name in taps:
            hp.values[f"weight/{tap.name}"] = taps[tap.name]
    return hp


def _loss_weights(model):
    return dict(model._compile_config.config["loss_weights"])


def test_space_has_a_switch_per_candidate_and_conditional_weights():
    hm = AuxLossHyperModel(functional_mlp, weight_range=(0.05, 0.5))
    hp = kt.HyperParameters()
    hm.build(hp)
    names = [p.name for p in hp.space]
    assert names == ["tap/d1", "weight/d1", "tap/d2", "weight/d2", "tap/d3", "weight/d3"]
    weight = hp.space[1]
    assert (weight.min_value, weight.max_value, weight.sampling) == (0.05, 0.5, "log")
    assert hp.values == {"tap/d1": False, "tap/d2": False, "tap/d3": False}


def test_build_with_no_taps_is_the_plain_model():
    hm = AuxLossHyperModel(functional_mlp)
    model = hm.build(_hp(hm))
    assert model.output_names == ["main"]
    assert _loss_weights(model) == {"main": 1.0}
    assert len(model.trainable_weights) == len(functional_mlp().trainable_weights)


def test_build_with_some_taps():
    hm = AuxLossHyperModel(functional_mlp)
    model = hm.build(_hp(hm, d2=0.3))
    assert sorted(model.output_names) == ["aux_d2", "main"]
    assert _loss_weights(model) == {"main": 1.0, "aux_d2": 0.3}
    # The head reads d2's output in the same graph: d2 is not called twice.
    assert len(model.get_layer("d2")._inbound_nodes) == 1


def test_build_with_all_taps_on_a_sequential_model():
    hm = AuxLossHyperModel(sequential_cnn)
    weights = {"conv_a": 0.1, "seq": 0.2, "conv_b": 0.3, "pool": 0.4}
    model = hm.build(_hp(hm, **weights))
    assert sorted(model.output_names) == sorted(
        ["main"] + [f"aux_{name}" for name in weights])
    assert _loss_weights(model) == {"main": 1.0, **{f"aux_{k}": v for k, v in weights.items()}}
    assert model.get_layer("aux_conv_a_pool").__class__.__name__ == "GlobalAveragePooling2D"
    assert model.get_layer("aux_seq_pool").__class__.__name__ == "GlobalAveragePooling1D"


def test_objective_is_reported_with_zero_taps(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp)
    assert (hm.objective.name, hm.objective.direction) == ("val_main_accuracy", "max")
    hp = _hp(hm)
    history = hm.fit(hp, hm.build(hp), x, y, validation_data=(xv, yv), epochs=2, verbose=0)
    for key in ["val_main_accuracy", "val_main_loss", "main_accuracy", "main_loss"]:
        assert len(history.history[key]) == 2
    assert history.history["val_main_accuracy"] == history.history["val_accuracy"]
    assert history.history["epochs_trained"] == [2, 2]
    assert history.history["trial_seconds"][0] >= history.history["fit_seconds"][0] > 0


def test_labels_reach_every_head(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d1=0.5, d3=0.1)
    history = hm.fit(hp, hm.build(hp), x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    for head in ["main", "aux_d1", "aux_d3"]:
        assert f"val_{head}_accuracy" in logs
    # The total loss is the weighted sum of the per-output losses.
    expected = logs["main_loss"] + 0.5 * logs["aux_d1_loss"] + 0.1 * logs["aux_d3_loss"]
    assert logs["loss"] == pytest.approx(expected, rel=1e-3)


def test_route_labels_shares_one_array():
    x, y = np.zeros((4, 2)), np.arange(4)
    routed_x, routed_y = route_labels(x, y, ["main", "aux_a"])
    assert routed_x is x and routed_y["main"] is y and routed_y["aux_a"] is y


def test_route_labels_maps_datasets(tiny_data):
    import tensorflow as tf

    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d2=0.2)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(8)
    history = hm.fit(hp, hm.build(hp), train, validation_data=val, epochs=1, verbose=0)
    assert "val_aux_d2_accuracy" in history.history


def test_each_build_starts_from_fresh_weights(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d2=0.2)
    first = hm.build(hp)
    initial = [w.copy() for w in first.get_weights()]
    hm.fit(hp, first, x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    second = hm.build(hp)
    assert not {id(v) for v in first.weights} & {id(v) for v in second.weights}
    # The same configuration starts from the same seeded weights, not the
    # first model's trained ones.
    for fresh, init, trained in zip(second.get_weights(), initial, first.get_weights()):
        np.testing.assert_array_equal(fresh, init)
    assert any(not np.array_equal(a, b) for a, b in zip(second.get_weights(), first.get_weights()))
    # Another configuration starts from other random weights.
    other = hm.build(_hp(hm, d1=0.2))
    assert not np.array_equal(other.get_layer("d1").get_weights()[0],
                              second.get_layer("d1").get_weights()[0])


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
    options = {"max_epochs": 2} if tuner_class is kt.Hyperband else {"max_trials": 3}
    tuner = tuner_class(hm, objective=hm.objective, seed=1, directory=tmp_path,
                        project_name="p", **options)
    tuner.search(x, y, validation_data=(xv, yv), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert trials and all(t.status == "COMPLETED" for t in trials)
    assert all(t.metrics.exists("val_main_accuracy") for t in trials)
    assert tuner.get_best_models(1)[0].output_names[0] in ("main", "aux_d1", "aux_d2", "aux_d3")
