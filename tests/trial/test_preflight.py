"""The preflight: a model or data that cannot train is refused in one line, first."""

import logging

import keras
import numpy as np
import pytest

from auxsearch.core.errors import DataError, ModelError
from auxsearch.core.space import TapSpec
from auxsearch.data.dataset import Dataset
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.trial.preflight import preflight
from tests.conftest import functional_mlp


def _data(x, y, task="multiclass", **kwargs):
    n = len(y) // 2
    split = (lambda a: {k: v[:n] for k, v in a.items()}, lambda a: {k: v[n:] for k, v in a.items()}
             ) if isinstance(x, dict) else (lambda a: a[:n], lambda a: a[n:])
    return Dataset(split[0](x), y[:n], split[1](x), y[n:], split[0](x)[:0] if not
                   isinstance(x, dict) else {k: v[:0] for k, v in x.items()}, y[:0], task=task,
                   **kwargs)


def test_a_model_that_fits_the_data_passes_quickly(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, TapSpec(kinds=["head", "penalty"], head_units=[0, 4]))
    seconds = preflight(hm.trainer, _data(np.concatenate([x, xv]), np.concatenate([y, yv])))
    assert 0 < seconds < 5


def test_a_model_that_does_not_take_the_data_is_named():
    hm = AuxLossHyperModel(functional_mlp)  # takes (None, 6)
    data = _data(np.zeros((16, 28, 28), "float32"), np.arange(16) % 3)
    with pytest.raises(DataError, match=r"^digits.npz: model input \(None, 6\) does not take data "
                                        r"of shape \(28, 28\)$"):
        preflight(hm.trainer, data, "digits.npz")


def test_regression_targets_must_fit_the_output():
    def softmax10():
        inputs = keras.Input((6,))
        h = keras.layers.Dense(8, name="d1")(inputs)
        return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(h))

    hm = AuxLossHyperModel(softmax10, task="regression")
    data = _data(np.zeros((16, 6), "float32"), np.zeros(16, "float32"), task="regression")
    with pytest.raises(DataError, match="regression targets have 1 column; the model outputs 10$"):
        preflight(hm.trainer, data, "d.npz")


def test_a_hint_that_cannot_train_fails_in_one_line(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp, TapSpec(kinds=["hint"]), hints={"d1": (4,)})
    wrong = {"d1": (np.zeros((16, 5), "float32"), np.zeros((16, 5), "float32"))}
    data = _data(x, y, hints=wrong)
    with pytest.raises(ModelError, match="^h.npz: a trial model of 'mlp' cannot train on the train "
                                         "split: ") as info:
        preflight(hm.trainer, data, "h.npz")
    assert "\n" not in str(info.value)


def test_two_inputs_by_name():
    def two():
        a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
        h = keras.layers.Concatenate(name="cat")([keras.layers.Dense(5, name="da")(a),
                                                  keras.layers.Dense(5, name="db")(b)])
        return keras.Model([a, b], keras.layers.Dense(3, activation="softmax", name="out")(h))

    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(16, 4)).astype("float32"),
         "b": rng.normal(size=(16, 3)).astype("float32")}
    hm = AuxLossHyperModel(two)
    assert preflight(hm.trainer, _data(x, np.arange(16) % 3)) > 0
    with pytest.raises(DataError, match=r"x_train/bb is not an input of the model \(did you mean "
                                        r"'b'\?\)"):
        preflight(hm.trainer, _data({"a": x["a"], "bb": x["b"]}, np.arange(16) % 3))


@pytest.mark.parametrize("scale, rescaling, warned", [
    (255, False, True), (1, False, False), (255, True, False)])
def test_unscaled_images_get_one_warning(caplog, scale, rescaling, warned):
    def cnn():
        inputs = keras.Input((4, 4, 1))
        h = keras.layers.Rescaling(1 / 255)(inputs) if rescaling else inputs
        h = keras.layers.Conv2D(2, 3, name="c1")(h)
        h = keras.layers.Flatten()(h)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))

    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(0, 1, size=(16, 4, 4, 1)) * scale).astype("float32")
    x[0, 0, 0, 0] = scale
    with caplog.at_level(logging.WARNING, logger="auxsearch.trial.preflight"):
        preflight(AuxLossHyperModel(cnn).trainer, _data(x, np.arange(16) % 3), "img.npz")
    lines = [r.getMessage() for r in caplog.records]
    assert bool(lines) is warned
    if warned:
        expected = ("img.npz: x_train looks unscaled (values up to 255, whole numbers); "
                    "scale it to [0, 1], or start the model with keras.layers.Rescaling")
        assert lines == [expected]


def test_a_segmentation_step_trains_every_head_kind_and_refuses_a_wrong_resolution():
    from tests.conftest import encoder_decoder

    hm = AuxLossHyperModel(encoder_decoder, TapSpec(candidates=("enc2", "dec1"),
                                                    kinds=["head", "penalty"],
                                                    head_units=[0, 4]),
                           task="segmentation", ignore_label=255)
    x = np.random.default_rng(0).random((16, 16, 16, 1)).astype("float32")
    y = (x[..., 0] * 3).astype("int32")
    y[:, 0] = 255
    assert preflight(hm.trainer, _data(x, y, task="segmentation", ignore_label=255)) < 30
    small = _data(x, y[:, ::2, ::2], task="segmentation", ignore_label=255)
    with pytest.raises(DataError, match=r"^m.npz: y_train has masks of shape \(8, 8\), but "
                                        r"the model's output has positions \(16, 16\); pass "
                                        r"masks \(n, 16, 16\)"):
        preflight(hm.trainer, small, "m.npz")
