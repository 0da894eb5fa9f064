"""Assembly of one trial model: the user's model, its outputs, its losses."""

import keras
import numpy as np
import pytest

from auxsearch.assembly import Assembly, check_output, fresh_model, main_model
from auxsearch.errors import ModelError
from auxsearch.taps import select_taps
from auxsearch.tasks import TASKS
from conftest import functional_mlp


def _assembly(build=functional_mlp, task="multiclass", **kwargs):
    model = fresh_model(build)
    return Assembly(build, model, TASKS[task], select_taps(model, None), {}, **kwargs)


def test_outputs_are_attached_to_one_copy_without_calling_a_layer_twice():
    assembly = _assembly()
    base = fresh_model(functional_mlp)
    inputs, outputs = assembly.outputs(base, [("d1", "head", 0), ("d2", "penalty", 0),
                                              ("d2", "head", 16)])
    assert list(outputs) == ["main", "aux_d1", "penalty_d2", "aux_d2_h16"]
    model = keras.Model(inputs, outputs)
    assert all(len(layer._inbound_nodes) == 1 for layer in model.layers)
    assert model.get_layer("d1") is base.get_layer("d1")  # the copy's own layers


def test_compile_args_give_one_loss_per_output_and_metrics_to_heads():
    args = _assembly(optimizer="sgd", learning_rate=0.5).compile_args(
        [("d1", "head", 0), ("d2", "penalty", 0), ("d3", "hint", 0)])
    assert args["loss"]["main"] == args["loss"]["aux_d1"] == "sparse_categorical_crossentropy"
    assert args["loss"]["hint_d3"] == "mse" and callable(args["loss"]["penalty_d2"])
    assert args["metrics"] == {"main": ["accuracy"], "aux_d1": ["accuracy"]}
    assert type(args["optimizer"]).__name__ == "SGD"
    assert float(args["optimizer"].learning_rate) == pytest.approx(0.5)


def test_the_main_model_is_the_users_model_alone():
    model = _assembly().model([("d2", "head", 0)])
    main = main_model(model)
    x = np.ones((2, 6), "float32")
    np.testing.assert_allclose(main(x), model(x)["main"], atol=1e-6)
    assert "aux_d2" not in [layer.name for layer in main.layers]


def test_builder_contract_errors():
    with pytest.raises(ModelError, match="must return a keras.Model; it returned str"):
        fresh_model(lambda: "model")
    with pytest.raises(ModelError, match="num_classes=4, but model 'mlp' outputs 3 classes"):
        _assembly(num_classes=4)
    calls = []

    def growing():
        calls.append(1)
        model = functional_mlp()
        if len(calls) > 1:  # one layer more
            out = keras.layers.Dense(3, activation="softmax")(model.outputs[0])
            return keras.Model(model.inputs, out, name="mlp")
        return model

    assembly = _assembly(growing)
    with pytest.raises(ModelError, match="first built 5 layers, then 6; it must build the same"):
        assembly.model([])


@pytest.mark.parametrize("task, shape, message", [
    ("binary", (6, 3), "must output one sigmoid probability"),
    ("multiclass", (6, 1), "must output class probabilities"),
    ("regression", (6, 2, 3), "must output predictions of shape"),
])
def test_an_output_that_does_not_fit_the_task_is_refused(task, shape, message):
    inputs = keras.Input((6,))
    output = keras.layers.Dense(int(np.prod(shape[1:])))(inputs)
    if len(shape) > 2:
        output = keras.layers.Reshape(shape[1:])(output)
    with pytest.raises(ModelError, match=f"for a {task} task, .* {message}"):
        check_output(keras.Model(inputs, output), TASKS[task], None)
