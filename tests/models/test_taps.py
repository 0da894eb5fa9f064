import keras
import numpy as np
import pytest

from auxsearch.core.errors import ModelError, TapError
from auxsearch.models.taps import Tap, find_taps, select_taps, tap_tensors
from tests.conftest import functional_mlp, sequential_cnn


def test_functional_candidates_exclude_input_and_output():
    taps = find_taps(functional_mlp())
    assert taps == [
        Tap("d1", (None, 8), (1,)),
        Tap("d2", (None, 8), (2,)),
        Tap("d3", (None, 8), (3,)),
    ]


def test_sequential_candidates_with_shapes_and_positions():
    taps = find_taps(sequential_cnn())
    assert [(t.name, t.shape, t.position) for t in taps] == [
        ("conv_a", (None, 6, 6, 4), (0,)),
        ("seq", (None, 36, 4), (1,)),
        ("conv_b", (None, 34, 4), (2,)),
        ("pool", (None, 4), (3,)),
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
    with pytest.raises(TapError,
                       match=r"'conv\*' matches no candidate layer; candidates are: d1, d2, d3"):
        select_taps(functional_mlp(), ["conv*"])


def test_unbuilt_sequential_model_is_refused():
    model = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ModelError, match="has no defined inputs and outputs"):
        find_taps(model)


def _nested() -> keras.Model:
    """A Sequential `stem` and a functional `mid` holding a functional `deep`."""
    stem = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="a"),
                             keras.layers.Dense(5, name="b")], name="stem")
    deep_in = keras.Input((5,))
    deep = keras.Model(deep_in, keras.layers.Dense(5, name="q")(
        keras.layers.Dense(5, name="p")(deep_in)), name="deep")
    mid_in = keras.Input((5,))
    mid = keras.Model(mid_in, keras.layers.Dense(5, name="r")(deep(mid_in)), name="mid")
    inputs = keras.Input((6,), name="x")
    h = keras.layers.Dense(4, name="c")(mid(stem(inputs)))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h))


def test_nested_layers_are_addressed_outer_slash_inner():
    taps = find_taps(_nested())
    assert [(t.name, t.index) for t in taps] == [
        ("stem", "1"), ("stem/a", "1.0"), ("mid", "2"), ("mid/deep", "2.1"),
        ("mid/deep/p", "2.1.1"), ("c", "3")]
    with pytest.raises(TapError, match="'stem/b' cannot be tapped: it is the output of the nested "
                                       "model 'stem'; tap 'stem' itself"):
        select_taps(_nested(), ["stem/b"])


def test_tap_tensors_reach_nested_layers_in_one_forward_pass():
    model = _nested()
    taps = find_taps(model)
    inputs, output, tensors = tap_tensors(model, taps)
    probe = keras.Model(inputs, [output, *tensors.values()])
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    out, *values = probe(x)
    np.testing.assert_allclose(out, model(x), rtol=1e-5)  # same layers, same weights
    stem_a = model.get_layer("stem").get_layer("a")
    np.testing.assert_allclose(values[1], stem_a(x), rtol=1e-5)
    assert len(probe.weights) == len(model.weights)  # nothing copied or added


def test_branching_graphs_tap_add_and_concatenate():
    inputs = keras.Input((6,))
    a = keras.layers.Dense(4, name="a")(inputs)
    b = keras.layers.Dense(4, name="b")(inputs)
    added = keras.layers.Add(name="add")([a, b])
    joined = keras.layers.Concatenate(name="cat")([added, a])
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(joined))
    assert [t.name for t in find_taps(model)] == ["a", "b", "add", "cat"]


def test_a_per_position_task_taps_only_maps_and_says_why_not_the_others():
    inputs = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(2, 3, padding="same", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(conv)
    dense = keras.layers.Dense(2, name="dense")(pooled)
    excite = keras.layers.Reshape((1, 1, 2), name="excite")(dense)
    scaled = keras.layers.Multiply(name="scale")([conv, excite])
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, name="out")(scaled))
    assert [tap.name for tap in find_taps(model)][:3] == ["conv", "gap", "dense"]
    assert [tap.name for tap in find_taps(model, rank=4)] == ["conv", "excite", "scale"]
    with pytest.raises(TapError, match=r"layer 'gap' cannot be tapped: its output \(None, 2\) "
                                       r"has no spatial axes left for a per-position head"):
        select_taps(model, ["gap"], rank=4)
