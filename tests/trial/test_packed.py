import keras
import numpy as np
import pytest

from auxsearch.core.names import packed_input, packed_output
from auxsearch.trial.packed import PackedModels


def _model():
    inputs = keras.Input((4,), name="x")
    h = keras.layers.Dense(4, activation="relu", name="h")(inputs)
    main = keras.layers.Dense(2, activation="softmax", name="main")(h)
    aux = keras.layers.Dense(2, activation="softmax", name="aux_h")(h)
    return keras.Model(inputs, {"main": main, "aux_h": aux})


def _args():
    return {"optimizer": keras.optimizers.Adam(0.1),
            "loss": {"main": "sparse_categorical_crossentropy",
                     "aux_h": "sparse_categorical_crossentropy"},
            "metrics": {"main": ["accuracy"]}}


def _data(packed, n=16):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = rng.integers(0, 2, n).astype("int32")
    return packed.inputs(x), {packed_output(i, name): y for i in range(packed.size)
                              for name in packed.output_names}


def test_copies_have_their_own_inputs_outputs_and_weights():
    packed = PackedModels(_model, _args).get(3)
    assert sorted(packed.model.output) == sorted(
        packed_output(i, name) for i in range(3) for name in ("main", "aux_h"))
    assert sorted(packed.inputs(np.zeros((2, 4)))) == [packed_input(i, 0) for i in range(3)]
    ids = [{id(v) for v in weights} for weights in packed.copy_weights]
    assert all(not ids[i] & ids[j] for i in range(3) for j in range(i + 1, 3))
    assert len(packed.model.optimizer.variables) == 2 + 2 * 3 * len(packed.copy_weights[0])


@pytest.mark.e2e
def test_a_switched_off_copy_gets_no_update_and_the_others_train():
    packed = PackedModels(_model, _args).get(2)
    packed.start([packed.values(0), packed.values(1)])
    packed.switch_on(0)  # copy 1 stays off: every loss weight 0
    before = [packed.values(0), packed.values(1)]
    packed.model.fit(*_data(packed), epochs=2, verbose=0)
    after = [packed.values(0), packed.values(1)]
    assert any(not np.allclose(a, b) for a, b in zip(before[0], after[0]))
    assert all(np.array_equal(a, b) for a, b in zip(before[1], after[1]))


@pytest.mark.e2e
def test_start_assigns_weights_and_restarts_the_optimizer():
    packed = PackedModels(_model, _args).get(2)
    packed.start([None, None])
    packed.switch_on(0)
    packed.model.fit(*_data(packed), epochs=1, verbose=0)
    fresh = _model().get_weights()
    packed.start([fresh, None])
    assert all(np.array_equal(a, b) for a, b in zip(packed.values(0), fresh))
    assert int(packed.model.optimizer.iterations) == 0
    assert all(float(v.numpy()) == 0.0 for w in packed.loss_weights for v in w.values())


def test_checkpoints_are_those_of_an_unpacked_model(tmp_path):
    packs = PackedModels(_model, _args)
    values = [np.full(v.shape, i, "float32") for i, v in enumerate(_model().weights)]
    path = str(tmp_path / "c.weights.h5")
    packs.save(values, path, {"aux_h": 0.5})
    unpacked = _model()  # another build, another numbering of its layers
    unpacked.add_weight(shape=(), name="aux_h_weight")  # as `TracedModel` adds it
    unpacked.compile(optimizer="adam", loss="mse")
    unpacked.optimizer.build(unpacked.trainable_variables)
    unpacked.load_weights(path)
    layers = [v.numpy() for v in unpacked.weights if not v.path.endswith("aux_h_weight")]
    assert all(np.array_equal(a, b) for a, b in zip(layers, values, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(packs.load(path), values))
