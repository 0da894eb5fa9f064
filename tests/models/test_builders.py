import re
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from auxsearch.core.errors import ModelError
from auxsearch.models.builders import BUILTIN_MODELS, digits_cnn, model_builder

EXAMPLES = Path(__file__).resolve().parents[2] / "search_spaces" / "models"
SHAPES = {"input_shape": (8, 8, 1), "num_outputs": 10, "activation": "softmax"}


def _kernels(model: keras.Model) -> list[np.ndarray]:
    return [w.numpy() for w in model.weights if "kernel" in w.path]


def _names(model: keras.Model) -> list[str]:
    """Layer names, nested sub-models included."""
    names = []
    for layer in model.layers:
        names.append(layer.name)
        if isinstance(layer, keras.Model):
            names += [f"{layer.name}/{name}" for name in _names(layer)]
    return names


@pytest.fixture
def builders(tmp_path, monkeypatch):
    """A `mymodels.py` in a temporary working directory."""
    (tmp_path / "mymodels.py").write_text(textwrap.dedent("""
        import keras

        NOT_A_FUNCTION = 3

        def _dense(input_shape, units, activation):
            inputs = keras.Input(input_shape)
            return keras.Model(inputs, keras.layers.Dense(
                units, activation=activation, name="predictions")(inputs))

        def build(input_shape, num_outputs, activation):
            return _dense(input_shape, num_outputs, activation)

        def no_args():
            return _dense((4,), 2, "linear")

        def some(num_outputs, input_shape):
            return _dense(input_shape, num_outputs, "linear")

        def everything(**kwargs):
            return _dense(kwargs["input_shape"], kwargs["num_outputs"],
                          kwargs["activation"])

        def needs_more(input_shape, depth):
            return _dense(input_shape, 1, "linear")

        def not_a_model():
            return "model"

        def mobilenet(input_shape, num_outputs, activation):
            return keras.applications.MobileNetV2(
                weights=None, input_shape=input_shape, classes=num_outputs,
                classifier_activation=activation)
    """))
    (tmp_path / "broken.py").write_text("import no_such_module_xyz\n")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("mymodels", None)


def test_digits_cnn_is_a_deep_plain_cnn():
    model = digits_cnn((8, 8, 1), 10)
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [f"conv{i}" for i in range(1, 7)]
    assert [layer.name for layer in model.layers][-2:] == ["flatten", "predictions"]
    assert model.output.shape == (None, 10)
    assert not model.compiled
    assert BUILTIN_MODELS["digits_cnn"] is digits_cnn


def test_each_call_builds_new_weights():
    first, second = digits_cnn((8, 8, 1), 10), digits_cnn((8, 8, 1), 10)
    assert first.get_layer("conv1").kernel is not second.get_layer("conv1").kernel


@pytest.mark.parametrize("name", ["digits_cnn", "residual_cnn", "mlp"])
@pytest.mark.parametrize("outputs,activation", [(10, "softmax"), (1, "sigmoid"), (3, "linear")])
def test_builtins_build_for_each_output(name, outputs, activation):
    build = model_builder(builtin=name, input_shape=(8, 8, 1), num_outputs=outputs,
                          activation=activation)
    first, second = build(), build()
    assert first is not second and first.name == name
    head = first.get_layer("predictions")
    assert first.output.shape == (None, outputs)
    assert head.activation.__name__ == activation
    assert first(np.zeros((2, 8, 8, 1), "float32")).shape == (2, outputs)


def test_residual_cnn_has_residual_blocks():
    model = BUILTIN_MODELS["residual_cnn"]((8, 8, 1), 10)
    adds = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert adds == ["block1_add", "block2_add", "block3_add"]
    for name in ("stem", "block1_conv1", "block1_conv2", "pool", "predictions"):
        model.get_layer(name)


def test_mlp_takes_tabular_and_image_inputs():
    tabular = BUILTIN_MODELS["mlp"]((30,), 2, "sigmoid")
    assert [layer.name for layer in tabular.layers][1:] == [
        "dense1", "dense2", "dense3", "dense4", "predictions"]
    assert tabular.output.shape == (None, 2)
    assert BUILTIN_MODELS["mlp"]((8, 8, 1), 10).get_layer("flatten")


