import dataclasses

import numpy as np
import pytest

from auxsearch.core.errors import DataError
from auxsearch.data.checks import (
    check_dataset,
    check_inputs,
    check_length,
    check_numeric,
    check_task,
    check_x,
    check_xs,
    check_y,
)
from auxsearch.data.dataset import Dataset

X = np.arange(24.0).reshape(6, 4)
Y = np.arange(6) % 3


def _dataset(task="multiclass", y=Y, **changes):
    arrays = dict(x_train=X, y_train=y, x_val=X[:3], y_val=y[:3], x_test=X[:0], y_test=y[:0])
    return Dataset(**{**arrays, **changes}, task=task)


def test_check_dataset_casts_for_training():
    data = check_dataset(_dataset(hints={"d": (X[:, :2], X[:3, :2])}), "d.npz")
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int32
    assert data.hints["d"][0].dtype == np.float32
    binary = check_dataset(_dataset("binary", y=np.arange(6) % 2 == 0), "d.npz")
    assert binary.y_train.dtype == np.float32 and set(binary.y_train) == {0.0, 1.0}
    column = check_dataset(_dataset("regression", y=X[:, :1].astype(int)), "d.npz")
    assert column.y_train.shape == (6, 1) and column.y_train.dtype == np.float32


@pytest.mark.parametrize("task, changes, words", [
    ("multiclass", dict(x_val=X[:0], y_val=Y[:0]), "x_val is empty; the validation split"),
    ("multiclass", dict(x_test=X[:2, :3], y_test=Y[:2]),
     r"x_test has examples of shape \(3,\) but x_train has \(4,\)"),
    ("multiclass", dict(y_train=Y * 0), "y_train has only class 0"),
    ("multiclass", dict(y_train=Y * 2), "y_train has no example of class 1"),
    ("multiclass", dict(x_test=X[:1], y_test=np.array([3])),
     "y_test has label 3, which y_train never has; labels must be 0..2"),
    ("binary", dict(y_train=Y * 0, y_val=Y[:3] * 0), "y_train has only label 0"),
    ("multiclass", dict(hints={"d": (X[:5], X[:3])}), "hint/d has 5 rows but x_train has 6"),
    ("multiclass", dict(hints={"d": (X, X[:3, :2])}),
     r"hint_val/d has examples of shape \(2,\) but hint/d has \(4,\)"),
    ("classification", {}, "task = 'classification' is not allowed"),
])
def test_check_dataset_refuses_unfit_data(task, changes, words):
    with pytest.raises(DataError, match="^d.npz: " + words):
        check_dataset(_dataset(task, **changes), "d.npz")


def test_check_task_suggests_the_closest_task():
    words = (r"task = 'multiclas' is not allowed \(did you mean 'multiclass'\?\); "
             "allowed: multiclass, binary, regression, segmentation$")
    with pytest.raises(DataError, match=words):
        check_task("multiclas", "d.npz")
    with pytest.raises(DataError, match="task = \\['x'\\] is not allowed; allowed"):
        check_task(["x"], "d.npz")


@pytest.mark.parametrize("task, y, expected", [
    ("multiclass", np.array([[0.0], [2.0]]), np.array([0, 2], "int32")),
    ("binary", np.array([True, False]), np.array([1.0, 0.0], "float32")),
    ("regression", np.array([[0.5, 1], [2, 3]]), np.array([[0.5, 1], [2, 3]], "float32")),
])
def test_check_y_casts_labels_to_the_task_dtype(task, y, expected):
    cast = check_y(y, task, "d.npz", "y_train")
    assert cast.dtype == expected.dtype
    np.testing.assert_array_equal(cast, expected)


@pytest.mark.parametrize("task, y, words", [
    ("multiclass", np.array([0, -1]),
     "y_train has label -1 at index 1; multiclass labels must be integers 0..K-1"),
    ("multiclass", np.array([0.5, 1]), "y_train has label 0.5 at index 0"),
    ("multiclass", np.eye(2),
     r"y_train has shape \(2, 2\); multiclass labels must be \(n,\).*not one-hot"),
    ("binary", np.array([0, 2]), "y_train has label 2 at index 1; binary labels must be 0 or 1"),
    ("regression", np.zeros((2, 2, 2)),
     r"y_train has shape \(2, 2, 2\); regression targets must be \(n,\) or \(n, outputs\)"),
    ("binary", np.array(["a", "b"]), "y_train has dtype <U1; binary labels must be numbers"),
])
def test_check_y_refuses_labels_unfit_for_the_task(task, y, words):
    with pytest.raises(DataError, match="^d.npz: " + words):
        check_y(y, task, "d.npz", "y_train")


