import numpy as np
import pytest

from auxsearch.core.errors import DataError
from auxsearch.data.split import split


def _arrays(n=60, classes=3, features=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)), np.arange(n) % classes


def test_regression_keeps_target_shape_and_splits_unstratified():
    x, _ = _arrays(50)
    y = np.stack([x.sum(1), x[:, 0]], 1)
    data = split(x, y, seed=0, validation_fraction=0.2, test_fraction=0.2,
                 task="regression")
    assert data.y_train.shape == (30, 2) and data.y_train.dtype == np.float32
    assert (data.num_classes, data.num_outputs, data.activation) == (None, 2, "linear")
    flat = split(x, y[:, 0], seed=0, validation_fraction=0.2, test_fraction=0.0,
                 task="regression")
    assert flat.y_train.shape == (40,) and flat.num_outputs == 1


def test_fractions_are_shares_of_all_examples_and_splits_are_stratified_and_seeded():
    x, y = _arrays(100, classes=4)
    data = split(x, y, seed=2, validation_fraction=0.2, test_fraction=0.2)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (60, 20, 20)
    assert np.bincount(data.y_val).tolist() == [5, 5, 5, 5]
    again = split(x, y, seed=2, validation_fraction=0.2, test_fraction=0.2)
    np.testing.assert_array_equal(again.x_val, data.x_val)
    other = split(x, y, seed=3, validation_fraction=0.2, test_fraction=0.2)
    assert not np.array_equal(other.x_val, data.x_val)


def test_hints_split_along_and_stay_out_of_the_test_split():
    x, y = _arrays(80)
    data = split(x, y, 0, 0.25, 0.25, hints={"d": x[:, :2] * 2})
    train, val = data.hints["d"]
    np.testing.assert_allclose(train, data.x_train[:, :2] * 2, rtol=1e-6)
    np.testing.assert_allclose(val, data.x_val[:, :2] * 2, rtol=1e-6)
    assert len(data.x_test) == 20 and train.dtype == np.float32


def test_given_val_and_test_are_taken_as_is():
    x, y = _arrays(60)
    xv, yv = _arrays(9, seed=1)
    data = split(x, y, 0, 0.2, 0.2, val=(xv, yv), names=("x_train", "y_train"))
    assert len(data.y_train) == 48 and len(data.y_test) == 12  # only test split off
    np.testing.assert_array_equal(data.y_val, yv)
    data = split(x, y, 0, 0.2, 0.2, test=(xv, yv))
    assert (len(data.y_train), len(data.y_val)) == (48, 12)  # 0.2 of x, not of the rest
    np.testing.assert_array_equal(data.y_test, yv)
    given = split(x, y, 0, 0.2, 0.2, val=(xv, yv), test=(xv, yv))
    np.testing.assert_allclose(given.x_train, x, rtol=1e-6)  # nothing split off


def test_names_say_what_the_arrays_are_called():
    x, y = _arrays(20)
    with pytest.raises(DataError, match="^d.npz: y_train has 19 rows but x_train has 20"):
        split(x, y[:-1], 0, 0.2, 0.2, where="d.npz", names=("x_train", "y_train"))
    with pytest.raises(DataError, match="^data: hint/h has 3 rows but x has 20"):
        split(x, y, 0, 0.2, 0.2, hints={"h": x[:3]})


@pytest.mark.parametrize("x, y, validation, test, words", [
    (*_arrays(20), 0.5, 0.5, "the validation split would take a share of 1"),
    (*_arrays(20), 0.2, 1.0, "the test split would take a share of 1"),
    (np.zeros((3, 2)), np.array([0, 1, 1]), 0.2, 0.2, "class 0 has only 1 example"),
    (np.zeros((0, 2)), np.zeros(0), 0.2, 0.2, "x_train is empty"),
    (*_arrays(12, classes=6), 0.1, 0.0, "cannot make the validation split"),
])
def test_a_split_that_cannot_be_drawn_is_refused(x, y, validation, test, words):
    with pytest.raises(DataError, match=words):
        split(x, y, 0, validation, test)