@pytest.mark.parametrize("name", ["digits_cnn", "residual_cnn"])
def test_cnn_builtins_refuse_tabular_inputs(name):
    message = (rf"^built-in model '{name}' needs image inputs \(height, width, channels\); "
               r"got input shape \(30,\); use 'mlp' for other inputs$")
    with pytest.raises(ModelError, match=message):
        model_builder(builtin=name, input_shape=(30,), num_outputs=2, activation="softmax")


def test_unknown_builtin_suggests_a_close_match():
    with pytest.raises(ModelError, match=r"^model.builtin = 'residual' is not a built-in model "
                       r"\(did you mean 'residual_cnn'\?\); "
                       r"allowed: digits_cnn, residual_cnn, mlp$"):
        model_builder(builtin="residual", **SHAPES)


@pytest.mark.parametrize("sources,got", [
    ({}, "got none"),
    ({"builtin": "mlp", "builder": "m:f"}, "got builtin, builder"),
    ({"builtin": "mlp", "builder": "m:f", "file": "m.keras"}, "got builtin, builder, file"),
])
def test_exactly_one_source(sources, got):
    with pytest.raises(ModelError, match="^\\[model\\] needs exactly one of builtin, builder "
                                         f"or file; {got}$"):
        model_builder(**sources, **SHAPES)


def test_unknown_activation():
    with pytest.raises(ModelError, match=r"^output activation 'softmx' is not allowed "
                       r"\(did you mean 'softmax'\?\); "
                       "allowed: softmax, sigmoid, linear$"):
        model_builder(builtin="mlp", input_shape=(30,), num_outputs=2, activation="softmx")


def test_builder_from_the_working_directory(builders):
    build = model_builder(builder="mymodels:build", input_shape=(30,), num_outputs=3,
                          activation="sigmoid")
    first, second = build(), build()
    assert first is not second and first.output.shape == (None, 3)
    assert first.get_layer("predictions").activation.__name__ == "sigmoid"


@pytest.mark.parametrize("function,shape,units", [
    ("no_args", (4,), 2), ("some", (30,), 3), ("everything", (30,), 3)])
def test_builder_gets_the_arguments_it_declares(builders, function, shape, units):
    build = model_builder(builder=f"mymodels:{function}", input_shape=(30,), num_outputs=3,
                          activation="linear")
    model = build()
    assert model.input.shape == (None, *shape) and model.output.shape == (None, units)


