"""The tap-search HyperModel: auxiliary losses attached to a user's model."""

from __future__ import annotations

import contextlib
import functools
import math
import random
import time
import zlib
from typing import Any, Callable, Sequence

import keras
import keras_tuner as kt
import numpy as np

from auxsearch.errors import ModelError, TapError
from auxsearch.heads import (
    KINDS, MAIN, PENALTIES, AuxLoss, attach_head, attach_hint, attach_penalty,
    output_name, penalty_loss,
)
from auxsearch.schedules import SCHEDULES, LossWeightSchedule
from auxsearch.taps import Tap, select_taps, tap_tensors
from auxsearch.traced import TracedModel

# Per task: the main output's activation, its loss, the metric the objective
# reads, and that metric's direction.
TASKS = {
    "multiclass": ("softmax", "sparse_categorical_crossentropy", "accuracy", "max"),
    "binary": ("sigmoid", "binary_crossentropy", "accuracy", "max"),
    "regression": ("linear", "mse", "mae", "min"),
}
# Up to this many auxiliary outputs, one compiled model holds them all (see
# `traced`); with more, each configuration gets a model with only its own.
MAX_TRACED_OUTPUTS = 32

# An output a configuration can use: (layer, kind, hidden units).
_Variant = tuple[str, str, int]