def test_array_checks():
    assert check_numeric(np.array([True]), "d", "a").dtype == np.float32
    with pytest.raises(DataError, match=r"^d: a has nan at index \(1, 0\); all values must"):
        check_numeric(np.array([[1.0], [np.nan]]), "d", "a")
    with pytest.raises(DataError, match="a has inf at index 0"):
        check_numeric(np.array([np.inf]), "d", "a")
    with pytest.raises(DataError, match="a is a scalar"):
        check_numeric(np.float32(1), "d", "a")
    with pytest.raises(DataError, match=r"a has shape \(3,\); it must be \(examples"):
        check_x(np.zeros(3), "d", "a")
    check_length("d", "x", X, "y", Y)
    with pytest.raises(DataError, match="^d: y has no rows but x has 6; they must match"):
        check_length("d", "x", X, "y", np.float32(1))


# --- named inputs (x_train/<input>) ------------------------------------------

IMAGES = np.arange(6 * 16.0).reshape(6, 4, 4)


def _inputs(rows=slice(None), **changes):
    return {"image": IMAGES[rows], "meta": X[rows], **changes}


def _two(**changes):
    arrays = dict(x_train=_inputs(), y_train=Y, x_val=_inputs(slice(3)), y_val=Y[:3],
                  x_test=_inputs(slice(0)), y_test=Y[:0])
    return Dataset(**{**arrays, **changes})


def test_check_dataset_casts_every_named_input():
    data = check_dataset(_two(x_train={"image": IMAGES.astype(int), "meta": X > 3}), "d.npz")
    assert data.input_names == ["image", "meta"]
    assert {k: v.dtype for k, v in data.x_train.items()} == {"image": np.float32,
                                                             "meta": np.float32}
    assert data.input_shape == {"image": (4, 4), "meta": (4,)}
    assert check_xs(X, "d", "x_train").dtype == np.float32  # one array: check_x


@pytest.mark.parametrize("changes, words", [
    (dict(x_val=_inputs(slice(3), image=IMAGES[:3].astype(str))),
     "x_val/image has dtype <U.*; it must be numeric"),
    (dict(x_train=_inputs(meta=np.where(X > 20, np.inf, X))), "x_train/meta has inf at index"),
    (dict(x_train=_inputs(meta=X[:, 0])),
     r"x_train/meta has shape \(6,\); it must be \(examples, features...\)"),
    (dict(x_train=_inputs(meta=X[:5])), "x_train/meta has 5 rows but x_train/image has 6"),
    (dict(y_train=Y[:5]), "y_train has 5 rows but x_train/image has 6"),
    (dict(x_test=_inputs(slice(2), image=IMAGES[:2, :3]), y_test=Y[:2]),
     r"x_test/image has examples of shape \(3, 4\) but x_train/image has \(4, 4\)"),
    (dict(x_val={"image": IMAGES[:3]}),
     "x_val has inputs image but x_train has inputs image, meta; every split needs"),
    (dict(x_val=X[:3]), "x_val has one plain array but x_train has inputs image, meta"),
    (dict(x_val=_inputs(slice(0)), y_val=Y[:0]), "x_val is empty; the validation split"),
    (dict(x_train={}), "x_train has no inputs"),
    (dict(x_train={0: X}), "x_train has an input named 0; input names must be"),
    (dict(hints={"d": (X[:5], X[:3])}), "hint/d has 5 rows but x_train/image has 6"),
    (dict(hints={"d": (X, X[:2])}), "hint_val/d has 2 rows but x_val/image has 3"),
])
def test_check_dataset_names_the_input_at_fault(changes, words):
    with pytest.raises(DataError, match="^d.npz: " + words):
        check_dataset(_two(**changes), "d.npz")


def test_check_inputs_accepts_what_the_model_takes():
    plain = check_dataset(_dataset(), "d.npz")
    check_inputs(plain, ["input_layer"], {"input_layer": (None, 4)}, "d.npz")
    check_inputs(plain, ["x"], [(None, None)])  # shapes in the order of the names
    two = check_dataset(_two(), "d.npz")
    check_inputs(two, ["meta", "image"], {"image": (None, 4, None), "meta": [None, 4]})
    check_inputs(two, ["image", "meta"], [(None, 4, 4), (None, 4)], "d.npz")


