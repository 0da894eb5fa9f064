import keras
import numpy as np
import pytest

from auxsearch.trial.heads import attach_head, attach_hint, attach_penalty, penalty_loss


@pytest.mark.parametrize(
    "shape, pooling",
    [((5,), None), ((7, 5), "GlobalAveragePooling1D"),
     ((4, 4, 5), "GlobalAveragePooling2D"), ((2, 4, 4, 5), "GlobalAveragePooling3D")],
)
def test_head_pools_by_rank_and_predicts_classes(shape, pooling):
    inputs = keras.Input(shape)
    output = attach_head(inputs, 7, "aux_x")
    model = keras.Model(inputs, output)
    assert output.shape == (None, 7)
    assert model.layers[-1].name == "aux_x"
    assert model.layers[-1].activation is keras.activations.softmax
    kinds = [type(layer).__name__ for layer in model.layers[1:-1]]
    assert kinds == ([pooling] if pooling else [])


def test_hidden_units_and_task_activation():
    inputs = keras.Input((4, 4, 5))
    model = keras.Model(inputs, attach_head(inputs, 1, "aux_x_h8", "sigmoid", units=8))
    hidden, out = model.get_layer("aux_x_h8_hidden"), model.get_layer("aux_x_h8")
    assert hidden.units == 8 and out.units == 1
    assert out.activation is keras.activations.sigmoid


@pytest.mark.parametrize("norm, expected", [("l2", [2.5, 0.0]), ("l1", [1.5, 0.0])])
def test_penalty_is_a_per_example_mean(norm, expected):
    inputs = keras.Input((2, 2))
    model = keras.Model(inputs, attach_penalty(inputs, "penalty_x", norm))
    x = np.array([[[1, -2], [1, 2]], [[0, 0], [0, 0]]], "float32")
    np.testing.assert_allclose(model(x), expected)
    # The penalty's loss is the penalty itself: whatever labels come, they are ignored.
    np.testing.assert_allclose(penalty_loss(np.ones(2, "float32"), model(x)), expected)


@pytest.mark.parametrize("shape, target, layers", [
    ((8,), (8,), ["Identity"]),  # same shape: no adapter
    ((4, 4, 16), (4, 4, 3), ["Dense"]),  # 1x1 projection of the channels
    ((4, 4, 16), (12,), ["GlobalAveragePooling2D", "Dense", "Reshape"]),
    ((6,), (2, 3), ["Dense", "Reshape"]),
])
def test_hint_adapter_reaches_the_target_shape(shape, target, layers):
    inputs = keras.Input(shape)
    output = attach_hint(inputs, target, "hint_x")
    model = keras.Model(inputs, output)
    assert tuple(output.shape[1:]) == target
    assert [type(layer).__name__ for layer in model.layers[1:]] == layers
    assert model.layers[-1].name == "hint_x"
