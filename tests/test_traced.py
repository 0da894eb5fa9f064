import keras
import numpy as np
import pytest

from auxsearch.traced import TracedModel


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
    for got, want in zip(traced.model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert int(traced.model.optimizer.iterations) == 0
    assert float(traced.model.optimizer.learning_rate.numpy()) == pytest.approx(0.1)
    assert all(not np.any(v.numpy()) for v in traced.model.optimizer.variables
               if "momentum" in v.path or "velocity" in v.path)
