"""The tap-search HyperModel: Keras Tuner's contract over the trial stage's `Trainer`.

`tapspace` declares the hyperparameters and `trial.trainer.Trainer` builds and
trains the trial models; the HyperModel adds each configuration's seed, the
labels' checks and Keras Tuner's fatal errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import keras_tuner as kt

from auxsearch.core import names
from auxsearch.core.errors import AuxSearchError
from auxsearch.core.rules import check
from auxsearch.core.space import TapSpec, TrainingSpec
from auxsearch.core.tapspace import AuxLoss, TapSpace, configuration_seed
from auxsearch.core.tasks import TASKS, Task
from auxsearch.kt.errors import FatalTrialError
from auxsearch.kt.hypermodel import copy_hypermodel
from auxsearch.kt.project import SaveBestEpoch
from auxsearch.models.taps import Tap
from auxsearch.trial.packed import PackedModel
from auxsearch.trial.trainer import PackedTrial, Trainer


class AuxLossHyperModel(kt.HyperModel):
    """Searches which layers of a model get an auxiliary loss, of what kind, how strong.

    The hyperparameters are those of `tapspace.TapSpace`. `build(hp)` returns
    the trial model: the user's model with an output for every active tap
    (named as `names.output_name` says), its own output named `main`, and one
    loss per output, weighted by its tap's weight (the main loss by 1.0). No
    layer is called twice. `fit()` sends the labels to every head (and hint
    targets to hints), so the search runs with plain labels, like any Keras
    model; one-hot labels of a multiclass task are taken as their classes.
    `fit_packed()` trains several configurations at once, each as `fit()`
    would alone.

    Example:

    ```python
    hm = AuxLossHyperModel(build_model, TapSpec(candidates=("conv*",)))
    tuner = keras_tuner.Hyperband(hm, objective=hm.objective, max_epochs=9,
                                  directory="runs", project_name="demo")
    tuner.search(x_train, y_train, validation_data=(x_val, y_val))
    ```

    Args:
        build_model: A callable that returns a new, uncompiled Keras model
            (functional, or Sequential with an `Input`) on every call, with
            one output that fits the task (`Task.output`): e.g. probabilities
            or logits `(batch, classes)`, or `(batch, H, W, K)` per position.
        taps: The tap space, as a space file's `[taps]` fills it
            (`TapSpec`: candidate layers or glob patterns, weight range,
            kinds, schedules, head widths, slots, penalty, `off_after`), or
            just the candidates; a layer in a nested model is `outer/inner`.
            Defaults to every tappable layer with the defaults of `TapSpec`.
        training: How each trial trains, as `[training]` fills it
            (`TrainingSpec`: optimizer, learning rate, batch size). `fit()`'s
            `batch_size`, when given, wins.
        task: "multiclass" (integer or one-hot labels), "binary" (0/1), "regression"
            or "segmentation" (masks); decides the losses, metrics and objective.
        hints: The shape of one example's hint targets, by layer; `fit()`
            then takes `y` as `{"main": labels, "hint/<layer>": targets}`.
        max_epochs: The epochs the schedules follow. Defaults to `fit()`'s.
        objective: A `keras_tuner.Objective` to use instead of the task's.
        num_classes: Integer, the number of classes (a check).
        seed: Integer, the seed of each configuration's initial weights and
            batch order (see `trial_seed`). Defaults to 0.
        steps_per_execution: Integer, training steps per call into the traced
            step function: fewer calls, the same arithmetic. Defaults to 16.
        name: Optional string, the HyperModel's name.
        ignore_label: Segmentation: the label that counts in no loss or metric (255).

    Raises:
        SpaceError: If a setting is not allowed (see `rules`).
        TapError: If a tap names or matches no candidate layer.
        ModelError: If the builder breaks its contract.
    """

    def __init__(
        self,
        build_model: Callable[[], keras.Model],
        taps: TapSpec | Sequence[str] | None = None,
        training: TrainingSpec | None = None,
        *,
        task: str = "multiclass",
        hints: dict[str, tuple[int, ...]] | None = None,
        max_epochs: int | None = None,
        objective: kt.Objective | None = None,
        num_classes: int | None = None,
        seed: int = 0,
        steps_per_execution: int = 16,
        name: str | None = None,
        ignore_label: int | None = None,
    ) -> None:
        super().__init__(name=name)
        if not isinstance(taps, TapSpec):
            taps = TapSpec(candidates=None if taps is None else tuple(taps))
        training = training or TrainingSpec()
        for setting, value in {
            "task": task, "penalty": taps.penalty, "off_after": taps.off_after,
            "optimizer": training.optimizer, "learning_rate": training.learning_rate,
            "batch_size": training.batch_size, "max_epochs": max_epochs, "seed": seed,
            "steps_per_execution": steps_per_execution, "ignore_label": ignore_label,
        }.items():
            check(setting, value)
        self.build_model = build_model
        self.seed = seed
        self.paired = False  # see `seeded`
        self._checked: tuple[Any, ...] | None = None  # see `_labels`
        self.task: Task = TASKS[task]
        self.trainer = Trainer(
            build_model, self.task, taps, training,
            objective or kt.Objective(names.objective_name(self.task.metric),
                                      self.task.direction),
            hints, max_epochs, num_classes, steps_per_execution, ignore_label)

    @property
    def objective(self) -> kt.Objective:
        """The objective: the main output's validation metric for the task."""
        return self.trainer.objective

    @property
    def taps(self) -> list[Tap]:
        """The candidate taps, in the model's order."""
        return self.trainer.taps

    @property
    def space(self) -> TapSpace:
        """The tap space: the hyperparameters and what they decode to."""
        return self.trainer.space

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
        hp.ensure_active_values()  # values may leave out what a tap they switch on makes active
        return hp

    def seeded(self, seed: int, paired: bool = False) -> AuxLossHyperModel:
        """Returns this HyperModel with another seed; this one is left as it is.

        The copy shares the compiled models. It draws each configuration's
        initial weights and batch order from `seed` and the configuration;
        with `paired`, from `seed` alone, so configurations trained with one
        seed differ only by their taps (confirmation pairs them so).
        """
        twin = copy_hypermodel(self)
        twin.seed, twin.paired = seed, paired
        return twin

    def trial_seed(self, hp: kt.HyperParameters) -> int:
        """The seed of a configuration's weights and batch order (see `seeded`)."""
        return self.seed if self.paired else configuration_seed(self.seed, hp.values)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """Returns the trial's compiled model, from fresh weights drawn from `trial_seed`.

        Later builds reuse the compiled model once `fit()` has trained it
        (see `traced.TracedModels`).

        Raises:
            FatalTrialError: If the builder breaks its contract.
        """
        try:
            return self.trainer.model(hp, self.trial_seed(hp))
        except AuxSearchError as err:
            raise FatalTrialError(err) from err

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any = None,
            validation_data: Any = None, callbacks: list[Any] | None = None,
            **kwargs: Any) -> keras.callbacks.History:
        """Trains the model with the labels routed to every output.

        `y` is the label array, or a dict `{"main": labels, "hint/<layer>":
        targets}` when hints are searched; `validation_data` likewise. Labels
        that do not fit the task are refused before training, in one line.
        A loss that becomes NaN or infinite stops training at once and fails
        the trial (`keras_tuner.errors.FailedTrialError`, with the epoch).
        Arrays are batched and shuffled with the configuration's seed, so a
        trial trains the same way whatever ran before it. Each auxiliary
        weight follows its schedule from the absolute epoch. The returned
        history also holds the trial's report (see `report`).

        Raises:
            FatalTrialError: If the labels do not fit the task or the model.
        """
        y, validation_data = self._labels(x, y, validation_data)
        checkpoint, others = None, []
        for callback in callbacks or []:  # the trainer writes the best epoch's checkpoint
            if isinstance(callback, SaveBestEpoch):
                checkpoint = callback.filepath
            else:
                others.append(callback)
        trial = PackedTrial(hp, self.trial_seed(hp), checkpoint=checkpoint)
        return self.trainer.fit(trial, model, x, y, validation_data, others, **kwargs)

    def fit_packed(self, trials: Sequence[PackedTrial], x: Any, y: Any,
                   **kwargs: Any) -> tuple[list[keras.callbacks.History | Exception],
                                           PackedModel]:
        """Trains several trials at once, each as `fit` would alone.

        Args:
            trials: `PackedTrial`s: hyperparameters, seed, parent and checkpoint.
            x, y: Training arrays, as `fit` takes them.
            **kwargs: Those of `Trainer.fit_pack`.

        Returns:
            Each trial's `History` or error, and the packed model.

        Raises:
            FatalTrialError: If the builder breaks its contract, or labels do not fit.
        """
        y, kwargs["validation_data"] = self._labels(x, y, kwargs.get("validation_data"))
        try:
            return self.trainer.fit_pack(trials, x, y, **kwargs)
        except AuxSearchError as err:
            raise FatalTrialError(err) from err

    def _labels(self, x: Any, y: Any, validation_data: Any) -> tuple[Any, Any]:
        """The labels checked, one-hot taken as classes (once per search's arrays)."""
        given = (x, y, validation_data)
        if self._checked and all(a is b for a, b in zip(self._checked, given)):
            return self._checked[3]
        try:
            checked = self.trainer.check_labels(x, y, validation_data)
        except AuxSearchError as err:
            raise FatalTrialError(err) from err
        self._checked = (*given, checked)
        return checked
