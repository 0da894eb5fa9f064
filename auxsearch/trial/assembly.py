"""Assembly: one trial model, the user's model with its auxiliary outputs.

`Assembly.outputs` attaches the outputs a configuration needs to one fresh
copy of the user's model, reading the tapped tensors from its graph (no
layer is called twice); `Assembly.model` wraps them as a `keras.Model` and
`Assembly.compile_args` gives its losses and metrics. A packed trial can
assemble several copies the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from auxsearch.core import names
from auxsearch.core.errors import ModelError
from auxsearch.core.tapspace import Variant
from auxsearch.core.tasks import TASKS, Task
from auxsearch.models.taps import Tap, tap_tensors
from auxsearch.trial.dense import attach_dense_head, dense_loss, dense_metrics
from auxsearch.trial.heads import attach_head, attach_hint, attach_penalty, penalty_loss


class Assembly:
    """Builds trial models of one user model, for one task.

    Args:
        build_model: The user's builder: a new, uncompiled model per call.
        model: A model the builder built (from `fresh_model`), to check.
        task: The task, from `tasks.TASKS`.
        taps: The candidate taps (from `taps.select_taps`).
        hints: The shape of one example's hint targets, by layer.
        penalty: "l2" or "l1", the activation penalty's norm.
        optimizer: String, the name of a Keras optimizer.
        learning_rate: Float, its learning rate.
        steps_per_execution: Integer, training steps per traced call.
        num_classes: Optional integer to check the output against.
        ignore_label: The label of positions that count in no loss and no
            metric (a per-position task), or `None`.

    Raises:
        ModelError: If the builder breaks its contract, or its output does
            not fit the task.
    """

    def __init__(
        self,
        build_model: Callable[[], keras.Model],
        model: keras.Model,
        task: Task,
        taps: list[Tap],
        hints: dict[str, tuple[int, ...]],
        penalty: str = "l2",
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        steps_per_execution: int = 16,
        num_classes: int | None = None,
        ignore_label: int | None = None,
    ) -> None:
        self.build_model = build_model
        self.ignore_label = ignore_label
        self.task = task
        self.taps = {tap.name: tap for tap in taps}
        self.hints = hints
        self.penalty = penalty
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.steps_per_execution = steps_per_execution
        if build_model() is model:
            raise ModelError(
                "the model builder returned the same model object twice; it must build a "
                "new model on every call so trials never share weights"
            )
        self.units = check_output(model, task, num_classes)
        # Per position: the label shape the output asks for (None: any size).
        self.positions = tuple(model.outputs[0].shape[1:-1]) if task.positions else None
        self.n_layers = len(model.layers)
        # A classifier without a softmax (sigmoid) outputs logits: its loss,
        # its heads' and the accuracy then take logits too.
        self.logits = task.logits_loss is not None and not outputs_probabilities(model, task)
        # One probability (binary, or a binary mask) is a sigmoid's.
        self.activation = "sigmoid" if task.classes and self.units == 1 else task.activation

    def outputs(
        self, base: keras.Model, structure: list[Variant]
    ) -> tuple[list[keras.KerasTensor], dict[str, keras.KerasTensor]]:
        """Attaches the given auxiliary outputs to one copy of the user's model.

        Args:
            base: A fresh model from the builder (`fresh_model`).
            structure: The auxiliary outputs, `(layer, kind, units)`.

        Returns:
            The model's inputs, and its outputs by name: `main` first.
        """
        if len(base.layers) != self.n_layers:
            raise ModelError(
                f"the model builder first built {self.n_layers} layers, then "
                f"{len(base.layers)}; it must build the same architecture on "
                "every call"
            )
        # By position: Keras numbers unnamed layers anew in every build.
        needed = [self.taps[layer] for layer in dict.fromkeys(v[0] for v in structure)]
        inputs, output, tensors = tap_tensors(base, needed)
        outputs = {names.MAIN: _named(output, names.MAIN)}
        for layer, kind, units in structure:
            name = names.output_name(layer, kind, units)
            if kind == "head":
                activation = "linear" if self.logits else self.activation
                if self.task.positions:
                    outputs[name] = attach_dense_head(tensors[layer], outputs[names.MAIN],
                                                      self.units, name, activation, units)
                else:
                    outputs[name] = attach_head(tensors[layer], self.units, name, activation,
                                                units)
            elif kind == "penalty":
                outputs[name] = attach_penalty(tensors[layer], name, self.penalty)
            else:
                outputs[name] = attach_hint(tensors[layer], self.hints[layer], name)
        return inputs, outputs

    def model(self, structure: list[Variant]) -> keras.Model:
        """Returns a fresh copy of the user's model with the given outputs."""
        base = fresh_model(self.build_model)
        inputs, outputs = self.outputs(base, structure)
        return keras.Model(inputs, outputs, name=base.name)

    def main_loss(self) -> Any:
        """Returns the loss of the main output (and of every head)."""
        if self.task.positions:
            return dense_loss(self.units, self.logits, self.ignore_label)
        if self.logits:
            return keras.losses.get({"class_name": self.task.logits_loss,
                                     "config": {"from_logits": True}})
        return self.task.loss

    def main_metrics(self) -> list[Any]:
        """Returns new instances of the task's metrics, the objective's first."""
        if self.task.positions:
            return dense_metrics(self.units, self.logits, self.ignore_label, self.task.metric)
        if self.logits and self.units == 1:  # a logit of 0 is a probability of 0.5
            return [keras.metrics.BinaryAccuracy(name=self.task.metric, threshold=0.0)]
        return [self.task.metric]

    def compile_args(self, structure: list[Variant]) -> dict[str, Any]:
        """Returns the optimizer, losses and metrics of a trial model."""
        loss = self.main_loss()
        losses, metrics = {names.MAIN: loss}, {names.MAIN: self.main_metrics()}
        for layer, kind, units in structure:
            name = names.output_name(layer, kind, units)
            if kind == "head":
                # A per-position head reports its loss alone: the task's metrics on
                # every candidate map cost 40% of a step (bench/results.md).
                losses[name] = loss
                metrics[name] = [] if self.task.positions else self.main_metrics()
            else:
                losses[name] = penalty_loss if kind == "penalty" else "mse"
        return {
            "optimizer": keras.optimizers.get(
                {"class_name": self.optimizer,
                 "config": {"learning_rate": self.learning_rate}}
            ),
            "loss": losses,
            "metrics": metrics,
            # PyTorch's trainer runs one step per call, and refuses more.
            "steps_per_execution": (1 if keras.backend.backend() == "torch"
                                    else self.steps_per_execution),
        }