@pytest.mark.parametrize("data, names, shapes, words", [
    ("plain", ["x"], [(None, 64)], (r"model input \(None, 64\) does not take data of shape "
     r"\(4,\)$")),
    ("plain", ["x"], [(None, 4, 1)], r"model input \(None, 4, 1\) does not take data"),
    ("two", ["image", "meta"], [(None, 64), (None, 4)],
     r"model input 'image' \(None, 64\) does not take data of shape \(4, 4\)$"),
    ("two", ["imag", "meta"], [(None, 4, 4), (None, 4)],
     (r"x_train/image is not an input of the model \(did you mean 'imag'\?\); "
     "the model's inputs: imag, meta$")),
    ("plain", ["a", "b"], [(None, 4), (None, 4)],
     (r"the model has 2 inputs \(a, b\); the data has 1 \(give x_train/<input> arrays for "
     r"each\)$")),
    ("two", ["image"], [(None, 4, 4)],
     (r"the model has 1 input \(image\); the data has 2 \(x_train/image, x_train/meta\); "
     "give an x_train/<input> array for each model input$")),
])
def test_check_inputs_refuses_what_the_model_cannot_take(data, names, shapes, words):
    data = check_dataset(_dataset() if data == "plain" else _two(), "d.npz")
    with pytest.raises(DataError, match="^d.npz: " + words):
        check_inputs(data, names, shapes, "d.npz")
    with pytest.raises(DataError, match="^" + words):  # no where: no prefix
        check_inputs(data, names, shapes)


def test_check_inputs_suggests_the_model_input_for_a_misspelt_name():
    data = Dataset({"imag": IMAGES, "meta": X}, Y, {"imag": IMAGES[:3], "meta": X[:3]},
                   Y[:3], {"imag": IMAGES[:0], "meta": X[:0]}, Y[:0])
    words = (r"^data.npz: x_train/imag is not an input of the model \(did you mean "
             r"'image'\?\); the model's inputs: image, meta$")
    with pytest.raises(DataError, match=words):
        check_inputs(data, ["image", "meta"], {"image": (None, 4, 4), "meta": (None, 4)},
                     "data.npz")


def test_segmentation_masks_are_integer_classes_per_position():
    masks = np.array([[[0, 1], [2, 255]]] * 2, "float32")[..., None]  # (n, H, W, 1) floats
    y = check_y(masks, "segmentation", "m.npz", "y_train")
    assert y.shape == (2, 2, 2) and y.dtype == np.int32
    one_hot = np.eye(3, dtype="float32")[[[[0, 1], [2, 0]]]]
    assert check_y(one_hot, "segmentation", "m.npz", "y_train").tolist() == [[[0, 1], [2, 0]]]
    assert check_y(np.zeros((3, 12)), "segmentation", "m.npz", "y_train").shape == (3, 12)
    with pytest.raises(DataError, match=r"^m.npz: y_train has label 0.4 at index \(0, 1\); "
                                        r"segmentation labels must be integers"):
        check_y(np.array([[0, 0.4]]), "segmentation", "m.npz", "y_train")
    with pytest.raises(DataError, match=r"y_train at \(0, 0, 0\) is not one-hot"):
        check_y(np.full((1, 2, 2, 3), 0.5), "segmentation", "m.npz", "y_train")
    with pytest.raises(DataError, match=r"y_train has shape \(4,\); segmentation labels must "
                                        r"be integer class masks"):
        check_y(np.zeros(4), "segmentation", "m.npz", "y_train")


def test_segmentation_needs_two_classes_besides_the_ignore_label():
    x = np.zeros((4, 2, 2, 1), "float32")
    masks = np.zeros((4, 2, 2), "int32")
    masks[:, 0] = 255
    data = Dataset(x, masks, x, masks, x[:0], masks[:0], task="segmentation")
    check_dataset(data, "m.npz")  # 255 counts as a class while no ignore label is set
    with pytest.raises(DataError, match=r"^m.npz: y_train masks have only class 0 besides the "
                                        r"ignore label; a segmentation needs two classes"):
        check_dataset(dataclasses.replace(data, ignore_label=255), "m.npz")