@pytest.mark.parametrize("task, test_fraction", [("multiclass", 0.2), ("regression", 0.0),
                                                 ("binary", 0.25)])
def test_named_inputs_split_row_for_row_as_one_input_does(task, test_fraction):
    x, y = _arrays(90, classes=2 if task == "binary" else 3)
    images = np.repeat(x[:, :, None], 3, axis=2)  # a function of the row
    hints = {"h": x[:, :2] * 3}
    one = split(x, y, 5, 0.3, test_fraction, task, hints)
    two = split({"image": images, "meta": x}, y, 5, 0.3, test_fraction, task, hints)
    assert two.input_names == ["image", "meta"]
    assert two.input_shape == {"image": (4, 3), "meta": (4,)}
    for part in ("train", "val", "test"):
        plain, named = getattr(one, f"x_{part}"), getattr(two, f"x_{part}")
        np.testing.assert_array_equal(named["meta"], plain)
        np.testing.assert_array_equal(named["image"][:, :, 1], plain)
        np.testing.assert_array_equal(getattr(two, f"y_{part}"), getattr(one, f"y_{part}"))
        assert named["image"].dtype == np.float32
    for a, b in zip(one.hints["h"], two.hints["h"]):
        np.testing.assert_array_equal(a, b)
    assert two.x_test["image"].shape[1:] == (4, 3)  # also when empty


def test_given_named_val_and_test_are_taken_as_is():
    x, y = _arrays(60)
    xv, yv = _arrays(9, seed=1)
    data = split({"a": x, "b": x[:, :1]}, y, 0, 0.2, 0.2, val=({"a": xv, "b": xv[:, :1]}, yv),
                 names=("x_train", "y_train"))
    np.testing.assert_allclose(data.x_val["b"], xv[:, :1], rtol=1e-6)
    assert data.num_examples("train") == 48 and data.num_examples("test") == 12


def test_named_inputs_are_checked_before_splitting():
    x, y = _arrays(20)
    with pytest.raises(DataError, match="^d.npz: x_train/b has 19 rows but x_train/a has 20"):
        split({"a": x, "b": x[:-1]}, y, 0, 0.2, 0.2, where="d.npz",
              names=("x_train", "y_train"))
    with pytest.raises(DataError, match="^d.npz: y_train has 19 rows but x_train/a has 20"):
        split({"a": x, "b": x}, y[:-1], 0, 0.2, 0.2, where="d.npz",
              names=("x_train", "y_train"))
    with pytest.raises(DataError, match=r"^data: hint/h has 3 rows but x/a has 20"):
        split({"a": x}, y, 0, 0.2, 0.2, hints={"h": x[:3]})
    with pytest.raises(DataError, match=r"x_val has inputs a but x_train has inputs a, b"):
        split({"a": x, "b": x}, y, 0, 0.2, 0.2, val=({"a": x}, y),
              names=("x_train", "y_train"))


def test_masks_split_unstratified_and_seeded():
    x = np.arange(40, dtype="float32").reshape(10, 2, 2, 1)
    masks = np.zeros((10, 2, 2), "int32")
    masks[:, 0] = np.arange(10)[:, None] % 2  # a stratified split would need one class each
    masks[0, 1, 1] = 7  # one example of class 7: no stratified split could hold it
    data = split(x, masks, 0, 0.2, 0.2, task="segmentation")
    again = split(x, masks, 0, 0.2, 0.2, task="segmentation")
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [6, 2, 2]
    assert (data.x_test == again.x_test).all() and data.y_train.shape[1:] == (2, 2)
    assert sorted(np.concatenate([data.x_train, data.x_val, data.x_test])[:, 0, 0, 0]) == list(
        x[:, 0, 0, 0])
