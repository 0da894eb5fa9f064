import numpy as np
import pytest

from auxsearch.data.dataset import Dataset, map_inputs, named_inputs


def _dataset(y, task, hints=None):
    x = np.zeros((len(y), 3), "float32")
    return Dataset(x, y, x[:2], y[:2], x[:0], y[:0], task=task, hints=hints or {})


@pytest.mark.parametrize("y, task, classes, outputs, activation", [
    (np.array([0, 2, 1, 2], "int32"), "multiclass", 3, 3, "softmax"),
    (np.array([0, 1, 1, 0], "float32"), "binary", 2, 1, "sigmoid"),
    (np.arange(4, dtype="float32"), "regression", None, 1, "linear"),
    (np.ones((4, 2), "float32"), "regression", None, 2, "linear"),
])
def test_shape_facts_come_from_the_task(y, task, classes, outputs, activation):
    data = _dataset(y, task)
    assert (data.num_classes, data.num_outputs, data.activation) == (classes, outputs, activation)
    assert data.input_shape == (3,)


def test_labels_without_hints_are_the_arrays():
    y = np.array([0, 1, 1, 0], "int32")
    data = _dataset(y, "multiclass")
    assert data.labels("train") is data.y_train and data.labels("val") is data.y_val


def test_labels_with_hints_are_routed_by_output():
    y = np.array([0, 1, 1, 0], "int32")
    train, val = np.ones((4, 2)), np.zeros((2, 2))
    data = _dataset(y, "multiclass", hints={"conv1": (train, val)})
    assert set(data.labels("train")) == {"main", "hint/conv1"}
    assert data.labels("train")["hint/conv1"] is train and data.labels("val")["hint/conv1"] is val
    assert data.labels("val")["main"] is data.y_val
    with pytest.raises(KeyError, match="test"):
        data.labels("test")


def _two_inputs(n=4):
    image, stats = np.zeros((n, 2, 2, 1), "float32"), np.ones((n, 3), "float32")
    y = np.arange(n, dtype="int32") % 2
    x = {"image": image, "stats": stats}
    return Dataset(x, y, {k: v[:2] for k, v in x.items()}, y[:2],
                   {k: v[:0] for k, v in x.items()}, y[:0],
                   hints={"conv1": (np.ones((n, 2)), np.zeros((2, 2)))})


def test_named_inputs_give_names_and_shapes_by_name():
    data = _two_inputs()
    assert data.input_names == ["image", "stats"]
    assert data.input_shape == {"image": (2, 2, 1), "stats": (3,)}
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [4, 2, 0]
    assert len(data.y_train) == 4 and data.num_classes == 2
    plain = _dataset(np.array([0, 1, 1, 0], "int32"), "multiclass")
    assert plain.input_names is None and plain.num_examples("val") == 2
    with pytest.raises(KeyError, match="validation"):
        plain.num_examples("validation")


def test_head_keeps_the_first_rows_of_every_array():
    data = _two_inputs(6).head(3)
    assert data.input_shape == {"image": (2, 2, 1), "stats": (3,)}
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [3, 2, 0]
    assert data.x_train["stats"].shape == (3, 3) and data.hints["conv1"][0].shape == (3, 2)
    plain = _dataset(np.arange(5, dtype="float32"), "regression").head(1)
    assert plain.x_train.shape == (1, 3) and plain.y_val.shape == (1,)


def test_named_inputs_and_map_inputs():
    x = np.zeros((2, 3))
    assert named_inputs(x, "x_val") == [("x_val", x)]
    pairs = named_inputs({"a": x, "b": x[:, :1]}, "x_val")
    assert [name for name, _ in pairs] == ["x_val/a", "x_val/b"]
    assert map_inputs({"a": x}, len) == {"a": 2} and map_inputs(x, len) == 2