def fresh_model(build_model: Callable[[], keras.Model]) -> keras.Model:
    """Returns a new model from the builder, checked to be a graph of layers.

    Raises:
        ModelError: If the builder returns anything but a `keras.Model`, or a
            model whose layers' outputs are not in a graph (subclassed, or a
            Sequential model without an `Input`).
    """
    model = build_model()
    if not isinstance(model, keras.Model):
        raise ModelError(
            "the model builder must return a keras.Model; "
            f"it returned {type(model).__name__}"
        )
    try:
        graph = bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):  # a subclassed model has neither
        graph = False
    if graph:
        return model
    if isinstance(model, keras.Sequential):
        raise ModelError(
            f"Sequential model {model.name!r} has no defined inputs and outputs; "
            "start it with keras.Input(shape=...)"
        )
    raise ModelError(
        f"model {model.name!r} is a subclassed keras.Model ({type(model).__name__}): its "
        "layers' outputs are not in a graph, so no layer can be tapped; build it with "
        "the functional API (keras.Input, then call each layer on the last one's "
        "output, then keras.Model(inputs, outputs))"
    )


def outputs_probabilities(model: keras.Model, task: Task) -> bool:
    """Whether a classifier's output is a probability (softmax or sigmoid).

    The activation is read from the layers that produce the output (passing
    through reshapes, dropout and nested models); if those do not say, the
    model is run on a few random inputs: probabilities lie in [0, 1] (and
    sum to 1 for several classes).
    """
    activation = _output_activation(model.outputs[0])
    if activation is not None:
        return activation in ("softmax", "sigmoid")
    rng = np.random.default_rng(0)
    # Unknown sizes (an image model's H and W): 16 each.
    x = [rng.normal(size=(8, *(16 if d is None else d for d in t.shape[1:]))).astype("float32")
         for t in model.inputs]
    y = keras.ops.convert_to_numpy(model(x if len(x) > 1 else x[0])).astype("float64")
    probabilities = bool(np.all((y >= 0) & (y <= 1)))
    if task.classes and y.shape[-1] > 1:  # several classes: a softmax's sum to 1
        probabilities &= bool(np.allclose(y.sum(axis=-1), 1, atol=1e-3))
    return probabilities