def test_tabular_example_builder(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    model = model_builder(builder="tabular:build", input_shape=(30,), num_outputs=4,
                          activation="softmax")()
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [
        "dense1", "dense2", "dense3", "predictions"]
    assert any(isinstance(layer, keras.layers.Add) for layer in model.layers)
    assert model.output.shape == (None, 4)


def test_mobilenet_v2_builds_offline(builders, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("weights=None must not download")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    build = model_builder(builder="mymodels:mobilenet", input_shape=(32, 32, 3), num_outputs=10,
                          activation="softmax")
    model = build()
    assert model.output.shape == (None, 10) and len(model.layers) > 100


@pytest.mark.parametrize("reference,message", [
    ("mymodels.build",
     (r"^model.builder = 'mymodels.build' is malformed; "
      r"expected 'package.module:function', e.g. 'mymodels:build'$")),
    ("mymodels:", r"is malformed"),
    (":build", r"is malformed"),
    ("nomodule_xyz:build",
     (r"^model.builder = 'nomodule_xyz:build': cannot import module 'nomodule_xyz': "
      r"ModuleNotFoundError: No module named 'nomodule_xyz' \(searched the current "
      r"directory, PYTHONPATH and installed packages\)$")),
    ("broken:build",
     (r"^model.builder = 'broken:build': cannot import module 'broken': "
      r"ModuleNotFoundError: No module named 'no_such_module_xyz'")),
    ("mymodels:buld",
     (r"^model.builder = 'mymodels:buld': module 'mymodels' has no attribute 'buld' "
      r"\(did you mean 'build'\?\); its callables: build, everything, ")),
    ("mymodels:NOT_A_FUNCTION",
     (r"^model.builder = 'mymodels:NOT_A_FUNCTION': 'NOT_A_FUNCTION' is a int, "
      r"not a function; it must be callable and return a keras.Model$")),
    ("mymodels:needs_more",
     (r"^model.builder = 'mymodels:needs_more': the builder requires parameter 'depth', "
      r"which auxsearch does not pass; it may declare only keyword parameters among: "
      r"input_shape, num_outputs, activation$")),
])
def test_builder_errors(builders, reference, message):
    with pytest.raises(ModelError, match=message) as caught:
        model_builder(builder=reference, **SHAPES)
    assert "\n" not in str(caught.value)


def test_builder_must_return_a_model(builders):
    build = model_builder(builder="mymodels:not_a_model", **SHAPES)
    with pytest.raises(ModelError, match=r"^model.builder = 'mymodels:not_a_model' returned a str; "
                       r"it must return a keras.Model$"):
        build()


def test_file_gives_fresh_weights_on_every_call():
    path = EXAMPLES / "digits_residual.keras"
    saved = keras.saving.load_model(path, compile=False)
    build = model_builder(file=path, **SHAPES)
    first, second = build(), build()
    assert first is not second and first is not saved
    assert _names(first) == _names(second) == _names(saved)
    assert "stem/conv_a" in _names(first) and "concat" in _names(first)
    assert first.get_config() == saved.get_config()
    for a, b, s in zip(_kernels(first), _kernels(second), _kernels(saved), strict=True):
        assert a.shape == s.shape
        assert not np.allclose(a, s) and not np.allclose(a, b)
    assert first.output.shape == (None, 10)


def _lambda_model(path: Path) -> Path:
    inputs = keras.Input((4,), name="x")
    h = keras.layers.Lambda(lambda x: x * 2.0, name="double")(inputs)
    keras.Model(inputs, keras.layers.Dense(3, name="predictions")(h)).save(path)
    return path


def test_file_with_lambda_needs_unsafe(tmp_path):
    path = _lambda_model(tmp_path / "lambda.keras")
    shapes = {**SHAPES, "input_shape": (4,)}
    with pytest.raises(ModelError, match=rf"^model.file = '{re.escape(str(path))}' "
                       r"holds Python code "
                       r"\(e.g. a Lambda layer\) that safe mode refuses to load; only if you trust "
                       r"the file, set unsafe = true in \[model\]$"):
        model_builder(file=path, **shapes)
    build = model_builder(file=path, unsafe=True, **shapes)
    first, second = build(), build()
    assert first.get_layer("double") is not second.get_layer("double")
    assert np.allclose(first(np.ones((1, 4)) / 2), first.get_layer("predictions")(np.ones((1, 4))))


def test_file_errors(tmp_path):
    missing = tmp_path / "missing.keras"
    with pytest.raises(ModelError,
                       match=rf"^model.file = '{re.escape(str(missing))}' does not exist"):
        model_builder(file=missing, **SHAPES)
    weights = tmp_path / "model.h5"
    weights.write_text("")
    with pytest.raises(ModelError, match=r"^model.file = '.*model.h5' is not a .keras file; "
                       r"only the Keras 3 format is supported "
                       r"\(re-save the model with model.save\('name.keras'\)\)$"):
        model_builder(file=weights, **SHAPES)
    junk = tmp_path / "junk.keras"
    junk.write_text("not a zip")
    with pytest.raises(ModelError,
                       match=r"^model.file = '.*junk.keras' cannot be loaded: \w+: ") as caught:
        model_builder(file=junk, **SHAPES)
    assert "\n" not in str(caught.value)
    with pytest.raises(ModelError, match=r"^model.file = '.*digits_residual.keras': "
                       r"the model expects inputs "
                       r"of shape \(8, 8, 1\), but the data's inputs have shape \(30,\)$"):
        model_builder(file=EXAMPLES / "digits_residual.keras", input_shape=(30,), num_outputs=10,
                      activation="softmax")
