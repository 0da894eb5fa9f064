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

Redrawing: building a model to read its initial weights costs more than
many small trials' steps. Keras' random initializers take their seed from
Python's generator when they are created and are stateless afterwards, so
`Redraw` draws a seed's initial weights from the traced model's own
initializers, each given the seed a fresh build would give it, without
building anything. It is used only once a build has confirmed that it
draws exactly the same values (see `TracedModels.get`).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from auxsearch.core.names import MAIN
from auxsearch.core.tapspace import Variant
from auxsearch.trial import checkpoints

logger = logging.getLogger(__name__)

# How far into Python's stream of seeds `Redraw` looks for an initializer's.
_MAX_DRAWS = 4096


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


class Redraw:
    """Draws a model's initial weights for a seed without building the model.

    Each variable must come from an initializer its layer keeps as
    `<variable name>_initializer` (Keras' layers do): a constant one, one
    with a fixed seed, or a random one whose seed was drawn from Python's
    generator when it was created (`keras.random.make_default_seed`). The
    position of that seed in the generator's stream after `seed` is found
    once; a redraw for another seed gives each initializer the seed at the
    same position of that seed's stream.

    Args:
        model: A model built by `make` under `seeded(seed)`.
        variables: Its variables to redraw, in the order `draw` returns them.
        seed: Integer, the seed it was built under.

    Raises:
        ValueError: If a variable's initializer cannot be found or replayed
            (e.g. a seed generator's state, or a layer with sublayers).
    """

    def __init__(self, model: keras.Model, variables: list[Any], seed: int) -> None:
        owners = {}
        for layer in _layers(model):
            for variable in layer.weights:
                owners.setdefault(id(variable), (layer, variable.name))
        with seeded(seed):
            stream = _seeds(_MAX_DRAWS)
        self.plan: list[tuple[Any, int | None, tuple[int, ...], str]] = []
        for variable in variables:
            layer, name = owners.get(id(variable), (None, variable.name))
            initializer = getattr(layer, f"{name}_initializer", None)
            if not isinstance(initializer, keras.initializers.Initializer):
                raise ValueError(f"no initializer of {variable.path}")
            position = None
            if hasattr(initializer, "seed"):  # a random one
                if not isinstance(initializer.seed, int):
                    raise ValueError(f"{variable.path}: a seed generator draws anew each call")
                if initializer.get_config().get("seed") is None:  # drawn when it was created
                    if initializer.seed not in stream:
                        raise ValueError(f"{variable.path}: its seed is not among Python's")
                    position = stream.index(initializer.seed)
            self.plan.append((initializer, position, tuple(variable.shape), variable.dtype))
        self.draws = max((p for _, p, _, _ in self.plan if p is not None), default=-1) + 1

    def draw(self, seed: int) -> list[Any]:
        """Returns the initial weights `seed` gives, as a build under `seeded(seed)` would."""
        with seeded(seed):
            stream = _seeds(self.draws)
        values = []
        for initializer, position, shape, dtype in self.plan:
            if position is not None:
                initializer = copy.copy(initializer)
                initializer.seed = stream[position]
            values.append(initializer(shape, dtype=dtype))
        return values


def _seeds(count: int) -> list[int]:
    """The next `count` seeds Keras draws for initializers created without one.

    As `keras.random` draws them (`make_default_seed`, not public): one
    `random.randint(1, 1e9)` of Python's global generator each.
    """
    return [random.randint(1, int(1e9)) for _ in range(count)]