# Layers an output passes through unchanged, as far as its activation goes.
_PASS_THROUGH = (keras.layers.Identity, keras.layers.Reshape, keras.layers.Flatten,
                 keras.layers.Dropout, keras.layers.ActivityRegularization)


def _output_activation(tensor: Any) -> str | None:
    """The activation that produced `tensor`, or `None` if the layers don't say."""
    for _ in range(100):  # a chain of pass-through layers, never a cycle
        layer, node_index, _ = tensor._keras_history
        if isinstance(layer, keras.layers.Softmax):
            return "softmax"
        if isinstance(layer, keras.Model) and getattr(layer, "outputs", None):
            tensor = layer.outputs[0]  # a nested model: its own output layer
            continue
        activation = getattr(layer, "activation", None)
        if callable(activation):
            return getattr(activation, "__name__", None)
        inputs = layer._inbound_nodes[node_index].input_tensors
        if not isinstance(layer, _PASS_THROUGH) or len(inputs) != 1:
            return None
        tensor = inputs[0]
    return None


def check_names(model: keras.Model, outputs: list[str]) -> None:
    """Refuses a model with a layer named like an output auxsearch adds.

    Raises:
        ModelError: Naming the layer and what to do.
    """
    own = model.outputs[0]._keras_history[0].name  # may be `main` itself
    taken = {layer.name for layer in model.layers} - {own}
    for name in [names.MAIN, *outputs]:
        # The layers heads and hints add (see `heads`) are named after their output.
        clash = taken & {name, *(f"{name}_{part}" for part in
                                 ("pool", "hidden", "adapter", "logits", "resize"))}
        if clash:
            raise ModelError(
                f"model {model.name!r} has a layer named {sorted(clash)[0]!r}, a name "
                f"auxsearch gives to the output {name!r} it adds; rename that layer"
            )


def main_model(model: keras.Model) -> keras.Model:
    """Returns the part of a trial model that computes its main output."""
    return keras.Model(model.inputs, model.get_layer(names.MAIN).output, name=model.name)


def _named(tensor: keras.KerasTensor, name: str) -> keras.KerasTensor:
    # Keras names an output's losses and metrics after its layer, so the main
    # output must come from a layer named `main`.
    if tensor._keras_history.operation.name == name:
        return tensor
    return keras.layers.Identity(name=name)(tensor)


def check_output(model: keras.Model, task: Task, num_classes: int | None) -> int:
    """Checks the model's one output against the task; returns its units.

    Raises:
        ModelError: If the model has several outputs, or its output's shape
            does not fit the task.
    """
    if len(model.outputs) != 1:
        raise ModelError(
            f"model {model.name!r} has {len(model.outputs)} outputs; auxsearch searches "
            "auxiliary losses for a model with one: pass the output to improve alone, "
            "keras.Model(model.inputs, model.outputs[i])"
        )
    shape = tuple(model.outputs[0].shape)
    if not task.output_fits(shape):
        fitting = [other.name for other in TASKS.values() if other.output_fits(shape)
                   and other.positions != task.positions]
        hint = f" (an output for task = {fitting[0]!r})" if fitting else ""
        raise ModelError(
            f"for a {task.name} task, model {model.name!r} must output {task.output}; "
            f"its output has shape {shape}{hint}"
        )
    if num_classes is not None and task.classes and shape[-1] > 1 and num_classes != shape[-1]:
        raise ModelError(
            f"num_classes={num_classes}, but model {model.name!r} outputs "
            f"{shape[-1]} classes"
        )
    return shape[-1]