class AuxLossHyperModel(kt.HyperModel):
    """Searches which layers of a model get an auxiliary loss, of what kind, how strong.

    Each candidate layer gets a boolean `tap/<layer>` or, with `max_taps=k`,
    the search gets k slots `tap/slot<i>`, each choosing a layer or "none"
    (a configuration never taps a layer twice). While a tap is on, it has a
    log-sampled `weight/<layer>` and, where the space offers more than one,
    a `kind/<layer>`, a `schedule/<layer>` and a head's hidden `units/<layer>`.
    `build(hp)` calls the model builder for a fresh model, adds an output
    for every active tap (named as `heads.output_name` says), names the
    model's own output `main` and compiles one loss per output, weighted by
    its tap's weight (the main loss by 1.0). No layer is called twice.

    `fit()` sends the labels to every head (and hint targets to hints), so
    the search runs with plain labels, like any Keras model.

    Example:

    ```python
    hm = AuxLossHyperModel(build_model, taps=["conv*"], weight_range=(0.01, 1.0))
    tuner = keras_tuner.Hyperband(hm, objective=hm.objective, max_epochs=9,
                                  directory="runs", project_name="demo")
    tuner.search(x_train, y_train, validation_data=(x_val, y_val))
    ```

    Args:
        build_model: A callable that returns a new, uncompiled Keras model
            (functional, or Sequential with an `Input`) on every call, with
            one output: class probabilities `(batch, classes)` (multiclass),
            `(batch, 1)` sigmoid (binary), or `(batch, d)` (regression).
        taps: Layer names or glob patterns of the candidate taps; a layer in
            a nested model is `outer/inner`. Defaults to every layer that can
            be tapped.
        weight_range: Tuple `(low, high)` of the auxiliary loss weights,
            sampled log-uniformly; `0 < low <= high`. Defaults to
            `(0.01, 1.0)`.
        task: "multiclass" (integer labels), "binary" (0/1 labels) or
            "regression"; decides the losses, metrics and objective.
        kinds: The tap kinds to search among: "head", "penalty", "hint".
        schedules: The weight schedules to search among (see `schedules`).
        head_units: The hidden widths a head may have; 0 is none.
        penalty: "l2" (mean squared activation) or "l1" (mean absolute).
        off_after: Float in (0, 1], the share of `max_epochs` that an
            "off_after" loss is on.
        hints: The shape of one example's hint targets, by layer name; the
            "hint" kind is offered on these layers. `fit()` then takes `y` as
            a dict `{"main": labels, "hint/<layer>": targets}`.
        max_taps: Optional integer k: search up to k taps among the
            candidates with k slots instead of a boolean per candidate.
        max_epochs: The epochs of a fully trained configuration, which the
            schedules follow. Defaults to the `epochs` of each `fit()`.
        objective: A `keras_tuner.Objective` to use instead of the task's.
        num_classes: Integer, the number of classes (a check). Defaults to
            the last dimension of the model's output.
        optimizer: String, the name of a Keras optimizer. Defaults to "adam".
        learning_rate: Float, the optimizer's learning rate. Defaults to 1e-3.
        batch_size: Optional integer, the batch size `fit()` uses unless the
            search passes one.
        seed: Integer, the seed from which each trial's initial weights are
            drawn. Defaults to 0.
        steps_per_execution: Integer, training steps per call into the traced
            step function; fewer calls cost less Python time, with the same
            arithmetic. Defaults to 16.
        name: Optional string, the HyperModel's name.

    Raises:
        TapError: If a tap names or matches no candidate layer.
        ModelError: If the builder breaks its contract.
        ValueError: If an argument is not allowed.
    """

    def __init__(
        self,
        build_model: Callable[[], keras.Model],
        taps: Sequence[str] | None = None,
        weight_range: tuple[float, float] = (0.01, 1.0),
        task: str = "multiclass",
        kinds: Sequence[str] = ("head",),
        schedules: Sequence[str] = ("constant",),
        head_units: Sequence[int] = (0,),
        penalty: str = "l2",
        off_after: float = 0.5,
        hints: dict[str, tuple[int, ...]] | None = None,
        max_taps: int | None = None,
        max_epochs: int | None = None,
        objective: kt.Objective | None = None,
        num_classes: int | None = None,
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        batch_size: int | None = None,
        seed: int = 0,
        steps_per_execution: int = 16,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        low, high = weight_range
        _check(0 < low <= high, "weight_range", weight_range, "0 < low <= high")
        _check(task in TASKS, "task", task, f"one of {', '.join(TASKS)}")
        _check(bool(kinds) and set(kinds) <= set(KINDS), "kinds", kinds,
               f"a non-empty list of {', '.join(KINDS)}")
        _check(bool(schedules) and set(schedules) <= set(SCHEDULES), "schedules",
               schedules, f"a non-empty list of {', '.join(SCHEDULES)}")
        _check(bool(head_units) and all(u >= 0 for u in head_units), "head_units",
               head_units, "a non-empty list of integers >= 0")
        _check(penalty in PENALTIES, "penalty", penalty, f"one of {', '.join(PENALTIES)}")
        _check(0 < off_after <= 1, "off_after", off_after, "in (0, 1]")
        _check(max_taps is None or max_taps >= 1, "max_taps", max_taps, ">= 1")
        self.build_model = build_model
        self.weight_range = (float(low), float(high))
        self.task = task
        self.kinds = tuple(dict.fromkeys(kinds))
        self.schedules = tuple(dict.fromkeys(schedules))
        self.head_units = tuple(dict.fromkeys(int(u) for u in head_units))
        self.penalty = penalty
        self.off_after = off_after
        self.hints = {layer: tuple(shape) for layer, shape in (hints or {}).items()}
        self.max_taps = max_taps
        self.max_epochs = max_epochs
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.seed = seed
        self.steps_per_execution = steps_per_execution

        model = self._fresh_model()
        if build_model() is model:
            raise ModelError(
                "the model builder returned the same model object twice; it "
                "must build a new model on every call so trials never share "
                "weights"
            )
        self.outputs = _check_output(model, task, num_classes)
        self.num_classes = self.outputs if task == "multiclass" else None
        self.taps: list[Tap] = select_taps(model, taps)
        if "hint" in self.kinds:
            _check_hints(self.hints, self.taps)
        elif self.hints:
            raise TapError("hint targets are given, but 'hint' is not among the tap kinds")
        activation, _, metric, direction = TASKS[task]
        self.activation = activation
        self._objective = objective or kt.Objective(f"val_{MAIN}_{metric}", direction)
        self._n_layers = len(model.layers)
        variants = self._variants()
        # One traced model for every output, unless there are too many.
        self._all_outputs = variants if len(variants) <= MAX_TRACED_OUTPUTS else None
        self._build_started = time.perf_counter()
        self._traced: TracedModel | None = None
        self._structure: list[_Variant] | None = None
        self._reusable = False

    @property
    def objective(self) -> kt.Objective:
        """The objective: the main output's validation metric for the task."""
        return self._objective

    def sample_taps(self, hp: kt.HyperParameters) -> dict[str, AuxLoss]:
        """Declares the tap hyperparameters and returns the active taps.

        Args:
            hp: The trial's `HyperParameters`.

        Returns:
            The active auxiliary losses, by layer name.
        """
        low, high = self.weight_range
        names = [tap.name for tap in self.taps]
        chosen: dict[str, AuxLoss] = {}
        for slot in self._slots():
            switch = f"tap/{slot}"
            if self.max_taps:
                layer = hp.Choice(switch, ["none", *names], default="none")
                on_values, kinds = names, self._kinds(None)
            else:
                layer = slot if hp.Boolean(switch, default=False) else "none"
                on_values, kinds = [True], self._kinds(slot)
            with hp.conditional_scope(switch, on_values):
                weight = hp.Float(f"weight/{slot}", low, high, sampling="log")
                kind = _choice(hp, f"kind/{slot}", kinds, "head")
                # Units only for a head: conditional when a kind is declared.
                with (hp.conditional_scope(f"kind/{slot}", ["head"])
                      if list(kinds) != ["head"] else contextlib.nullcontext()):
                    units = _choice(hp, f"units/{slot}", self.head_units, 0)
                schedule = _choice(hp, f"schedule/{slot}", self.schedules, "constant")
            if layer != "none" and layer not in chosen:
                chosen[layer] = AuxLoss(layer, weight, kind, schedule, units or 0)
        return chosen

    def config_key(self, values: dict[str, Any]) -> str | None:
        """Returns what identifies a configuration, or `None` if it is invalid.

        Slots are a set: their order does not make a new configuration. A
        configuration that taps a layer twice, or asks for a hint where
        there are no targets, is invalid.
        """
        losses = list(_losses(values))
        layers = [loss.layer for loss in losses]
        if len(set(layers)) < len(layers):
            return None
        if any(loss.kind == "hint" and loss.layer not in self.hints for loss in losses):
            return None
        return repr(sorted(losses, key=lambda loss: loss.layer))

    def hyperparameters(self, values: dict[str, Any]) -> kt.HyperParameters:
        """Returns `HyperParameters` of this space holding the given values.

        Args:
            values: Values by name, e.g. a trial's; `tuner/*` keys are dropped.
        """
        hp = kt.HyperParameters()
        self.sample_taps(hp)
        hp.values.update({k: v for k, v in values.items() if not k.startswith("tuner/")})
        hp.ensure_active_values()  # e.g. a Fixed kind, left out of older rows
        return hp

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """Returns the trial's compiled model, starting from fresh weights.

        Up to `MAX_TRACED_OUTPUTS` possible auxiliary outputs, the model holds
        all of them; an inactive one's loss weight is 0, so it has no effect
        on training. The first build compiles the model; later builds reuse
        it once `fit()` has trained it (Keras then does not trace its
        training step again), resetting every weight to a freshly built
        model's, seeded per configuration, and the optimizer to its initial
        state. A model handed out and not trained since (e.g. by
        `tuner.get_best_models()`) is never reused. With more possible
        outputs, a configuration's model holds only its own.
        """
        self._build_started = time.perf_counter()
        losses = self.sample_taps(hp)
        # Python's and NumPy's generators drive Keras' initializers. Seeding
        # TensorFlow here would clear its kernel caches in every trial.
        seed = self._trial_seed(hp)
        random.seed(seed)
        np.random.seed(seed)
        structure = self._all_outputs
        if structure is None:
            structure = [(loss.layer, loss.kind, loss.units) for loss in losses.values()]
        reuse = self._traced is not None and self._reusable and structure == self._structure
        if not reuse and self._traced is not None and self._all_outputs is None:
            # A new model per configuration: let the last one's graph go.
            keras.backend.clear_session()
            random.seed(seed)
            np.random.seed(seed)
        fresh = self._full_model(structure)
        if reuse:
            self._traced.reset(fresh)
        else:
            self._traced = TracedModel(fresh, self._compile_args(structure))
            self._structure = structure
        self._reusable = False
        self._traced.set_loss_weights(
            {loss.output: loss.weight for loss in losses.values()})
        return self._traced.model

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        x: Any,
        y: Any = None,
        validation_data: Any = None,
        callbacks: list[keras.callbacks.Callback] | None = None,
        **kwargs: Any,
    ) -> keras.callbacks.History:
        """Trains the model with the labels routed to every output.

        `y` is the label array, or a dict `{"main": labels, "hint/<layer>":
        targets}` when hints are searched; `validation_data` likewise. A loss
        that becomes NaN or infinite stops training at once and fails the
        trial (`keras_tuner.errors.FailedTrialError`, with the epoch). Arrays
        are batched and shuffled with a seed of the configuration, so a trial
        trains the same way whatever ran before it. Each auxiliary weight
        follows its schedule from the absolute epoch. Besides Keras' logs,
        the returned history holds `epochs_trained`, `fit_seconds`,
        `trial_seconds` (build and fit), `at_epoch/<n>` (the objective at
        absolute epoch n) and `chance_score` (the objective of the best
        constant prediction, for array validation labels), constant over the
        epochs, so that Keras Tuner keeps them with the trial's metrics.
        """
        losses = self.sample_taps(hp)
        active = [MAIN] + [loss.output for loss in losses.values()]
        callbacks = [TrialLogs(active), keras.callbacks.TerminateOnNaN()] + [
            BestEpochCheckpoint.replacing(callback) for callback in callbacks or []
        ]
        if self._traced is not None and model is self._traced.model:
            callbacks.insert(0, LossWeightSchedule(
                self._traced.loss_weights,
                {loss.output: (loss.weight, loss.schedule) for loss in losses.values()},
                self.max_epochs or kwargs.get("epochs", 1),
                self.off_after,
            ))
        targets = functools.partial(self.targets, model)
        batch_size = kwargs.pop("batch_size", None) or self.batch_size or 32
        if _is_dataset(x) or "validation_split" in kwargs:
            kwargs.setdefault("shuffle", not _is_dataset(x))
            if not _is_dataset(x):
                kwargs["batch_size"] = batch_size
            data = route_labels(x, y, targets)
        else:
            seed = self._trial_seed(hp) if kwargs.pop("shuffle", True) else None
            data = (batched(x, targets(y), batch_size, shuffle_seed=seed),)
            kwargs["shuffle"] = False  # the dataset shuffles itself
        started = time.perf_counter()
        history = model.fit(
            *data,
            # Validation needs no small batches: fewer, larger calls.
            validation_data=_route_validation(
                validation_data, targets, max(batch_size, 512)),
            callbacks=callbacks,
            **kwargs,
        )
        if self._traced is not None and model is self._traced.model:
            self._reusable = True  # the next build assigns fresh weights anyway
        _check_finite(history, kwargs.get("initial_epoch", 0))
        done = time.perf_counter()
        epochs = len(history.epoch)
        # Keras Tuner keeps each metric at the best epoch only: constants
        # survive, so the objective's curve is kept one epoch per key.
        first = kwargs.get("initial_epoch", 0) + 1
        for epoch, value in enumerate(history.history.get(self.objective.name, []), first):
            history.history[f"at_epoch/{epoch}"] = [value] * epochs
        chance = self._chance_score(validation_data)
        if chance is not None:
            history.history["chance_score"] = [chance] * epochs
        history.history["epochs_trained"] = [epochs] * epochs
        history.history["fit_seconds"] = [done - started] * epochs
        history.history["trial_seconds"] = [done - self._build_started] * epochs
        return history

    def count_configurations(self) -> int:
        """Returns how many distinct tap configurations the space holds.

        A configuration is a set of taps, each with its kind, hidden width
        and schedule; the continuous weights are not counted.
        """
        options = [
            sum(len(self.head_units) if kind == "head" else 1 for kind in self._kinds(tap.name))
            * len(self.schedules)
            for tap in self.taps
        ]
        if not self.max_taps:
            return math.prod(1 + n for n in options)
        # Sets of at most k taps: the elementary symmetric sums e_0 .. e_k.
        sums = [1] + [0] * self.max_taps
        for n in options:
            for size in range(self.max_taps, 0, -1):
                sums[size] += sums[size - 1] * n
        return sum(sums)

    def _chance_score(self, validation_data: Any) -> float | None:
        """The objective's value for the best constant prediction, if known.

        A model that does no better has learnt nothing, e.g. because a large
        auxiliary weight made it diverge; the leaderboard flags it.
        """
        if validation_data is None or _is_dataset(validation_data):
            return None
        y = validation_data[1]
        y = np.asarray(y[MAIN] if isinstance(y, dict) else y)
        metric = self.objective.name.removeprefix(f"val_{MAIN}_")
        if metric == "accuracy" and self.task != "regression" and len(y):
            return float(np.bincount(y.astype(int).ravel()).max() / y.size)
        if metric == "mae" and len(y):
            return float(np.mean(np.abs(y - np.median(y, axis=0))))
        return None

    def _slots(self) -> list[str]:
        if self.max_taps:
            return [f"slot{i}" for i in range(1, self.max_taps + 1)]
        return [tap.name for tap in self.taps]

    def _kinds(self, layer: str | None) -> list[str]:
        """The kinds a tap may take: a hint only where there are targets."""
        if layer is None:  # a slot: any layer
            return [k for k in self.kinds if k != "hint" or self.hints]
        return [k for k in self.kinds if k != "hint" or layer in self.hints]

    def _variants(self) -> list[_Variant]:
        """Every auxiliary output that some configuration can use."""
        variants = []
        for tap in self.taps:
            for kind in self._kinds(tap.name):
                units = self.head_units if kind == "head" else (0,)
                variants += [(tap.name, kind, u) for u in units]
        return variants

    def _full_model(self, structure: list[_Variant]) -> keras.Model:
        """Builds the user's model with the given auxiliary outputs."""
        base = self._fresh_model()
        if len(base.layers) != self._n_layers:
            raise ModelError(
                f"the model builder first built {self._n_layers} layers, then "
                f"{len(base.layers)}; it must build the same architecture on "
                "every call"
            )
        # By position: Keras numbers unnamed layers anew in every build.
        by_name = {tap.name: tap for tap in self.taps}
        needed = [by_name[layer] for layer in dict.fromkeys(v[0] for v in structure)]
        inputs, output, tensors = tap_tensors(base, needed)
        outputs = {MAIN: _named(output, MAIN)}
        for layer, kind, units in structure:
            name = output_name(layer, kind, units)
            if kind == "head":
                outputs[name] = attach_head(
                    tensors[layer], self.outputs, name, self.activation, units)
            elif kind == "penalty":
                outputs[name] = attach_penalty(tensors[layer], name, self.penalty)
            else:
                outputs[name] = attach_hint(tensors[layer], self.hints[layer], name)
        return keras.Model(inputs, outputs, name=base.name)

    def _compile_args(self, structure: list[_Variant]) -> dict[str, Any]:
        _, loss, metric, _ = TASKS[self.task]
        losses, metrics = {MAIN: loss}, {MAIN: [metric]}
        for layer, kind, units in structure:
            name = output_name(layer, kind, units)
            if kind == "head":
                losses[name], metrics[name] = loss, [metric]
            else:
                losses[name] = penalty_loss if kind == "penalty" else "mse"
        return {
            "optimizer": keras.optimizers.get(
                {"class_name": self.optimizer,
                 "config": {"learning_rate": self.learning_rate}}
            ),
            "loss": losses,
            "metrics": metrics,
            "steps_per_execution": self.steps_per_execution,
        }

    def targets(self, model: keras.Model, y: Any) -> dict[str, Any]:
        """Returns the labels of each of the model's outputs.

        Heads get the labels, penalties zeros (they use none), hints their
        targets. Works on arrays and on the tensors of a `tf.data` pipeline.

        Args:
            model: A model that `build()` returned.
            y: The labels, or a dict `{"main": labels, "hint/<layer>": targets}`.
        """
        hints: dict[str, Any] = {}
        if isinstance(y, dict):
            allowed = {MAIN} | {f"hint/{layer}" for layer in self.hints}
            if set(y) - allowed or MAIN not in y:
                raise ValueError(
                    f"y must be the labels, or a dict with keys {sorted(allowed)}; "
                    f"got keys {sorted(y)}")
            hints, y = y, y[MAIN]
        kinds = {output_name(*variant): variant for variant in self._structure or []}
        labels = keras.ops.convert_to_tensor(y)  # one tensor, shared by the heads
        out = {}
        for name in model.output_names:
            layer, kind, _ = kinds.get(name, (None, "head", 0))
            if kind == "penalty":
                out[name] = keras.ops.zeros((keras.ops.shape(labels)[0],))
            elif kind == "hint":
                if f"hint/{layer}" not in hints:
                    raise ValueError(
                        f"the hint on {layer!r} needs targets: pass y as a dict "
                        f"with a 'hint/{layer}' array")
                out[name] = hints[f"hint/{layer}"]
            else:
                out[name] = labels
        return out

    def _fresh_model(self) -> keras.Model:
        model = self.build_model()
        if not isinstance(model, keras.Model):
            raise ModelError(
                "the model builder must return a keras.Model; "
                f"it returned {type(model).__name__}"
            )
        return model

    def _trial_seed(self, hp: kt.HyperParameters) -> int:
        # One seed per configuration: reproducible, and the same across the
        # Hyperband rounds of one configuration.
        config = sorted(
            (key, value) for key, value in hp.values.items()
            if not key.startswith("tuner/")
        )
        return zlib.crc32(f"{self.seed}:{config}".encode()) % 2**31