def _layers(model: keras.Model) -> Iterator[keras.Layer]:
    """The layers of a model, those of its nested models instead of the nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


class TracedModel:
    """A compiled multi-output model whose trials start by assignment.

    It is a group of one copy for `records.TrialRecords` (see `records.Group`).

    Args:
        model: The model with every output, freshly initialised, uncompiled.
        compile_args: `optimizer`; `loss` and `metrics`, each one value for
            every output or a dict by output name (outputs left out of the
            `metrics` dict get none); optionally `steps_per_execution`.
    """

    size = 1

    def __init__(self, model: keras.Model, compile_args: dict[str, Any]) -> None:
        self.model = model
        self.output_names = outputs = list(model.output_names)
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
        self.start(fresh.get_weights())

    def start(self, values: list[Any]) -> None:
        """Takes these initial weights (in `layer_weights`' order), restarts the optimizer."""
        for variable, value in zip(self.layer_weights, values, strict=True):
            variable.assign(value)
        self.restart_optimizer()

    def restart_optimizer(self) -> None:
        """Puts the optimizer back in its initial state (step 0, no moments)."""
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_start):
            variable.assign(value)

    def copy_loss_weights(self, copy: int = 0) -> dict[str, Any]:
        """The auxiliary loss weight variables, by output name."""
        return self.loss_weights

    def copy_logs(self, logs: dict[str, Any], copy: int = 0) -> dict[str, Any]:
        """The logs: the one copy's own."""
        return logs

    def switch_off(self, copy: int = 0) -> None:
        """Zeroes every auxiliary loss weight (the fit stops: its one copy failed)."""
        self.set_loss_weights({})

    def values(self, copy: int = 0) -> list[np.ndarray]:
        """Returns the layers' weights, in their order."""
        return [v.numpy() for v in self.layer_weights]

    def save(self, values: list[np.ndarray], path: str, loss_weights: dict[str, float]) -> None:
        """Takes `values` (from `values`) and these loss weights, and writes a checkpoint."""
        for variable, value in zip(self.layer_weights, values, strict=True):
            variable.assign(value)
        self.set_loss_weights(loss_weights)
        checkpoints.write(self.model, path)

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
        self._redraw: Redraw | None = None  # the current model's, once it can be made
        self._confirmed = False  # whether a build has drawn what `_redraw` draws

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
        if reuse:
            self._start(current, structure, seed)
        else:
            with seeded(seed):
                fresh = self.make(structure)
            current = self.current = TracedModel(fresh, self.compile_args(structure))
            self.structure = structure
            self._redraw, self._confirmed = _redraw(fresh, current.layer_weights, seed), False
        self._reusable = False
        current.set_loss_weights(weights)
        return current

    def _start(self, current: TracedModel, structure: list[Variant], seed: int) -> None:
        """Gives the reused model `seed`'s fresh weights: redrawn, or from a build.

        The first reuse builds a fresh model and compares its weights with
        the redrawn ones; only if they are equal, value for value, do later
        reuses redraw instead of building.
        """
        redrawn = None
        if self._redraw is not None:
            try:
                redrawn = self._redraw.draw(seed)
            except Exception:  # an initializer that cannot be replayed: build
                logger.debug("cannot redraw initial weights", exc_info=True)
                self._redraw = None
        if redrawn is not None and self._confirmed:
            current.start(redrawn)
            return
        with seeded(seed):
            values = self.make(structure).get_weights()
        current.start(values)
        if redrawn is not None:
            self._confirmed = _same(redrawn, values)
            if not self._confirmed:
                logger.debug("redrawn initial weights differ from a build's: building")
                self._redraw = None

    def owns(self, model: keras.Model) -> TracedModel | None:
        """Returns the `TracedModel` of `model`, if it is the current one."""
        return self.current if self.current is not None and model is self.current.model else None

    def trained(self, model: keras.Model) -> None:
        """Marks `model` as trained: the next `get` may reuse it."""
        if self.owns(model):
            self._reusable = True


def build_metrics(model: keras.Model, batch: tuple[Any, Any]) -> None:
    """Creates a compiled model's loss trackers and metrics eagerly, on one batch.

    Keras otherwise creates their variables while it traces the first
    training step, and TensorFlow traces a step function that created
    variables a second time: the default search traced for 3.5 s instead of
    1.8 s (bench/results.md). Call it before the model's first `fit`; the
    states it leaves are reset, so training sees none of it.

    Args:
        model: A compiled model, never trained.
        batch: `(x, y)`, one batch as the model's `fit` reads them.
    """
    x, y = batch
    y_pred = model(x, training=False)
    model.compute_loss(x, y, y_pred, training=False)
    model.compute_metrics(x, y, y_pred)
    model.reset_metrics()


def _redraw(model: keras.Model, variables: list[Any], seed: int) -> Redraw | None:
    """The `Redraw` of a model, or `None` if its initial weights cannot be redrawn."""
    try:
        return Redraw(model, variables, seed)
    except Exception:  # e.g. a custom layer's weights: every trial builds
        logger.debug("initial weights of %s cannot be redrawn", model.name, exc_info=True)
        return None


def _same(redrawn: list[Any], built: list[np.ndarray]) -> bool:
    """Whether redrawn weights equal a build's, value for value."""
    return len(redrawn) == len(built) and all(
        np.array_equal(keras.ops.convert_to_numpy(a), b)
        and keras.ops.convert_to_numpy(a).dtype == b.dtype
        for a, b in zip(redrawn, built))
