"""The compiled models a search trains, trial after trial.

Tracing a Keras model's training and evaluation steps costs seconds; the
arithmetic of a small trial often costs less. So a search compiles one model
that holds every candidate output, with each auxiliary loss weight in a
non-trainable variable (0 turns the output off), and starts each trial by
assigning values: fresh weights, the optimizer's initial state, the trial's
loss weights. Keras then reuses the traced steps. `TracedModels` decides
when a model can be reused; `TracedModel` is one such model.

Seeding: a trial's initial weights are drawn while the model is built,
from Python's and NumPy's global generators (Keras' initializers read
them). `seeded` seeds both for the duration of the build only, and puts
their previous states back afterwards; nothing else is seeded globally.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from auxsearch.names import MAIN
from auxsearch.tapspace import Variant


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seeds Python's and NumPy's global generators inside the block only.

    Seeding TensorFlow here would clear its kernel caches in every trial, so
    only the two generators Keras' initializers draw from are seeded.
    """
    saved = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])


class TracedModel:
    """A compiled multi-output model whose trials start by assignment.

    Args:
        model: The model with every output, freshly initialised, uncompiled.
        compile_args: `optimizer`; `loss` and `metrics`, each one value for
            every output or a dict by output name (outputs left out of the
            `metrics` dict get none); optionally `steps_per_execution`.
    """

    def __init__(self, model: keras.Model, compile_args: dict[str, Any]) -> None:
        self.model = model
        outputs = list(model.output_names)
        # The model's own non-trainable weights, not free variables: JAX's
        # stateless training step carries only the model's state, and bakes a
        # free variable's value at trace time into the jitted step.
        self.loss_weights = {
            name: model.add_weight(shape=(), initializer="zeros", trainable=False,
                                   name=f"{name}_weight")
            for name in outputs if name != MAIN
        }
        ids = {id(v) for v in self.loss_weights.values()}
        # The weights of the model's layers: what `reset` replaces.
        self.layer_weights = [v for v in model.weights if id(v) not in ids]
        loss, metrics = compile_args["loss"], compile_args["metrics"]
        model.compile(
            optimizer=compile_args["optimizer"],
            loss=loss if isinstance(loss, dict) else dict.fromkeys(outputs, loss),
            loss_weights={MAIN: 1.0, **self.loss_weights},
            metrics=metrics if isinstance(metrics, dict)
            else {name: list(metrics) for name in outputs},
            steps_per_execution=compile_args.get("steps_per_execution", 1),
        )
        model.optimizer.build(model.trainable_variables)
        self._optimizer_start = [v.numpy() for v in model.optimizer.variables]

    def reset(self, fresh: keras.Model) -> None:
        """Takes a fresh model's weights and restarts the optimizer.

        Args:
            fresh: A newly built model of the same architecture.
        """
        for variable, value in zip(self.layer_weights, fresh.get_weights(), strict=True):
            variable.assign(value)
        self.restart_optimizer()

    def restart_optimizer(self) -> None:
        """Puts the optimizer back in its initial state (step 0, no moments)."""
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_start):
            variable.assign(value)

    def set_loss_weights(self, weights: dict[str, float]) -> None:
        """Sets each output's loss weight; outputs not named get 0 (off)."""
        unknown = set(weights) - set(self.loss_weights)
        if unknown:
            raise KeyError(f"no outputs named {sorted(unknown)}")
        for name, variable in self.loss_weights.items():
            variable.assign(weights.get(name, 0.0))


class TracedModels:
    """Hands out trial models, reusing the traced one whenever it can.

    With `every` outputs given, one model holds them all and serves every
    configuration; otherwise each configuration gets a model with only its
    own outputs (reused when the next configuration has the same ones), and
    the last model's graph is let go first.

    A model is reused only once it has been trained since it was handed out:
    one handed out and not trained (e.g. by `tuner.get_best_models()`) may
    still be in use.

    Args:
        make: Builds a fresh model with the given outputs.
        compile_args: The compile arguments of a model with given outputs.
        every: Every output some configuration can use, or `None`.
    """

    def __init__(
        self,
        make: Callable[[list[Variant]], keras.Model],
        compile_args: Callable[[list[Variant]], dict[str, Any]],
        every: list[Variant] | None,
    ) -> None:
        self.make = make
        self.compile_args = compile_args
        self.every = every
        self.current: TracedModel | None = None
        self.structure: list[Variant] = []
        self._reusable = False

    def get(self, own: list[Variant], seed: int, weights: dict[str, float]) -> TracedModel:
        """Returns a compiled model with fresh weights drawn from `seed`.

        Args:
            own: The outputs of the configuration.
            seed: Integer, the seed of the initial weights.
            weights: The loss weight of each of the configuration's outputs.
        """
        structure = self.every if self.every is not None else own
        current = self.current
        reuse = current is not None and self._reusable and structure == self.structure
        if not reuse and current is not None and self.every is None:
            # A new model per configuration: let the last one's graph go.
            keras.backend.clear_session()
        with seeded(seed):
            fresh = self.make(structure)
        if reuse:
            current.reset(fresh)
        else:
            current = self.current = TracedModel(fresh, self.compile_args(structure))
            self.structure = structure
        self._reusable = False
        current.set_loss_weights(weights)
        return current

    def owns(self, model: keras.Model) -> TracedModel | None:
        """Returns the `TracedModel` of `model`, if it is the current one."""
        return self.current if self.current is not None and model is self.current.model else None

    def trained(self, model: keras.Model) -> None:
        """Marks `model` as trained: the next `get` may reuse it."""
        if self.owns(model):
            self._reusable = True
