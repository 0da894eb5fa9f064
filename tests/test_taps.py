import keras
import pytest

from auxsearch.errors import ModelError, TapError
from auxsearch.taps import Tap, find_taps, select_taps
from conftest import functional_mlp, sequential_cnn


def test_functional_candidates_exclude_input_and_output():
    taps = find_taps(functional_mlp())
    assert taps == [
        Tap("d1", (None, 8), 1),
        Tap("d2", (None, 8), 2),
        Tap("d3", (None, 8), 3),
    ]


def test_sequential_candidates_with_shapes_and_positions():
    taps = find_taps(sequential_cnn())
    assert [(t.name, t.shape, t.position) for t in taps] == [
        ("conv_a", (None, 6, 6, 4), 0),
        ("seq", (None, 36, 4), 1),
        ("conv_b", (None, 34, 4), 2),
        ("pool", (None, 4), 3),
    ]


def test_non_float_and_multi_use_layers_are_not_candidates():
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    h = shared(shared(inputs))
    ints = keras.layers.Discretization(bin_boundaries=[0.0], name="ints")(h)
    back = keras.layers.Embedding(2, 3, name="back")(ints)
    out = keras.layers.Dense(2, activation="softmax", name="out")(back)
    names = [tap.name for tap in find_taps(keras.Model(inputs, out))]
    assert names == ["back"]
    with pytest.raises(TapError, match="'ints' cannot be tapped: its output has dtype int32"):
        select_taps(keras.Model(inputs, out), ["ints"])
    with pytest.raises(TapError, match="'shared' cannot be tapped: it is called more than once"):
        select_taps(keras.Model(inputs, out), ["shared"])


def test_select_by_glob_and_exact_name_in_model_order():
    model = functional_mlp()
    assert [t.name for t in select_taps(model, ["d3", "d[12]"])] == ["d1", "d2", "d3"]
    assert [t.name for t in select_taps(model, ["d*", "d2"])] == ["d1", "d2", "d3"]
    assert [t.name for t in select_taps(model, None)] == ["d1", "d2", "d3"]


def test_unknown_name_lists_close_matches():
    with pytest.raises(TapError, match=r"no layer named 'dd2' in model 'mlp'; did you mean 'd2'"):
        select_taps(functional_mlp(), ["dd2"])


def test_output_layer_cannot_be_tapped():
    with pytest.raises(TapError, match="'out' cannot be tapped: it is the model's output"):
        select_taps(functional_mlp(), ["out"])


def test_pattern_matching_nothing_is_an_error():
    with pytest.raises(TapError, match=r"'conv\*' matches no candidate layer; candidates are: d1, d2, d3"):
        select_taps(functional_mlp(), ["conv*"])


def test_unbuilt_sequential_model_is_refused():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ModelError, match="has no defined inputs and outputs"):
        find_taps(model)
