"""The trainer: one trial, or a pack of them, through one fit."""


import keras
import numpy as np
import pytest

from auxsearch.core.space import TapSpec, TrainingSpec
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.trial import checkpoints
from auxsearch.trial.trainer import PackedTrial
from tests.conftest import packable_data, packable_hypermodel

CONFIGS = [
    {},
    {"tap/d1": True, "weight/d1": 0.5},
    {"tap/d2": True, "weight/d2": 0.3, "kind/d2": "penalty", "schedule/d2": "linear_decay"},
]


def _alone(hm, hp, x, y, val, **kwargs):
    model = hm.build(hp)
    history = hm.fit(hp, model, x, y, validation_data=val, verbose=0, **kwargs)
    return history.history, [v.numpy() for v in hm.trainer.models.current.layer_weights]


@pytest.mark.e2e
def test_a_packed_trial_trains_as_it_would_alone():
    hm, (x, y, val) = packable_hypermodel(), packable_data()
    hps = [hm.hyperparameters(values) for values in CONFIGS]
    alone = [_alone(hm, hp, x, y, val, epochs=3) for hp in hps]
    results, packed = hm.fit_packed([PackedTrial(hp, hm.trial_seed(hp)) for hp in hps],
                                    x, y, validation_data=val, epochs=3)
    for i, ((history, weights), result) in enumerate(zip(alone, results)):
        for key in ("loss", "val_loss", "main_loss", "val_main_accuracy", "val_main_loss"):
            np.testing.assert_allclose(result.history[key], history[key], rtol=1e-4,
                                       atol=1e-6, err_msg=key)
        assert set(result.history) == set(history) - {"fit_seconds", "trial_seconds"} | {
            "fit_seconds", "trial_seconds"}
        for got, want in zip(packed.values(i), weights, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.e2e
def test_a_promotion_starts_from_its_parent_checkpoint(tmp_path):
    hm, (x, y, val) = packable_hypermodel(), packable_data()
    hp = hm.hyperparameters(CONFIGS[1])
    parent = str(tmp_path / "parent.weights.h5")
    results, _ = hm.fit_packed([PackedTrial(hp, 7, checkpoint=parent),
                                PackedTrial(hm.hyperparameters({}), 8)],
                               x, y, validation_data=val, epochs=1)
    model = hm.build(hp)  # unpacked: a fresh optimizer, then the checkpoint's weights
    checkpoints.read(model, parent)
    want = hm.fit(hp, model, x, y, validation_data=val, epochs=3, initial_epoch=1,
                  verbose=0).history
    got, _ = hm.fit_packed([PackedTrial(hp, hm.trial_seed(hp), parent=parent),
                            PackedTrial(hp, 9)], x, y, validation_data=val, epochs=3,
                           initial_epoch=1)
    np.testing.assert_allclose(got[0].history["val_loss"], want["val_loss"], rtol=1e-4)
    assert got[0].history["at_epoch/2"][0] == pytest.approx(want["at_epoch/2"][0])


@pytest.mark.e2e
def test_a_copy_that_diverges_fails_alone_and_the_others_train_on(tmp_path):
    hm, (x, y, val) = packable_hypermodel(), packable_data()
    hps = [hm.hyperparameters(values) for values in CONFIGS[:2]]
    broken = str(tmp_path / "nan.weights.h5")
    template = hm.trainer.packs.template
    hm.trainer.packs.save([np.full(v.shape, np.nan, "float32") for v in template.layer_weights],
                          broken, {})
    alone = _alone(hm, hps[1], x, y, val, epochs=2)
    results, _ = hm.fit_packed([PackedTrial(hps[0], 1, parent=broken),
                                PackedTrial(hps[1], hm.trial_seed(hps[1]))],
                               x, y, validation_data=val, epochs=2)
    assert "the loss became nan in epoch 1" in str(results[0])
    np.testing.assert_allclose(results[1].history["val_loss"], alone[0]["val_loss"], rtol=1e-4)


@pytest.mark.e2e
def test_a_group_smaller_than_the_traced_pack_reuses_it():
    hm, (x, y, _) = packable_hypermodel(), packable_data()
    hp = hm.hyperparameters({})
    hm.fit_packed([PackedTrial(hp, 1)] * 3, x, y, epochs=1)
    _, packed = hm.fit_packed([PackedTrial(hp, 1)] * 2, x, y, epochs=1, pack=2)
    assert packed.size == 3 and list(hm.trainer.packs.models) == [3]


def _two_inputs():
    image, extra = keras.Input((6,), name="image"), keras.Input((2,), name="extra")
    h = keras.layers.Dense(8, activation="relu", name="d1")(image)
    h = keras.layers.Concatenate(name="join")([h, extra])
    h = keras.layers.Dense(8, activation="relu", name="d2")(h)
    return keras.Model({"image": image, "extra": extra},
                       keras.layers.Dense(3, activation="softmax", name="out")(h))


@pytest.mark.e2e
def test_a_model_with_named_inputs_and_hints_packs():
    hm = AuxLossHyperModel(_two_inputs, TapSpec(candidates=("d1", "d2"), kinds=("head", "hint")),
                           TrainingSpec(batch_size=16), hints={"d2": (8,)},
                           steps_per_execution=2)
    rng = np.random.default_rng(1)
    x = {"image": rng.normal(size=(48, 6)).astype("float32"),
         "extra": rng.normal(size=(48, 2)).astype("float32")}
    y = {"main": rng.integers(0, 3, 48).astype("int32"),
         "hint/d2": rng.normal(size=(48, 8)).astype("float32")}
    train = ({k: v[:32] for k, v in x.items()}, {k: v[:32] for k, v in y.items()})
    val = ({k: v[32:] for k, v in x.items()}, {k: v[32:] for k, v in y.items()})
    hps = [hm.hyperparameters({"tap/d1": True, "weight/d1": 0.4}),
           hm.hyperparameters({"tap/d2": True, "weight/d2": 0.2, "kind/d2": "hint"})]
    alone = [_alone(hm, hp, *train, val, epochs=2)[0] for hp in hps]
    results, _ = hm.fit_packed([PackedTrial(hp, hm.trial_seed(hp)) for hp in hps], *train,
                               validation_data=val, epochs=2)
    for history, result in zip(alone, results):
        np.testing.assert_allclose(result.history["val_loss"], history["val_loss"], rtol=1e-4)
