import h5py
import keras
import numpy as np
import pytest

from auxsearch.trial import checkpoints


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    h = keras.layers.Dense(3, name="h")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(h))


def _trained(seed=0):
    """A compiled model whose optimizer has taken steps (no fit: nothing to trace)."""
    model = _model(seed)
    model.compile(keras.optimizers.Adam(0.1), "mse")
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(3)
    return model


def _fresh_compiled():
    model = _model(seed=1)
    model.compile(keras.optimizers.Adam(0.1), "mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _values(model):
    return [keras.ops.convert_to_numpy(v) for v in model.weights]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_checkpoint_holds_the_weights_not_the_optimizer(tmp_path):
    path = str(tmp_path / "c.weights.h5")
    checkpoints.write(_trained(), path)
    with h5py.File(path) as f:
        assert "optimizer" not in f
    plain = _model(seed=2)  # as export-model loads it: uncompiled
    plain.load_weights(path)
    assert _same(_values(plain), _values(_trained()))


@pytest.mark.parametrize("kept", [True, False])
def test_a_read_takes_the_weights_and_leaves_the_optimizer_fresh(tmp_path, monkeypatch, kept):
    path = str(tmp_path / "c.weights.h5")
    trained = _trained()
    checkpoints.write(trained, path)
    if not kept:  # another process's file: read from disk
        monkeypatch.setattr(checkpoints, "_written", type(checkpoints._written)())
    model = _fresh_compiled()
    checkpoints.read(model, path)
    assert _same(_values(model), _values(trained))
    assert int(model.optimizer.iterations) == 0


def test_a_file_rewritten_since_is_read_from_disk(tmp_path):
    path = str(tmp_path / "c.weights.h5")
    checkpoints.write(_trained(seed=0), path)
    other = _trained(seed=5)
    other.save_weights(path)  # another process rewrites it (optimizer state and all)
    model = _fresh_compiled()
    checkpoints.read(model, path)
    assert _same(_values(model), _values(other))
    assert int(model.optimizer.iterations) == 0  # an older checkpoint's optimizer is not read


def test_only_so_much_is_kept_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "_written", type(checkpoints._written)())
    size = sum(v.nbytes for v in _values(_model()))
    monkeypatch.setattr(checkpoints, "MEMORY_BYTES", 2 * size)
    paths = [str(tmp_path / f"{i}.weights.h5") for i in range(3)]
    for i, path in enumerate(paths):
        checkpoints.write(_trained(seed=i), path)
    assert list(checkpoints._written) == paths[1:]  # the oldest let go
    model = _fresh_compiled()
    checkpoints.read(model, paths[0])
    assert _same(_values(model), _values(_trained(seed=0)))


def test_a_missing_checkpoint_fails_as_keras_does(tmp_path):
    with pytest.raises((FileNotFoundError, OSError, ValueError)):
        checkpoints.read(_fresh_compiled(), str(tmp_path / "gone.weights.h5"))


def test_a_write_walks_the_model_without_building_throwaway_layers(tmp_path, monkeypatch):
    model = _trained()
    checkpoints.write(model, str(tmp_path / "a.weights.h5"))  # the skip sets, once
    built = []
    init = keras.layers.Layer.__init__
    monkeypatch.setattr(keras.layers.Layer, "__init__",
                        lambda self, *a, **k: (built.append(type(self)), init(self, *a, **k))[1])
    checkpoints.write(model, str(tmp_path / "b.weights.h5"))
    assert built == []
    with h5py.File(tmp_path / "a.weights.h5") as a, h5py.File(tmp_path / "b.weights.h5") as b:
        names = []
        a.visit(names.append)
        assert names and all(n in b for n in names)
