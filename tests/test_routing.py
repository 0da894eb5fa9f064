"""Label routing: every output gets its labels, arrays and datasets alike."""

import functools

import numpy as np
import pytest
from conftest import functional_mlp

from auxsearch.errors import DataError
from auxsearch.hypermodel import AuxLossHyperModel
from auxsearch.routing import fit_inputs, main_labels, route_labels, targets


def _hp(hm, **taps):
    return hm.hyperparameters({f"tap/{t.name}": t.name in taps for t in hm.taps}
                              | {f"weight/{k}": v for k, v in taps.items()})


def test_targets_share_one_label_tensor():
    hm = AuxLossHyperModel(functional_mlp)
    model = hm.build(_hp(hm, d2=0.25))
    route = functools.partial(targets, output_names=list(model.output_names),
                              structure=hm.models.structure, hint_layers=())
    routed_x, routed = route_labels(np.zeros((4, 2)), np.arange(4), route)
    assert set(routed) == set(model.output_names)
    assert len({id(labels) for labels in routed.values()}) == 1


def test_datasets_are_routed_too(tiny_data):
    import tensorflow as tf

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
        return [int(v) for xb, _ in data for v in xb.numpy().ravel()]

    assert order(1) == order(1) != order(2)
    assert sorted(order(1)) == list(range(20))
    assert order(1, shuffle=False) == list(range(20))
    data, rest = fit_inputs(x, y, lambda v: {"main": v}, 5, 1, {"validation_split": 0.2})
    assert rest == {"validation_split": 0.2, "shuffle": True, "batch_size": 5}