def _check(ok: bool, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ValueError(f"Expected {rule} for {name}. Received: {name}={value!r}")


def _choice(hp: kt.HyperParameters, name: str, values: Sequence[Any], default: Any) -> Any:
    """A Choice among `values`; a single value other than `default` is Fixed.

    Values equal to the default declare nothing, so the default space keeps
    one weight per tap and `active_taps` reads the default when a value is
    missing.
    """
    values = list(values)
    if len(values) > 1:
        first = default if default in values else values[0]
        return hp.Choice(name, values, default=first)
    if values[0] != default:
        return hp.Fixed(name, values[0])
    return default


def _check_hints(hints: dict[str, tuple[int, ...]], taps: list[Tap]) -> None:
    names = [tap.name for tap in taps]
    for layer in hints:
        if layer not in names:
            raise TapError(
                f"hint targets are given for {layer!r}, which is not a candidate "
                f"tap; candidates are: {', '.join(names)}")
    if not hints:
        raise TapError("the 'hint' kind needs hint targets ('hint/<layer>' arrays)")


def _losses(values: dict[str, Any]) -> Any:
    """Yields the active `AuxLoss` of each tap or slot, in order (repeats too)."""
    for key, value in values.items():
        if not key.startswith("tap/") or value in (False, "none", None):
            continue
        slot = key[len("tap/"):]
        yield AuxLoss(
            layer=slot if value is True else value,
            weight=values[f"weight/{slot}"],
            kind=values.get(f"kind/{slot}", "head"),
            schedule=values.get(f"schedule/{slot}", "constant"),
            units=values.get(f"units/{slot}", 0) or 0,
        )


def active_taps(values: dict[str, Any]) -> dict[str, AuxLoss]:
    """Returns the active taps of a trial's hyperparameter values.

    Args:
        values: A `HyperParameters.values` dict, as a trial records it.

    Returns:
        The active auxiliary losses by layer name (a layer once).
    """
    taps: dict[str, AuxLoss] = {}
    for loss in _losses(values):
        taps.setdefault(loss.layer, loss)
    return taps


def _check_finite(history: keras.callbacks.History, initial_epoch: int) -> None:
    """Fails a trial whose loss diverged (TerminateOnNaN stopped its training)."""
    for epoch, loss in enumerate(history.history.get("loss", []), initial_epoch + 1):
        if not math.isfinite(loss):
            raise kt.errors.FailedTrialError(
                f"the loss became {loss} in epoch {epoch}; training stopped there"
            )


class TrialLogs(keras.callbacks.Callback):
    """Keeps a trial's logs to its active outputs, named consistently.

    Placed first among the callbacks, it edits the logs dict that the later
    callbacks (checkpoints, Keras Tuner, History) read: it drops the metrics
    of inactive heads, and gives a single-output model's logs the `main_`
    names that Keras leaves out when a model has one output (`val_accuracy`
    is also logged as `val_main_accuracy`).

    Args:
        active: The names of the outputs whose loss counts.
    """

    def __init__(self, active: list[str]) -> None:
        super().__init__()
        self.active = set(active)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        if len(self.model.output_names) == 1:
            for key in list(logs):
                if key.startswith("val_"):
                    logs.setdefault(f"val_{MAIN}_{key[4:]}", logs[key])
                else:
                    logs.setdefault(f"{MAIN}_{key}", logs[key])
            return
        # Longest first: `aux_block_inner_loss` is `aux_block_inner`'s, not `aux_block`'s.
        names = sorted(self.model.output_names, key=len, reverse=True)
        for key in list(logs):
            bare = key[4:] if key.startswith("val_") else key
            owner = next((name for name in names if bare.startswith(f"{name}_")), None)
            if owner is not None and owner not in self.active:
                del logs[key]


class BestEpochCheckpoint(keras.callbacks.Callback):
    """Keras Tuner's best-epoch checkpoint, written once when training ends.

    Keras Tuner's `SaveBestEpoch` writes the weights file on every epoch
    that improves the objective; this keeps the best epoch's weights and
    optimizer state in memory and writes the same file once. The model ends
    training at its best epoch.

    Args:
        objective: The `keras_tuner.Objective` that decides the best epoch.
        filepath: The checkpoint's path (`*.weights.h5`).
    """

    def __init__(self, objective: Any, filepath: str) -> None:
        super().__init__()
        self.objective = objective
        self.filepath = filepath
        self.best: float | None = None
        self.state: list[np.ndarray] | None = None

    @classmethod
    def replacing(cls, callback: keras.callbacks.Callback) -> keras.callbacks.Callback:
        """Returns a replacement for Keras Tuner's `SaveBestEpoch`, else `callback`."""
        if type(callback).__name__ != "SaveBestEpoch":
            return callback
        return cls(callback.objective, callback.filepath)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self.objective.has_value(logs):
            value = self.objective.get_value(logs)
            if self.best is not None and not self.objective.better_than(value, self.best):
                return
            self.best = value
        # Like SaveBestEpoch, an epoch without the objective is kept as well.
        self.state = [v.numpy() for v in self._variables()]

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.state is None:
            return
        for variable, value in zip(self._variables(), self.state):
            variable.assign(value)
        self.model.save_weights(self.filepath)

    def _variables(self) -> list[Any]:
        return list(self.model.weights) + list(self.model.optimizer.variables)


def batched(x: Any, targets: dict[str, Any], batch_size: int, shuffle_seed: int | None) -> Any:
    """Returns arrays as a batched `tf.data.Dataset` of `(x, targets)`.

    Args:
        x: The features.
        targets: The labels of each output, e.g. from `AuxLossHyperModel.targets`.
        batch_size: Integer, examples per batch.
        shuffle_seed: Integer seed of a reshuffle every epoch, or `None` to
            keep the order.
    """
    import tensorflow as tf

    # Labels are routed before slicing: a `map` would be traced anew per call.
    data = tf.data.Dataset.from_tensor_slices((x, targets))
    if shuffle_seed is not None:
        data = data.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def route_labels(x: Any, y: Any, targets: Callable[[Any], dict[str, Any]]) -> tuple[Any, ...]:
    """Returns fit's `(x, y)` with `y` routed to every output by `targets`.

    A `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)` elements is
    mapped the same way.
    """
    if _is_dataset(x):
        return (x.map(lambda features, labels, *rest: (features, targets(labels), *rest)),)
    return x, targets(y)


def _route_validation(data: Any, targets: Callable[[Any], dict[str, Any]], batch_size: int) -> Any:
    if data is None:
        return None
    if _is_dataset(data):
        return route_labels(data, None, targets)[0]
    x, y, *rest = data
    if rest:  # sample weights: let Keras batch them
        return (*route_labels(x, y, targets), *rest)
    return batched(x, targets(y), batch_size, shuffle_seed=None)


def _is_dataset(data: Any) -> bool:
    return hasattr(data, "element_spec") and hasattr(data, "map")


def _named(tensor: keras.KerasTensor, name: str) -> keras.KerasTensor:
    # Keras names an output's losses and metrics after its layer, so the main
    # output must come from a layer named `main`.
    if tensor._keras_history.operation.name == name:
        return tensor
    return keras.layers.Identity(name=name)(tensor)


def _check_output(model: keras.Model, task: str, num_classes: int | None) -> int:
    """Checks the model's one output against the task; returns its units."""
    if len(model.outputs) != 1:
        raise ModelError(
            f"model {model.name!r} must have exactly one output; "
            f"it has {len(model.outputs)}"
        )
    shape = tuple(model.outputs[0].shape)
    expected = {
        "multiclass": "class probabilities of shape (batch, num_classes)",
        "binary": "one sigmoid probability, shape (batch, 1)",
        "regression": "predictions of shape (batch, targets)",
    }[task]
    if (len(shape) != 2 or shape[-1] is None or (task == "binary" and shape[-1] != 1)
            or (task == "multiclass" and shape[-1] < 2)):
        raise ModelError(
            f"for a {task} task, model {model.name!r} must output {expected}; "
            f"its output has shape {shape}"
        )
    if num_classes is not None and task == "multiclass" and num_classes != shape[-1]:
        raise ModelError(
            f"num_classes={num_classes}, but model {model.name!r} outputs "
            f"{shape[-1]} classes"
        )
    return shape[-1]
