"""The tap-search HyperModel: auxiliary losses attached to a user's model."""

from __future__ import annotations

import math
import random
import time
import zlib
from typing import Any, Callable, Sequence

import keras
import keras_tuner as kt
import numpy as np

from auxsearch.errors import ModelError
from auxsearch.heads import MAIN, attach_head, head_name
from auxsearch.taps import Tap, select_taps
from auxsearch.traced import TracedModel



class AuxLossHyperModel(kt.HyperModel):
    """Searches which layers of a model get an auxiliary loss, and its weight.

    For every candidate layer the search space holds a boolean `tap/<layer>`
    and, active only while that tap is on, a log-sampled `weight/<layer>`.
    `build(hp)` calls the model builder for a fresh model, gives each active
    tap an auxiliary classifier head named `aux_<layer>` that predicts the
    main labels, names the model's own output `main`, and compiles one loss
    per output, weighted by its tap's weight (the main loss by 1.0).

    `fit()` sends the one label array to every head, so the search is run
    with plain labels, like any Keras model.

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
            one softmax output of shape `(batch, num_classes)`.
        taps: Layer names or glob patterns of the candidate taps. Defaults
            to every layer that can be tapped.
        weight_range: Tuple `(low, high)` of the auxiliary loss weights,
            sampled log-uniformly; `0 < low <= high`. Defaults to
            `(0.01, 1.0)`.
        num_classes: Integer, the number of classes. Defaults to the last
            dimension of the model's output.
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
    """

    def __init__(
        self,
        build_model: Callable[[], keras.Model],
        taps: Sequence[str] | None = None,
        weight_range: tuple[float, float] = (0.01, 1.0),
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
        if not 0 < low <= high:
            raise ValueError(
                "Expected 0 < low <= high for weight_range. "
                f"Received: weight_range={weight_range!r}"
            )
        self.build_model = build_model
        self.weight_range = (float(low), float(high))
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
        self.num_classes = _check_output(model, num_classes)
        self.taps: list[Tap] = select_taps(model, taps)
        self._n_layers = len(model.layers)
        self._build_started = time.perf_counter()
        self._traced: TracedModel | None = None
        self._reusable = False

    @property
    def objective(self) -> kt.Objective:
        """The main output's validation accuracy, to maximise."""
        return kt.Objective(f"val_{MAIN}_accuracy", "max")

    def sample_taps(self, hp: kt.HyperParameters) -> dict[str, float]:
        """Declares the tap hyperparameters and returns the active taps.

        Args:
            hp: The trial's `HyperParameters`.

        Returns:
            A dict from each active tap's layer name to its loss weight.
        """
        low, high = self.weight_range
        active = {}
        for tap in self.taps:
            switch = f"tap/{tap.name}"
            on = hp.Boolean(switch, default=False)
            with hp.conditional_scope(switch, [True]):
                weight = hp.Float(
                    f"weight/{tap.name}", low, high, sampling="log"
                )
            if on:
                active[tap.name] = weight
        return active

    def hyperparameters(self, values: dict[str, Any]) -> kt.HyperParameters:
        """Returns `HyperParameters` of this space holding the given values.

        Args:
            values: Values by name, e.g. a trial's; `tuner/*` keys are dropped.
        """
        hp = kt.HyperParameters()
        self.sample_taps(hp)
        hp.values.update({k: v for k, v in values.items() if not k.startswith("tuner/")})
        return hp

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """Returns the trial's compiled model, starting from fresh weights.

        The model holds a head for every candidate tap; an inactive tap's
        loss weight is 0, so it has no effect on training. The first build
        compiles the model; later builds reuse it once `fit()` has trained
        it (Keras then does not trace its training step again), resetting
        every weight to a freshly built model's, seeded per configuration,
        and the optimizer to its initial state. A model handed out and not
        trained since (e.g. by `tuner.get_best_models()`) is never reused.
        """
        self._build_started = time.perf_counter()
        weights = self.sample_taps(hp)
        # Python's and NumPy's generators drive Keras' initializers. Seeding
        # TensorFlow here would clear its kernel caches in every trial.
        seed = self._trial_seed(hp)
        random.seed(seed)
        np.random.seed(seed)
        fresh = self._full_model()
        if self._traced is None or not self._reusable:
            self._traced = TracedModel(fresh, self._compile_args())
        else:
            self._traced.reset(fresh)
        self._reusable = False
        self._traced.set_loss_weights(
            {head_name(layer): weight for layer, weight in weights.items()}
        )
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

        A loss that becomes NaN or infinite stops training at once and fails
        the trial (`keras_tuner.errors.FailedTrialError`, with the epoch).
        Arrays are batched and shuffled with a seed of the configuration, so
        a trial trains the same way whatever ran before it. Besides Keras'
        logs, the returned history holds `epochs_trained`, `fit_seconds`,
        `trial_seconds` (build and fit) and `at_epoch/<n>` (the objective at
        absolute epoch n), constant over the epochs, so that Keras Tuner keeps
        them with the trial's metrics.
        """
        names = list(model.output_names)
        active = [MAIN] + [head_name(layer) for layer in self.sample_taps(hp)]
        callbacks = [TrialLogs(active), keras.callbacks.TerminateOnNaN()] + [
            BestEpochCheckpoint.replacing(callback) for callback in callbacks or []
        ]
        batch_size = kwargs.pop("batch_size", None) or self.batch_size or 32
        if _is_dataset(x) or "validation_split" in kwargs:
            kwargs.setdefault("shuffle", not _is_dataset(x))
            if not _is_dataset(x):
                kwargs["batch_size"] = batch_size
            data = route_labels(x, y, names)
        else:
            seed = self._trial_seed(hp) if kwargs.pop("shuffle", True) else None
            data = (batched(x, y, names, batch_size, shuffle_seed=seed),)
            kwargs["shuffle"] = False  # the dataset shuffles itself
        started = time.perf_counter()
        history = model.fit(
            *data,
            # Validation needs no small batches: fewer, larger calls.
            validation_data=_route_validation(
                validation_data, names, max(batch_size, 512)),
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
        history.history["epochs_trained"] = [epochs] * epochs
        history.history["fit_seconds"] = [done - started] * epochs
        history.history["trial_seconds"] = [done - self._build_started] * epochs
        return history

    def _full_model(self) -> keras.Model:
        """Builds the user's model with a head on every candidate tap."""
        base = self._fresh_model()
        outputs = {MAIN: _named(base.outputs[0], MAIN)}
        if len(base.layers) != self._n_layers:
            raise ModelError(
                f"the model builder first built {self._n_layers} layers, then "
                f"{len(base.layers)}; it must build the same architecture on "
                "every call"
            )
        for tap in self.taps:
            # By position: Keras numbers unnamed layers anew in every build.
            layer = base.layers[tap.position]
            name = head_name(tap.name)
            outputs[name] = attach_head(layer.output, self.num_classes, name)
        return keras.Model(base.inputs, outputs, name=base.name)

    def _compile_args(self) -> dict[str, Any]:
        return {
            "optimizer": keras.optimizers.get(
                {"class_name": self.optimizer,
                 "config": {"learning_rate": self.learning_rate}}
            ),
            "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"],
            "steps_per_execution": self.steps_per_execution,
        }

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


