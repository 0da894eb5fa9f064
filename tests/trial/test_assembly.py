"""Assembly of one trial model: the user's model, its outputs, its losses."""

import keras
import numpy as np
import pytest

from auxsearch.core.errors import ModelError
from auxsearch.core.tasks import TASKS
from auxsearch.models.taps import select_taps
from auxsearch.trial.assembly import Assembly, check_output, fresh_model, main_model
from tests.conftest import functional_mlp


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


def _classifier(units, activation, *extra):
    def build():
        inputs = keras.Input((6,))
        h = keras.layers.Dense(8, activation="relu", name="d1")(inputs)
        out = keras.layers.Dense(units, activation=activation, name="out")(h)
        for layer in extra:
            out = layer()(out)
        return keras.Model(inputs, out, name="clf")
    return build


@pytest.mark.parametrize("task, units, activation, extra, probabilities", [
    ("multiclass", 3, "softmax", (), True),
    ("multiclass", 3, None, (), False),  # logits: the usual style of current Keras code
    ("multiclass", 3, None, (lambda: keras.layers.Softmax(),), True),
    ("multiclass", 3, None, (lambda: keras.layers.Activation("softmax"),
                             lambda: keras.layers.Dropout(0.1)), True),
    ("binary", 1, "sigmoid", (), True),
    ("binary", 1, None, (), False),
    ("multiclass", 3, None, (lambda: keras.layers.BatchNormalization(),), False),  # by running it
    ("multiclass", 3, "softmax", (lambda: keras.layers.Rescaling(2.0),), False),
])
def test_logits_are_told_from_probabilities(task, units, activation, extra, probabilities):
    from auxsearch.trial.assembly import outputs_probabilities

    model = _classifier(units, activation, *extra)()
    assert outputs_probabilities(model, TASKS[task]) is probabilities


def test_a_logits_model_gets_logits_losses_heads_and_accuracy():
    build = _classifier(1, None)
    model = fresh_model(build)
    assembly = Assembly(build, model, TASKS["binary"], select_taps(model, None), {})
    assert assembly.logits
    args = assembly.compile_args([("d1", "head", 0)])
    assert args["loss"]["main"].get_config()["from_logits"] is True
    accuracy = args["metrics"]["main"][0]
    assert (accuracy.name, accuracy.threshold) == ("accuracy", 0.0)
    assert args["metrics"]["aux_d1"][0] is not accuracy  # each output its own metric
    trial = assembly.model([("d1", "head", 0)])
    assert trial.get_layer("aux_d1").activation is keras.activations.linear
    assert not _assembly().logits  # softmax: as before


def test_subclassed_and_inputless_models_are_refused_with_what_to_do():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = keras.layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ModelError, match=r"model 'net' is a subclassed keras.Model \(Net\): its "
                                         r"layers' outputs are not in a graph.*functional API"):
        fresh_model(Net)
    with pytest.raises(ModelError, match="has no defined inputs and outputs; start it with"):
        fresh_model(lambda: keras.Sequential([keras.layers.Dense(3)], name="seq"))


def test_layers_named_like_added_outputs_are_refused():
    from auxsearch.trial.assembly import check_names

    def clash(name):
        inputs = keras.Input((6,))
        h = keras.layers.Dense(8, name=name)(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(h),
                           name="m")

    with pytest.raises(ModelError, match="layer named 'main', a name auxsearch gives to the "
                                         "output 'main' it adds; rename that layer"):
        check_names(clash("main"), ["aux_x"])
    with pytest.raises(ModelError, match="'aux_x_pool'"):
        check_names(clash("aux_x_pool"), ["aux_x"])
    check_names(clash("main_branch"), ["aux_x"])  # no clash
    inputs = keras.Input((6,))
    own = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="main")(inputs))
    check_names(own, [])  # the output may be called main itself


def test_several_outputs_are_refused_with_what_to_do():
    inputs = keras.Input((6,))
    model = keras.Model(inputs, [keras.layers.Dense(3)(inputs), keras.layers.Dense(2)(inputs)],
                        name="two")
    with pytest.raises(ModelError, match=r"model 'two' has 2 outputs; .* "
                                         r"keras.Model\(model.inputs, model.outputs\[i\]\)"):
        check_output(model, TASKS["multiclass"], None)


@pytest.mark.parametrize("classes, activation, loss", [
    (3, "softmax", "SparseCategoricalCrossentropy"),
    (1, "sigmoid", "MaskBinaryCrossentropy"),  # a binary mask: one sigmoid per position
])
def test_a_segmentation_trial_gets_map_heads_mean_iou_and_pixel_accuracy(classes, activation,
                                                                        loss):
    from tests.conftest import encoder_decoder

    def build():
        model = encoder_decoder(classes=classes)
        if classes == 1:  # the softmax of one class is 1: a sigmoid instead
            out = keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(
                model.get_layer("up").output)
            model = keras.Model(model.inputs, out)
        return model

    model = fresh_model(build)
    task = TASKS["segmentation"]
    assembly = Assembly(build, model, task, select_taps(model, ["enc2"], 4), {},
                        ignore_label=255)
    assert assembly.positions == (16, 16) and assembly.activation == activation
    structure = [("enc2", "head", 0)]
    inputs, outputs = assembly.outputs(fresh_model(build), structure)
    assert tuple(outputs["aux_enc2"].shape) == (None, 16, 16, classes)
    args = assembly.compile_args(structure)
    assert type(args["loss"]["aux_enc2"]).__name__ == loss
    assert [m.name for m in args["metrics"]["main"]] == ["mean_iou", "accuracy"]
    assert args["metrics"]["aux_enc2"] == []  # a map head reports its loss alone
