"""The pack: auto, memory, and what cannot be packed."""

import logging

import keras
import numpy as np
import pytest

from auxsearch.packing import policy as packing
from auxsearch.packing.policy import choose_pack, fitting_pack, resolve_pack
from tests.conftest import packable_data, packable_hypermodel


def test_auto_stops_at_the_first_pack_that_is_not_faster(monkeypatch):
    timed = []

    def fake(hypermodel, hp, k, *args):
        timed.append(k)
        return {1: 1.0, 2: 1.2, 4: 3.0}[k]

    monkeypatch.setattr(packing, "_timed_epoch", fake)
    hm, (x, y, _) = packable_hypermodel(), packable_data()
    assert choose_pack(hm.trainer, x, y, 16, candidates=(1, 2, 4)) == 2 and timed == [1, 2, 4]
    timed.clear()
    monkeypatch.setattr(packing, "_timed_epoch", lambda hm, hp, k, *a: timed.append(k) or k * 1.0)
    assert choose_pack(hm.trainer, x, y, 16) == 1 and timed == [1, 2]
    assert packing.accelerated() is False  # this machine: a CPU


@pytest.mark.e2e
def test_auto_times_real_steps():
    hm, (x, y, _) = packable_hypermodel(), packable_data()
    assert choose_pack(hm.trainer, x, y, 16, candidates=(1, 2)) in (1, 2)
    assert 2 in hm.trainer.packs.models  # traced once, kept for the search


def test_memory_estimate_lowers_the_pack(caplog):
    hm = packable_hypermodel()
    model = hm.trainer.packs.template.model
    k, per_copy, _ = fitting_pack(model, 16, 8, available=1e12)
    assert k == 8 and per_copy > 4 * sum(int(np.prod(v.shape)) for v in model.weights)
    assert fitting_pack(model, 16, 8, available=5 * per_copy)[0] == 2  # half of it
    assert fitting_pack(model, 16, 8, available=0.0)[0] == 1
    with caplog.at_level(logging.WARNING):
        x, y, val = packable_data()
        monkeypatched = packing.available_memory
        try:
            packing.available_memory = lambda: 3 * per_copy
            assert resolve_pack(hm.trainer, 8, x, y, {"validation_data": val}) == 1
        finally:
            packing.available_memory = monkeypatched
    assert "packing 1" in caplog.text


@pytest.mark.parametrize("kwargs, why", [
    ({"callbacks": [keras.callbacks.TerminateOnNaN()]}, "callbacks"),
    ({"validation_split": 0.2}, "validation_split"),
    ({"validation_data": (np.zeros((2, 6)), np.zeros(2), np.ones(2))}, "sample weights"),
])
def test_what_cannot_be_packed_trains_one_at_a_time(kwargs, why, caplog):
    hm, (x, y, _) = packable_hypermodel(), packable_data()
    with caplog.at_level(logging.WARNING):
        assert resolve_pack(hm.trainer, 4, x, y, kwargs) == 1
    assert why in caplog.text
    import tensorflow as tf  # here: CI's JAX leg collects this file without TensorFlow

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    assert resolve_pack(hm.trainer, 4, dataset, None, {}) == 1


def test_auto_packs_only_on_an_accelerator(monkeypatch):
    hm, (x, y, val) = packable_hypermodel(), packable_data()
    monkeypatch.setattr(packing, "choose_pack", lambda *args: 4)
    monkeypatch.setattr(packing, "accelerated", lambda: False)
    assert resolve_pack(hm.trainer, "auto", x, y, {"validation_data": val}) == 1
    monkeypatch.setattr(packing, "accelerated", lambda: True)
    assert resolve_pack(hm.trainer, "auto", x, y, {"validation_data": val}) == 4