def _check_finite(history: keras.callbacks.History, initial_epoch: int) -> None:
    """Fails a trial whose loss diverged (TerminateOnNaN stopped its training)."""
    for epoch, loss in enumerate(history.history.get("loss", []), initial_epoch + 1):
        if not math.isfinite(loss):
            raise kt.errors.FailedTrialError(
                f"the loss became {loss} in epoch {epoch}; training stopped there"
            )


def active_taps(values: dict[str, Any]) -> dict[str, float]:
    """Returns the active taps of a trial's hyperparameter values.

    Args:
        values: A `HyperParameters.values` dict, as a trial records it.

    Returns:
        A dict from each active tap's layer name to its loss weight.
    """
    return {
        key[len("tap/"):]: values[f"weight/{key[len('tap/'):]}"]
        for key, on in values.items()
        if key.startswith("tap/") and on
    }


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
        inactive = [name for name in self.model.output_names
                    if name not in self.active]
        for key in list(logs):
            bare = key[4:] if key.startswith("val_") else key
            if any(bare.startswith(f"{name}_") for name in inactive):
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


def batched(
    x: Any, y: Any, names: list[str], batch_size: int, shuffle_seed: int | None
) -> Any:
    """Returns arrays as a batched `tf.data.Dataset` with routed labels.

    Args:
        x, y: The features and the one label array.
        names: The model's output names; each gets the labels.
        batch_size: Integer, examples per batch.
        shuffle_seed: Integer seed of a reshuffle every epoch, or `None` to
            keep the order.
    """
    import tensorflow as tf

    # Labels are routed before slicing: a `map` would be traced anew per call.
    labels = tf.convert_to_tensor(y)
    data = tf.data.Dataset.from_tensor_slices((x, {name: labels for name in names}))
    if shuffle_seed is not None:
        data = data.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def route_labels(x: Any, y: Any, names: list[str]) -> tuple[Any, ...]:
    """Returns fit's `(x, y)` with the one label array sent to every output.

    A `tf.data.Dataset` of `(x, y)` or `(x, y, sample_weight)` elements is
    mapped the same way; its label tensor is shared, not copied.
    """
    if _is_dataset(x):
        return (x.map(lambda features, labels, *rest: (
            features, {name: labels for name in names}, *rest
        )),)
    return x, {name: y for name in names}


def _route_validation(data: Any, names: list[str], batch_size: int) -> Any:
    if data is None:
        return None
    if _is_dataset(data):
        return route_labels(data, None, names)[0]
    x, y, *rest = data
    if rest:  # sample weights: let Keras batch them
        return (*route_labels(x, y, names), *rest)
    return batched(x, y, names, batch_size, shuffle_seed=None)


def _is_dataset(data: Any) -> bool:
    return hasattr(data, "element_spec") and hasattr(data, "map")


def _named(tensor: keras.KerasTensor, name: str) -> keras.KerasTensor:
    # Keras names an output's losses and metrics after its layer, so the main
    # output must come from a layer named `main`.
    if tensor._keras_history.operation.name == name:
        return tensor
    return keras.layers.Identity(name=name)(tensor)


def _check_output(model: keras.Model, num_classes: int | None) -> int:
    if len(model.outputs) != 1:
        raise ModelError(
            f"model {model.name!r} must have exactly one output; "
            f"it has {len(model.outputs)}"
        )
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2 or shape[-1] is None:
        raise ModelError(
            f"model {model.name!r} must output class probabilities of shape "
            f"(batch, num_classes); its output has shape {shape}"
        )
    if num_classes is not None and num_classes != shape[-1]:
        raise ModelError(
            f"num_classes={num_classes}, but model {model.name!r} outputs "
            f"{shape[-1]} classes"
        )
    return shape[-1]
