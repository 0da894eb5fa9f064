"""The trainer: trial models of one user model and tap space, and the one fit.

`Trainer` assembles the trial models (`assembly`), keeps the compiled ones
(`traced` for one trial, `packed` for K) and trains a group of trials
through one routine, `_train`: one trial as Keras Tuner's `fit` contract
hands it over (`fit`), or K at once in a packed model (`fit_pack`). Batch
size, validation batch, loss weight schedules, logs, best epoch, NaN stop,
checkpoints and each trial's report are written once, there and in
`records.TrialRecords`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from auxsearch.core.errors import AuxSearchError
from auxsearch.core.names import MAIN, output_name
from auxsearch.core.rules import fail
from auxsearch.core.space import TapSpec, TrainingSpec
from auxsearch.core.tapspace import AuxLoss, TapSpace
from auxsearch.core.tasks import Task
from auxsearch.data.labels import prepare_labels, prepare_validation
from auxsearch.models.taps import map_rank, select_taps
from auxsearch.trial import routing
from auxsearch.trial.assembly import Assembly, check_names, fresh_model
from auxsearch.trial.packed import PackedModel, PackedModels
from auxsearch.trial.records import TrialRecords
from auxsearch.trial.report import add_report, chance_score
from auxsearch.trial.traced import TracedModel, TracedModels, build_metrics, seeded

# Up to this many auxiliary outputs, one compiled model holds them all (see
# `traced`); with more, each configuration gets a model with only its own.
MAX_TRACED_OUTPUTS = 32


@dataclasses.dataclass
class PackedTrial:
    """One trial of a group that trains at once.

    Attributes:
        hp: Its hyperparameters.
        seed: The seed of its initial weights and batch order.
        parent: A checkpoint to start from (a promotion), or `None`.
        checkpoint: Where its best epoch's weights go, or `None`.
    """

    hp: kt.HyperParameters
    seed: int
    parent: str | None = None
    checkpoint: str | None = None


class Trainer:
    """Builds and trains the trial models of one user model, for one tap space.

    Args:
        build_model: The user's builder: a new, uncompiled model per call.
        task: The task, from `tasks.TASKS`.
        taps: The tap space's settings (`space.TapSpec`).
        training: The training settings (`space.TrainingSpec`); `pack` is
            the search's business, not the trainer's.
        objective: The `keras_tuner.Objective` that decides each trial's best epoch.
        hints: The shape of one example's hint targets, by layer.
        max_epochs: The epochs the schedules follow (default: each fit's).
        num_classes: Optional integer to check the model's output against.
        steps_per_execution: Integer, training steps per traced call.
        ignore_label: The label of positions that count in no loss and no
            metric (a per-position task), or `None`.

    Raises:
        SpaceError: If a setting is not allowed (see `rules`).
        TapError: If a tap names or matches no candidate layer.
        ModelError: If the builder breaks its contract.
    """

    def __init__(
        self,
        build_model: Callable[[], keras.Model],
        task: Task,
        taps: TapSpec,
        training: TrainingSpec,
        objective: kt.Objective,
        hints: dict[str, tuple[int, ...]] | None = None,
        max_epochs: int | None = None,
        num_classes: int | None = None,
        steps_per_execution: int = 16,
        ignore_label: int | None = None,
    ) -> None:
        self.task = task
        self.ignore_label = ignore_label
        self.training = training
        self.objective = objective
        self.hints = {layer: tuple(shape) for layer, shape in (hints or {}).items()}
        self.off_after = taps.off_after
        self.max_epochs = max_epochs
        model = fresh_model(build_model)
        self.taps = select_taps(model, taps.candidates, map_rank(model, task))
        self.assembly = Assembly(build_model, model, task, self.taps, self.hints, taps.penalty,
                                 training.optimizer, training.learning_rate,
                                 steps_per_execution, num_classes, ignore_label)
        _check_ignore_label(ignore_label, task, self.units)
        self.space = TapSpace([tap.name for tap in self.taps], taps.weight_range, taps.kinds,
                              taps.schedules, taps.head_units, tuple(self.hints),
                              taps.max_taps or None)
        variants = self.space.variants()
        check_names(model, [output_name(*v) for v in variants])
        every = variants if len(variants) <= MAX_TRACED_OUTPUTS else None
        self.models = TracedModels(self.assembly.model, self.assembly.compile_args, every)
        # Packing needs one model that serves every configuration.
        self.packs = None if every is None else PackedModels(
            functools.partial(self.assembly.model, variants),
            functools.partial(self.assembly.compile_args, variants))
        self._started = time.perf_counter()

    @property
    def units(self) -> int:
        """The width of the model's main output: its classes, 1, or its targets."""
        return self.assembly.units

    def check_labels(self, x: Any, y: Any, validation_data: Any) -> tuple[Any, Any]:
        """`fit()`'s labels and validation data checked against the model's output.

        One-hot labels become classes (see `labels.prepare_labels`).

        Raises:
            DataError: If the labels do not fit the task or the model.
        """
        a = self.assembly
        facts = {"units": a.units, "positions": a.positions, "ignore_label": a.ignore_label}
        return (prepare_labels(self.task, y, x=x, **facts),
                prepare_validation(self.task, validation_data, **facts))

    def batch_size(self, given: int | None = None) -> int:
        """The examples per training batch: `fit`'s if given, else the settings'."""
        return given or self.training.batch_size

    def losses(self, hp: kt.HyperParameters) -> list[AuxLoss]:
        """Declares the tap hyperparameters on `hp`; returns its auxiliary losses."""
        return list(self.space.declare(hp).values())

    def model(self, hp: kt.HyperParameters, seed: int) -> keras.Model:
        """Returns the trial's compiled model, with fresh weights drawn from `seed`.

        Up to `MAX_TRACED_OUTPUTS` possible auxiliary outputs, the model
        holds all of them; an inactive one's loss weight is 0, so it has no
        effect on training. Later calls reuse the compiled model once it has
        been trained (see `traced.TracedModels`).
        """
        self._started = time.perf_counter()
        losses = self.losses(hp)
        return self.models.get([loss.variant for loss in losses], seed,
                               {loss.output: loss.weight for loss in losses}).model

    def router(self, output_names: list[str]) -> Callable[[Any], dict[str, Any]]:
        """Returns what routes labels to each of a trial model's outputs (`routing.targets`)."""
        every = self.models.every
        return functools.partial(routing.targets, output_names=output_names,
                                 structure=self.models.structure if every is None else every,
                                 hint_layers=tuple(self.hints))

    def fit(self, trial: PackedTrial, model: keras.Model, x: Any, y: Any = None,
            validation_data: Any = None, callbacks: Sequence[Any] = (),
            **kwargs: Any) -> keras.callbacks.History:
        """Trains one trial's model (from `model`), as Keras Tuner's `fit` contract asks.

        Arrays are batched and shuffled with the trial's seed; a dataset or
        a `validation_split` is left to Keras. The given callbacks run after
        the trial's records, so they read its own logs.

        Raises:
            keras_tuner.errors.FailedTrialError: If its loss became NaN or infinite.
        """
        group = self.models.owns(model)
        if group is None:
            raise AuxSearchError("fit takes the model that build() returned last")
        route = self.router(list(model.output_names))
        batch_size = self.batch_size(kwargs.pop("batch_size", None))
        data, kwargs = routing.fit_inputs(x, y, route, batch_size, trial.seed, kwargs)
        validation = routing.route_validation(validation_data, route,
                                              routing.validation_batch(batch_size))
        self._build_metrics(group, x, y, route)
        [result] = self._train(group, group.save, [trial], data, validation,
                               validation_data, callbacks=list(callbacks), **kwargs)
        self.models.trained(model)  # the next build assigns fresh weights anyway
        if isinstance(result, Exception):
            raise result
        return result

    def fit_pack(self, trials: Sequence[PackedTrial], x: Any, y: Any,
                 validation_data: Any = None, epochs: int = 1, initial_epoch: int = 0,
                 batch_size: int | None = None, verbose: int = 0,
                 pack: int | None = None) -> tuple[list[keras.callbacks.History | Exception],
                                                   PackedModel]:
        """Trains a group of trials at once, each as `fit` would alone.

        Each copy of the packed model starts from its trial's fresh weights
        (drawn from its seed, as unpacked) or its parent's checkpoint, and
        reads its own stream of batches (the same seed). A copy whose loss
        diverges is switched off and fails; the others train on.

        Args:
            trials: The group, at most the largest pack.
            x, y: Training arrays, as `fit` takes them.
            validation_data: `(x, y)` arrays, or `None`.
            epochs, initial_epoch: As `keras.Model.fit`'s, the same for all.
            batch_size: Integer, examples per batch (see `batch_size`).
            verbose: Keras' verbosity.
            pack: Integer, the copies of a packed model to build when none of
                the traced ones is large enough (default: the group's size).
                The smallest traced one that is large enough is used: a
                group smaller than it leaves copies unused, and traces nothing.

        Returns:
            Each trial's `History` with its report (see `report`), or the
            `FailedTrialError` of a loss that diverged; and the packed
            model, each copy at its last epoch.

        Raises:
            AuxSearchError: If the space has too many outputs to pack.
        """
        packs = self.packs
        if packs is None:
            raise AuxSearchError(
                f"{len(self.space.variants())} possible auxiliary outputs are more than "
                f"the {MAX_TRACED_OUTPUTS} a packed model holds; train unpacked (pack = 1)")
        self._started = time.perf_counter()
        size = min((k for k in packs.models if k >= len(trials)), default=pack or len(trials))
        group = packs.get(max(size, len(trials)))
        values = [packs.load(t.parent) if t.parent else self.fresh_weights(t.seed)
                  for t in trials]
        # Unused copies get finite weights (a failed copy's may be NaN); their losses stay off.
        group.start(values + [values[0]] * (group.size - len(trials)))
        for i in range(len(trials)):
            group.switch_on(i)
        batch_size = self.batch_size(batch_size)
        route = self.router(group.output_names)
        self._build_metrics(group, x, y, route, group.size)
        seeds = [t.seed for t in trials] + [None] * (group.size - len(trials))
        data = routing.packed_batches(x, route(y), batch_size, seeds)
        validation = None if validation_data is None else routing.packed_batches(
            validation_data[0], route(validation_data[1]),
            routing.validation_batch(batch_size), [None] * group.size)
        results = self._train(group, packs.save, trials, (data,), validation, validation_data,
                              epochs=epochs, initial_epoch=initial_epoch, verbose=verbose,
                              shuffle=False)
        return results, group

    @property
    def checkpoint_model(self) -> keras.Model:
        """A trial model of the format every checkpoint has, packed or not."""
        return self.packs.template.model if self.packs else self.models.current.model

    def fresh_weights(self, seed: int) -> list[np.ndarray]:
        """A trial's initial weights: a fresh model's, drawn as `traced` draws them."""
        with seeded(seed):
            return self.packs.make().get_weights()

    @staticmethod
    def _build_metrics(group: TracedModel | PackedModel, x: Any, y: Any,
                       route: Callable[[Any], dict[str, Any]], copies: int = 0) -> None:
        """Before a model's first fit, on its first example (see `traced.build_metrics`).

        A fit on a dataset leaves it to Keras.
        """
        if group.model.train_function is None:
            batch = routing.first_example(x, y, route, copies)
            if batch is not None:
                build_metrics(group.model, batch)

    def _train(self, group: TracedModel | PackedModel, save: Callable[..., None],
               trials: Sequence[PackedTrial], data: tuple[Any, ...], validation: Any,
               validation_data: Any,
               callbacks: list[Any] | None = None,
               **kwargs: Any) -> list[keras.callbacks.History | Exception]:
        """The one fit: trains `group`, one copy per trial; returns each one's result.

        Each trial's result is its `History` (its own logs, with its report,
        and its best epoch's weights in its checkpoint, written by `save`)
        or the error it failed with. A trial alone ends at its best epoch's
        weights where it has a checkpoint, as Keras Tuner's does.
        """
        losses = [self.losses(trial.hp) for trial in trials]
        records = TrialRecords(group, losses, self.objective,
                               self.max_epochs or kwargs.get("epochs", 1), self.off_after,
                               keep=[trial.checkpoint is not None for trial in trials])
        fitted = time.perf_counter()
        group.model.fit(*data, validation_data=validation,
                        callbacks=[records, *(callbacks or [])], **kwargs)
        done = time.perf_counter()
        chance = chance_score(self.task, self.objective.name, validation_data, self.ignore_label)
        share = len(trials)
        results: list[keras.callbacks.History | Exception] = []
        for i, trial in enumerate(trials):
            if i in records.failed:
                results.append(records.failed[i])
                continue
            if trial.checkpoint and records.state[i] is not None:
                save(records.state[i], trial.checkpoint,
                     {k: w for k, w in records.weights[i].items() if k != MAIN})
            history = keras.callbacks.History()
            history.history, history.epoch = records.history[i], records.epochs[i]
            add_report(history, self.objective.name, kwargs.get("initial_epoch", 0), chance,
                       (done - fitted) / share, (done - self._started) / share)
            results.append(history)
        return results


def _check_ignore_label(ignore_label: int | None, task: Task, units: int) -> None:
    """An ignore label is for labels per position, and is none of the model's classes.

    Raises:
        SpaceError: `ignore_label must be ...; got ...`.
    """
    if ignore_label is not None and not task.positions:
        fail("ignore_label", "None for a task with one label per example (it is for "
             "segmentation)", ignore_label)
    classes = max(units, 2)
    if ignore_label is not None and 0 <= ignore_label < classes:
        fail("ignore_label", f"outside the model's classes 0..{classes - 1} (a class's "
             "positions would count in no loss), e.g. 255", ignore_label)
