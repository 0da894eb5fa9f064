import keras

from auxsearch.models import BUILTIN_MODELS, digits_cnn


def test_digits_cnn_is_a_deep_plain_cnn():
    model = digits_cnn((8, 8, 1), 10)
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [f"conv{i}" for i in range(1, 7)]
    assert model.output.shape == (None, 10)
    assert not model.compiled
    assert BUILTIN_MODELS["digits_cnn"] is digits_cnn


def test_each_call_builds_new_weights():
    first, second = digits_cnn((8, 8, 1), 10), digits_cnn((8, 8, 1), 10)
    assert first.get_layer("conv1").kernel is not second.get_layer("conv1").kernel
