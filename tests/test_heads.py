import keras
import pytest

from auxsearch.heads import attach_head, head_name


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


def test_head_name_is_a_valid_output_name():
    assert head_name("conv2") == "aux_conv2"
    assert head_name("block/conv-1") == "aux_block_conv_1"
