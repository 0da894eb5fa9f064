"""Label routing: every output gets its labels, arrays and datasets alike.

Every test here runs on any Keras backend (the JAX leg of CI runs them).
"""

import functools
import warnings

import keras
import numpy as np
import pytest

from auxsearch.core.errors import DataError
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.trial.routing import (
    ArrayBatches,
    batched,
    fit_inputs,
    is_dataset,
    main_labels,
    route_labels,
    route_validation,
    targets,
)
from tests.conftest import functional_mlp

pytestmark = pytest.mark.backends


def _hp(hm, **taps):
    return hm.hyperparameters({f"tap/{t.name}": t.name in taps for t in hm.taps}
                              | {f"weight/{k}": v for k, v in taps.items()})


def test_targets_share_one_label_tensor():
    hm = AuxLossHyperModel(functional_mlp)
    model = hm.build(_hp(hm, d2=0.25))
    route = functools.partial(targets, output_names=list(model.output_names),
                              structure=hm.trainer.models.structure, hint_layers=())
    routed_x, routed = route_labels(np.zeros((4, 2)), np.arange(4), route)
    assert set(routed) == set(model.output_names)
    assert len({id(labels) for labels in routed.values()}) == 1


@pytest.mark.e2e
def test_datasets_are_routed_too(tiny_data):
    tf = pytest.importorskip("tensorflow")

    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d2=0.25)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(8)
    history = hm.fit(hp, hm.build(hp), train, validation_data=val, epochs=1, verbose=0)
    assert "val_aux_d2_accuracy" in history.history


def test_penalties_get_zeros_and_hints_their_targets():
    structure = [("d1", "penalty", 0), ("d2", "hint", 0), ("d3", "head", 0)]
    y = {"main": np.arange(4), "hint/d2": np.ones((4, 2))}
    routed = targets(y, ["main", "penalty_d1", "hint_d2", "aux_d3"], structure, ("d2",))
    np.testing.assert_array_equal(routed["penalty_d1"], np.zeros(4))
    np.testing.assert_array_equal(routed["hint_d2"], np.ones((4, 2)))
    np.testing.assert_array_equal(routed["aux_d3"], np.arange(4))
    with pytest.raises(DataError, match="the hint on 'd2' needs targets"):
        targets(np.arange(4), ["main", "hint_d2"], structure, ("d2",))
    with pytest.raises(DataError, match=r"a dict with keys \['hint/d2', 'main'\]; got keys"):
        targets({"labels": np.arange(4)}, ["main"], structure, ("d2",))
    assert main_labels(y) is y["main"]


def test_arrays_are_batched_and_shuffled_by_seed():
    x, y = np.arange(20, dtype="float32")[:, None], np.arange(20)

    def order(seed, **kwargs):
        (data,), rest = fit_inputs(x, y, lambda v: {"main": v}, 5, seed, kwargs)
        assert rest["shuffle"] is False  # the dataset shuffles itself
        return [int(v) for xb, _ in data for v in keras.ops.convert_to_numpy(xb).ravel()]

    assert order(1) == order(1) != order(2)
    assert sorted(order(1)) == list(range(20))
    assert order(1, shuffle=False) == list(range(20))
    data, rest = fit_inputs(x, y, lambda v: {"main": v}, 5, 1, {"validation_split": 0.2})
    assert rest == {"validation_split": 0.2, "shuffle": True, "batch_size": 5}


def _epochs(data, n):
    """The batches of `n` epochs of a `PyDataset`, as Keras iterates them."""
    epochs = []
    for _ in range(n):
        data.on_epoch_begin()
        epochs.append([data[i] for i in range(len(data))])
        data.on_epoch_end()
    return epochs


def test_array_batches_reshuffle_every_epoch_from_their_seed():
    x, y = np.arange(10, dtype="float32")[:, None], np.arange(10)

    def orders(seed):
        data = ArrayBatches(x, {"main": y, "aux_d2": y}, 4, seed)
        assert len(data) == 3  # the last batch is short
        out = []
        for epoch in _epochs(data, 3):
            rows = np.concatenate([xb.ravel() for xb, _ in epoch]).astype(int)
            for xb, yb in epoch:  # every output's labels stay with their rows
                np.testing.assert_array_equal(yb["main"], xb.ravel())
                np.testing.assert_array_equal(yb["aux_d2"], xb.ravel())
            out.append(list(rows))
        return out

    first = orders(7)
    assert first == orders(7) != orders(8)
    assert first[0] != first[1] != first[2]  # a new order every epoch
    assert all(sorted(order) == list(range(10)) for order in first)
    assert orders(None) == [list(range(10))] * 3


def test_array_batches_keep_the_structure_of_several_inputs():
    a, b = np.arange(6, dtype="float32")[:, None], -np.arange(6, dtype="float32")[:, None]
    y = {"main": np.arange(6)}
    for x in ([a, b], (a, b), {"a": a, "b": b}):
        xb, yb = ArrayBatches(x, y, 4, 1)[0]
        assert type(xb) is type(x)
        flat = list(xb.values()) if isinstance(x, dict) else list(xb)
        np.testing.assert_array_equal(flat[0].ravel(), -flat[1].ravel())
        np.testing.assert_array_equal(flat[0].ravel(), yb["main"])
    with pytest.raises(IndexError, match="batch 2 of 2"):
        ArrayBatches(a, y, 4, 1)[2]


def test_other_backends_get_a_pydataset_and_tensorflow_is_left_alone():
    x, y = np.zeros((6, 2), "float32"), np.arange(6)
    data = batched(x, {"main": y}, 4, 1)
    assert is_dataset(data)
    assert not is_dataset(x) and not is_dataset((x, y))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert isinstance(data, tf.data.Dataset)
    else:
        assert isinstance(data, ArrayBatches)
        # Validation keeps its order: no shuffle.
        val = route_validation((x, y), lambda v: {"main": v}, 4)
        assert isinstance(val, ArrayBatches) and val._order is None


class _Batches(keras.utils.PyDataset):
    """A user's own `PyDataset` of `(x, y)` batches."""

    def __init__(self, x, y, size):
        super().__init__()
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, i):
        window = slice(i * self.size, (i + 1) * self.size)
        return self.x[window], self.y[window]


@pytest.mark.e2e
def test_a_users_pydataset_is_routed_too(tiny_data):
    x, y, xv, yv = tiny_data
    hm = AuxLossHyperModel(functional_mlp)
    hp = _hp(hm, d2=0.25)
    history = hm.fit(hp, hm.build(hp), _Batches(x, y, 8), validation_data=_Batches(xv, yv, 8),
                     epochs=1, verbose=0)
    assert "val_aux_d2_accuracy" in history.history


def _two_inputs():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    h = keras.layers.Dense(4, activation="relu", name="d1")(keras.layers.Concatenate()([a, b]))
    return keras.Model([a, b], keras.layers.Dense(2, activation="softmax", name="out")(h))


@pytest.mark.e2e
def test_several_inputs_train_without_warnings_about_their_structure():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
    y = (a[:, 0] > 0).astype("int32")
    hm = AuxLossHyperModel(_two_inputs)
    hp = _hp(hm, d1=0.5)
    for x in ([a, b], (a, b), {"a": a, "b": b}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hm.fit(hp, hm.build(hp), x, y, validation_data=(x, y), epochs=1, verbose=0)
        assert not [w for w in caught if "structure" in str(w.message)], type(x)
