"""The tap-search HyperModel: auxiliary losses attached to a user's model.

It keeps Keras Tuner's contract and delegates each job to its module:
`tapspace` declares and decodes the hyperparameters, `assembly` builds a
trial model, `traced` reuses the compiled one, `routing` sends the labels
to every output, `callbacks` watch the training and `report` records what
the leaderboards read.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import keras_tuner as kt

from auxsearch import names, routing
from auxsearch.assembly import Assembly, check_names, fresh_model
from auxsearch.callbacks import check_finite, trial_callbacks
from auxsearch.errors import AuxSearchError
from auxsearch.ktshim import copy_hypermodel
from auxsearch.packed import PackedModels
from auxsearch.packing import PackedTrial, fit_packed
from auxsearch.report import add_report, chance_score
from auxsearch.rules import check
from auxsearch.taps import select_taps
from auxsearch.tapspace import AuxLoss, TapSpace, configuration_seed
from auxsearch.tasks import TASKS, Task
from auxsearch.traced import TracedModels

# Up to this many auxiliary outputs, one compiled model holds them all (see
# `traced`); with more, each configuration gets a model with only its own.
MAX_TRACED_OUTPUTS = 32


class FatalTrialError(AuxSearchError, kt.errors.FatalError):
    """A configuration error found during a trial; it ends the search at once.

    Keras Tuner fails a trial on any other exception and tries the next, so
    a builder that breaks its contract would fail every trial. This one is
    among Keras Tuner's fatal errors.

    Attributes:
        error: The original error (e.g. a `ModelError`).
    """

    def __init__(self, error: AuxSearchError) -> None:
        super().__init__(str(error))
        self.error = error


class AuxLossHyperModel(kt.HyperModel):
    """Searches which layers of a model get an auxiliary loss, of what kind, how strong.

    The hyperparameters are those of `tapspace.TapSpace`. `build(hp)` calls
    the model builder for a fresh model, adds an output for every active tap
    (named as `names.output_name` says), names the model's own output `main`
    and compiles one loss per output, weighted by its tap's weight (the main
    loss by 1.0). No layer is called twice. `fit()` sends the labels to every
    head (and hint targets to hints), so the search runs with plain labels,
    like any Keras model. `fit_packed()` trains several configurations at
    once, each as `fit()` would alone (see `packing`).

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
            one output: class probabilities or logits `(batch, classes)`
            (multiclass), one `(batch, 1)` (binary), or `(batch, d)`.
        taps: Layer names or glob patterns of the candidate taps; a layer in
            a nested model is `outer/inner`. Defaults to every tappable layer.
        weight_range, kinds, schedules, head_units, max_taps: The tap space
            (see `tapspace.TapSpace`): log-uniform weights in `(low, high)`;
            kinds among "head", "penalty", "hint"; weight schedules (see
            `schedules`); a head's hidden widths (0: none); with `max_taps=k`,
            k slots instead of a switch per candidate.
        task: "multiclass" (integer labels), "binary" (0/1 labels) or
            "regression"; decides the losses, metrics and objective.
        penalty: "l2" (mean squared activation) or "l1" (mean absolute).
        off_after: Float in (0, 1], the share of `max_epochs` that an
            "off_after" loss is on.
        hints: The shape of one example's hint targets, by layer; `fit()`
            then takes `y` as `{"main": labels, "hint/<layer>": targets}`.
        max_epochs: The epochs the schedules follow. Defaults to `fit()`'s.
        objective: A `keras_tuner.Objective` to use instead of the task's.
        num_classes: Integer, the number of classes (a check).
        optimizer, learning_rate: The optimizer's name and learning rate.
        batch_size: Optional integer, `fit()`'s unless the search passes one.
        seed: Integer, the seed of each configuration's initial weights and
            batch order (see `trial_seed`). Defaults to 0.
        steps_per_execution: Integer, training steps per call into the traced
            step function: fewer calls, the same arithmetic. Defaults to 16.
        name: Optional string, the HyperModel's name.

    Raises:
        SpaceError: If a setting is not allowed (see `rules`).
        TapError: If a tap names or matches no candidate layer.
        ModelError: If the builder breaks its contract.
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
        settings = {"task": task, "penalty": penalty, "off_after": off_after,
                    "optimizer": optimizer, "learning_rate": learning_rate,
                    "batch_size": batch_size, "max_epochs": max_epochs, "seed": seed,
                    "steps_per_execution": steps_per_execution}
        for setting, value in settings.items():
            check(setting, value)
        self.task: Task = TASKS[task]
        self.build_model = build_model
        self.hints = {layer: tuple(shape) for layer, shape in (hints or {}).items()}
        self.off_after = off_after
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.seed = seed
        self.paired = False  # see `seeded`
        model = fresh_model(build_model)
        self.taps = select_taps(model, taps)
        self.assembly = Assembly(build_model, model, self.task, self.taps, self.hints, penalty,
                                 optimizer, learning_rate, steps_per_execution, num_classes)
        self.space = TapSpace([tap.name for tap in self.taps], weight_range, kinds,
                              schedules, head_units, tuple(self.hints), max_taps)
        check_names(model, [names.output_name(*v) for v in self.space.variants()])
        self.num_classes = self.assembly.units if self.task.name == "multiclass" else None
        self._objective = objective or kt.Objective(
            names.objective_name(self.task.metric), self.task.direction)
        variants = self.space.variants()
        self.models = TracedModels(
            self.assembly.model, self.assembly.compile_args,
            variants if len(variants) <= MAX_TRACED_OUTPUTS else None)
        # Packing needs one model that serves every configuration.
        self.packs = None if self.models.every is None else PackedModels(
            functools.partial(self.assembly.model, variants),
            functools.partial(self.assembly.compile_args, variants))
        self._build_started = time.perf_counter()

    @property
    def objective(self) -> kt.Objective:
        """The objective: the main output's validation metric for the task."""
        return self._objective

    def declare(self, hp: kt.HyperParameters) -> dict[str, AuxLoss]:
        """Declares the tap hyperparameters on `hp`; returns the active taps."""
        return self.space.declare(hp)

    def config_key(self, values: dict[str, Any]) -> str | None:
        """Returns what identifies a configuration, or `None` if it is invalid."""
        return self.space.key(values)

    def hyperparameters(self, values: dict[str, Any]) -> kt.HyperParameters:
        """Returns `HyperParameters` of this space holding the given values.

        Args:
            values: Values by name, e.g. a trial's; `tuner/*` keys are dropped.
        """
        hp = kt.HyperParameters()
        self.declare(hp)
        hp.values.update(names.user_values(values))
        hp.ensure_active_values()  # e.g. a Fixed kind, left out of older rows
        return hp

    def seeded(self, seed: int, paired: bool = False) -> AuxLossHyperModel:
        """Returns this HyperModel with another seed; this one is left as it is.

        The copy shares the compiled models. It draws each configuration's
        initial weights and batch order from `seed` and the configuration;
        with `paired`, from `seed` alone: every configuration then starts
        from the same weights of the user's model and sees the batches in
        the same order, so configurations trained with one seed differ
        only by their taps (confirmation pairs them so).
        """
        twin = copy_hypermodel(self)
        twin.seed, twin.paired = seed, paired
        return twin

    def trial_seed(self, hp: kt.HyperParameters) -> int:
        """The seed of a configuration's weights and batch order (see `seeded`)."""
        return self.seed if self.paired else configuration_seed(self.seed, hp.values)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """Returns the trial's compiled model, starting from fresh weights.

        Up to `MAX_TRACED_OUTPUTS` possible auxiliary outputs, the model holds
        all of them; an inactive one's loss weight is 0, so it has no effect
        on training. Later builds reuse the compiled model once `fit()` has
        trained it (see `traced.TracedModels`), with every weight reset to a
        freshly built model's, seeded per configuration (`trial_seed`).

        Raises:
            FatalTrialError: If the builder breaks its contract.
        """
        self._build_started = time.perf_counter()
        losses = self.declare(hp)
        try:
            traced = self.models.get([loss.variant for loss in losses.values()],
                                     self.trial_seed(hp),
                                     {loss.output: loss.weight for loss in losses.values()})
        except AuxSearchError as err:
            raise FatalTrialError(err) from err
        return traced.model

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
        are batched and shuffled with the configuration's seed, so a trial
        trains the same way whatever ran before it. Each auxiliary weight
        follows its schedule from the absolute epoch. The returned history
        also holds the trial's report (see `report`).
        """
        traced = self.models.owns(model)
        callbacks = trial_callbacks(list(self.declare(hp).values()), callbacks,
                                    traced and traced.loss_weights,
                                    self.max_epochs or kwargs.get("epochs", 1), self.off_after)
        route = self.router(list(model.output_names))
        batch_size = kwargs.pop("batch_size", None) or self.batch_size or 32
        data, kwargs = routing.fit_inputs(x, y, route, batch_size, self.trial_seed(hp), kwargs)
        started = time.perf_counter()
        history = model.fit(
            *data,
            # Validation needs no small batches: fewer, larger calls.
            validation_data=routing.route_validation(
                validation_data, route, max(batch_size, 512)),
            callbacks=callbacks,
            **kwargs,
        )
        self.models.trained(model)  # the next build assigns fresh weights anyway
        initial_epoch = kwargs.get("initial_epoch", 0)
        check_finite(history, initial_epoch)
        done = time.perf_counter()
        add_report(history, self.objective.name, initial_epoch,
                   chance_score(self.task, self.objective.name, validation_data),
                   done - started, done - self._build_started)
        return history

    def router(self, output_names: list[str]) -> Callable[[Any], dict[str, Any]]:
        """Returns what routes labels to each of a trial model's outputs (`routing.targets`)."""
        every = self.models.every
        return functools.partial(routing.targets, output_names=output_names,
                                 structure=self.models.structure if every is None else every,
                                 hint_layers=tuple(self.hints))

    def fit_packed(self, trials: Sequence[PackedTrial], x: Any, y: Any,
                   **kwargs: Any) -> tuple[list[keras.callbacks.History | Exception], Any]:
        """Trains several trials at once, each as `fit` would alone (see `packing`).

        Args:
            trials: `packing.PackedTrial`s: hyperparameters, seed, parent
                and checkpoint of each.
            x, y: Training arrays, as `fit` takes them.
            **kwargs: Those of `packing.fit_packed` (validation_data,
                epochs, initial_epoch, batch_size, verbose, pack).

        Returns:
            Each trial's `History` or the error it failed with, and the
            packed model.

        Raises:
            FatalTrialError: If the builder breaks its contract.
        """
        if self.packs is None:
            raise AuxSearchError(
                f"{len(self.space.variants())} possible auxiliary outputs are more than "
                f"the {MAX_TRACED_OUTPUTS} a packed model holds; train unpacked (pack = 1)")
        self._build_started = time.perf_counter()
        try:
            return fit_packed(self, trials, x, y, **kwargs)
        except AuxSearchError as err:
            raise FatalTrialError(err) from err
