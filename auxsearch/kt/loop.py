"""Keras Tuner's Hyperband tuner on a given oracle, and its search loop.

`HyperbandTunerBase` runs Keras Tuner's search loop holding several trials at
once (for packed training, and as a worker does), with public hooks for what
auxsearch's tuner adds: declaring the space at once, training trials
together, reading a checkpoint.
"""

from __future__ import annotations

import time
from typing import Any

import keras_tuner as kt
from keras_tuner.src.distribute import utils as _dist

from auxsearch.core import names
from auxsearch.kt.bookkeeping import running_trials
from auxsearch.kt.oracle import Trial
from auxsearch.kt.project import (
    checkpoint_path,
    save_build_config,
    save_tuner_state,
)

__all__ = ["IDLE_PAUSE", "HyperbandTunerBase"]

IDLE_PAUSE = 0.5  # a worker's pause when the oracle has no trial for it yet

_FAILED = kt.engine.trial.TrialStatus.FAILED
_IDLE = kt.engine.trial.TrialStatus.IDLE
_STOPPED = kt.engine.trial.TrialStatus.STOPPED


class HyperbandTunerBase(kt.Hyperband):
    """Keras Tuner's `Hyperband` on a given oracle, with public hooks.

    - It runs on `oracle` (`keras_tuner.Hyperband` would build a plain one).
    - `declare_space(hp)` declares the whole search space at once (Keras
      Tuner builds the model once per conditional scope to discover it).
    - The Keras session is not cleared before each build: the HyperModel
      reuses its traced model across trials, and clearing would also empty
      TensorFlow's kernel caches.
    - Its state file is replaced atomically (the oracle's are, too, with a
      `HyperbandOracleBase`): a search killed at any moment can be resumed.

    Args:
        oracle: The oracle.
        hypermodel: The HyperModel.
        **kwargs: Those of `keras_tuner.Tuner` (directory, project_name, ...).
    """

    def __init__(self, oracle: kt.Oracle, hypermodel: kt.HyperModel, **kwargs: Any) -> None:
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self._trained: dict[str, Any] = {}  # results of trials trained together

    def declare_space(self, hp: kt.HyperParameters) -> None:
        """Declares every hyperparameter of the search on `hp`."""
        raise NotImplementedError

    def slots(self, *fit_args: Any, **fit_kwargs: Any) -> int:
        """Returns how many trials to hold at once (default 1), at the search's start."""
        return 1

    def train_together(self, trials: list[Trial], *fit_args: Any,
                       **fit_kwargs: Any) -> dict[str, Any]:
        """Trains trials with the same epochs at once.

        Returns:
            By trial id, what `run_trial` returns for it (a list of one
            `History`), or the exception its trial fails with.
        """
        raise NotImplementedError

    def checkpoint_path(self, trial_id: str) -> str:
        """The path of a trial's best-epoch checkpoint, where Keras Tuner keeps it."""
        return checkpoint_path(self, trial_id)

    def save_build_config(self, trial_id: str, model: Any) -> None:
        """Saves a trial's build configuration, as Keras Tuner does after `fit`."""
        save_build_config(self, trial_id, model)

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """Keras Tuner's search loop, holding up to `slots()` trials at once.

        Each slot asks the oracle with its own tuner id (`<tuner id>-<k>`
        past the first), as distributed workers do, until the oracle has
        none to give (IDLE: it waits for results) or every slot holds one.
        The held trials with the same `tuner/initial_epoch` and
        `tuner/epochs` that are most numerous train together; the others
        wait for a later group. A trial a killed search held is handed
        back by the oracle to its slot's id, and redone.
        """
        if _dist.is_chief_oracle():  # a chief serves; Keras Tuner's own loop does that
            return super().search(*fit_args, **fit_kwargs)
        if "verbose" in fit_kwargs and not _dist.has_chief_oracle():
            self.oracle.verbose = fit_kwargs.get("verbose")
        slots = self._slot_ids(self.slots(*fit_args, **fit_kwargs))
        self.on_search_begin()
        held: dict[str, Trial] = {}
        while True:
            self.pre_create_trial()
            stopped = False
            for slot in slots:
                if slot in held:
                    continue
                trial = self.oracle.create_trial(slot)
                if trial.status in (_STOPPED, _IDLE):
                    stopped = trial.status == _STOPPED
                    break
                held[slot] = trial
            if not held:
                if stopped:
                    break
                time.sleep(IDLE_PAUSE)  # other workers' trials must end first
                continue
            group = _largest_group(list(held.values()))
            held = {slot: t for slot, t in held.items() if t not in group}
            self._run_group(group, *fit_args, **fit_kwargs)
        self.on_search_end()

    def run_trial(self, trial: Trial, *fit_args: Any, **fit_kwargs: Any) -> Any:
        if trial.trial_id not in self._trained:
            return super().run_trial(trial, *fit_args, **fit_kwargs)
        result = self._trained.pop(trial.trial_id)
        if isinstance(result, BaseException):
            raise result
        return result

    def _run_group(self, group: list[Trial], *fit_args: Any, **fit_kwargs: Any) -> None:
        """Trains a group; reports each trial as Keras Tuner reports one."""
        if len(group) > 1:
            try:
                self._trained = self.train_together(group, *fit_args, **fit_kwargs)
            except Exception as err:  # fatal, or e.g. out of memory: it is every trial's
                self._trained = dict.fromkeys((t.trial_id for t in group), err)
        for i, trial in enumerate(group):
            try:
                self.on_trial_begin(trial)
                self._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)
                self.on_trial_end(trial)
            except kt.errors.FatalError as err:
                for other in group[i + 1:]:  # the group ends with the search
                    other.status, other.message = _FAILED, f"{type(err).__name__}: {err}"
                    self.oracle.end_trial(other)
                self._trained = {}
                raise

    def _slot_ids(self, count: int) -> list[str]:
        """The tuner ids of the slots; and of any slot a killed search held beyond them."""
        own = [self.tuner_id] + [f"{self.tuner_id}-{k}" for k in range(1, count)]
        ongoing = running_trials(self.oracle)  # a worker's client has none
        return own + sorted(slot for slot in ongoing
                            if slot.startswith(f"{self.tuner_id}-") and slot not in own)

    def save(self) -> None:
        if not self._is_worker():
            self.oracle.save()
        save_tuner_state(self)

    def _populate_initial_space(self) -> None:
        hp = self.oracle.get_space()
        self.declare_space(hp)
        self.oracle.update_space(hp)

    def load_checkpoint(self, model: Any, trial_id: str) -> None:
        """Loads a trial's checkpoint into a model, as Keras Tuner does by default."""
        model.load_weights(self.checkpoint_path(trial_id))

    def _build_hypermodel(self, hp: kt.HyperParameters) -> Any:
        # Keras Tuner's Hyperband loads a promotion's parent here with
        # `load_weights`: through `load_checkpoint` instead.
        model = kt.Tuner._build_hypermodel(self, hp)
        if names.PARENT in hp.values:
            self.load_checkpoint(model, hp.values[names.PARENT])
        return model

    def load_model(self, trial: Trial) -> Any:
        # Keras Tuner's, with the checkpoint read through `load_checkpoint`.
        model = self._try_build(trial.hyperparameters)
        self.load_checkpoint(model, trial.trial_id)
        return model

    def _configure_tensorboard_dir(self, callbacks: list[Any], trial: Trial,
                                   execution: int = 0) -> None:
        # Keras Tuner imports TensorBoard's HParams plugin (0.3 s) for every
        # search; only a search with a TensorBoard callback uses it.
        if any(type(c).__name__ == "TensorBoard" for c in callbacks):
            super()._configure_tensorboard_dir(callbacks, trial, execution)

    def _try_build(self, hp: kt.HyperParameters) -> Any:
        # Keras Tuner's clears the Keras session first: the HyperModel
        # reuses its traced model, and clearing would drop it.
        return self._build_hypermodel(hp)

    def _try_run_and_update_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> None:
        # Keras Tuner lets a fatal error leave its trial RUNNING, so the CSVs
        # and a resume would show it as still going: end it as FAILED first.
        try:
            super()._try_run_and_update_trial(trial, *args, **kwargs)
        except kt.errors.FatalError as err:
            trial.status = _FAILED
            trial.message = f"{type(err).__name__}: {err}"
            self.oracle.end_trial(trial)
            raise


def _largest_group(trials: list[Trial]) -> list[Trial]:
    """The most numerous trials with the same epochs to train (the earliest on a tie)."""
    groups: dict[tuple[int, int], list[Trial]] = {}
    for trial in sorted(trials, key=lambda t: t.trial_id):
        values = trial.hyperparameters.values
        key = (values.get(names.INITIAL_EPOCH, 0), values.get(names.EPOCHS, 0))
        groups.setdefault(key, []).append(trial)
    return max(groups.values(), key=len)  # the first of the largest: insertion order
