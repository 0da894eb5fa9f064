"""Hyperband that always trains the no-tap baseline to the full budget."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras_tuner as kt
import numpy as np

from auxsearch.core import names, rules
from auxsearch.core.observations import Observation, observe
from auxsearch.core.space import HyperbandSpec
from auxsearch.kt.loop import HyperbandTunerBase
from auxsearch.kt.oracle import HyperbandOracleBase, hyperband_brackets
from auxsearch.packing.policy import resolve_pack
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.search.sampler import TapSampler
from auxsearch.trial import checkpoints
from auxsearch.trial.trainer import PackedTrial

_INVALID = "<invalid configuration>"  # the identity of every invalid configuration

# Called after each trial with the finished trial and the oracle (all trials).
TrialHook = Callable[[kt.engine.trial.Trial, kt.Oracle], None]


class BaselineHyperbandOracle(HyperbandOracleBase):
    """A `HyperbandOracle` whose search always includes the baseline.

    The baseline is the configuration with every hyperparameter at its
    default, for `AuxLossHyperModel` the one with no tap active. It takes the
    first place of the last bracket of the first iteration, the bracket whose
    trials all train for `max_epochs`, so every search answers "do taps help
    at all?" at the full budget. Random sampling never proposes it again.

    A search whose trials fail `max_consecutive_failed_trials` times in a
    row ends with `SearchFailed` (see `auxsearch.kt`'s `HyperbandOracleBase`).

    Args:
        *args, **kwargs: Those of `keras_tuner.oracles.HyperbandOracle`.
        config_key: Optional callable from hyperparameter values to what
            identifies a configuration (e.g. `AuxLossHyperModel.config_key`),
            or `None` for values that are not a valid configuration. Values
            with the same key count as already tried; invalid ones are never
            proposed.
        sampler: Optional `TapSampler` that proposes each new configuration
            from the results so far (`[hyperband] sampler = "model"`);
            `None`: Keras Tuner's random sampling.
    """

    def __init__(
        self, *args: Any, config_key: Callable[[dict], str | None] | None = None,
        sampler: TapSampler | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.baseline_scheduled = False
        self.config_key = config_key
        self.sampler = sampler
        self._results: dict[str, Observation] = {}  # each finished trial, read once
        self._keys: dict[frozenset, dict[str, Any]] = {}  # each values' identity, once

    def baseline_values(self) -> dict[str, Any]:
        """Returns the baseline: every active hyperparameter at its default."""
        space = self.hyperparameters.space
        if getattr(self, "_baseline", (None,))[0] != len(space):  # the space only grows
            hps = kt.HyperParameters()
            for hp in space:
                hps.merge([hp])
            self._baseline = len(space), dict(hps.values)
        return dict(self._baseline[1])

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        # Reserve the baseline so that random sampling never picks it, and
        # mark invalid configurations as tried, so it never picks one either.
        self.mark_tried(self.identity(self.baseline_values()))
        self.mark_tried({_INVALID: True})
        return super().populate_space(trial_id)

    def identity(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.config_key is None:
            return values
        # Keras Tuner asks again for every proposal it checks: each values' key once.
        seen = frozenset(values.items())
        if seen not in self._keys:
            key = self.config_key(values)
            self._keys[seen] = {_INVALID: True} if key is None else {"config": key}
        return self._keys[seen]

    def scheduled_values(self, bracket: int) -> dict[str, Any] | None:
        if bracket == 0 and not self.baseline_scheduled:
            self.baseline_scheduled = True
            return self.baseline_values()
        if self.sampler is None:
            return None
        # Drawn from the trials so far alone, so a resumed search proposes the same.
        rng = np.random.default_rng([self.seed, len(self.trials)])
        return self.sampler.propose(observations(self, self._results), rng,
                                    lambda values: not self.is_tried(values))

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["baseline_scheduled"] = self.baseline_scheduled
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.baseline_scheduled = state.get("baseline_scheduled", False)


def observations(oracle: kt.Oracle, cache: dict[str, Observation] | None = None
                    ) -> list[Observation]:
    """The finished trials of an oracle, as a `TapSampler` reads them.

    A failed trial, and one that learnt nothing (no better than its chance
    score, when it reported one), has no score.

    Args:
        oracle: The oracle.
        cache: Optional results already read, by trial id (filled here: a
            finished trial does not change).
    """
    cache = {} if cache is None else cache
    for trial in oracle.trials.values():  # (in trial order below: a reload lists them so too)
        if trial.trial_id in cache or trial.status not in ("COMPLETED", "FAILED"):
            continue
        chance = (trial.metrics.get_last_value(names.CHANCE_SCORE)
                  if trial.metrics.exists(names.CHANCE_SCORE) else None)
        values = {names.EPOCHS: oracle.max_epochs, **trial.hyperparameters.values}
        cache[trial.trial_id] = observe(values, trial.status == "COMPLETED", trial.score, chance,
                                        oracle.objective.direction)
    return [cache[t] for t in sorted(oracle.trials) if t in cache]


class Hyperband(HyperbandTunerBase):
    """Keras Tuner's `Hyperband`, with the baseline always trained in full.

    Takes the arguments of `keras_tuner.Hyperband`; the objective defaults to
    the HyperModel's. `on_trial_end`, when given, is called with each
    finished `Trial` and the oracle (for progress reports). Every state file
    is written atomically, and the space is declared without building a
    model (see `auxsearch.kt`'s `HyperbandTunerBase`).

    With `sampler="model"` (the default, as a space file's), each new
    configuration is proposed by a `TapSampler` from the results so far;
    `"random"` samples as Keras Tuner does.

    With `pack=K` (or `"auto"`: see `packing.choose_pack`), up to K trials
    with the same epochs train at once in one packed model (see `packing`),
    each reported to the oracle as if it had trained alone. Hyperband's
    bookkeeping is the same as unpacked: a round is promoted from once none
    of its trials runs (see `auxsearch.kt`'s `HyperbandOracleBase`).

    Keras Tuner prints each failed trial's traceback unless told otherwise:
    see `auxsearch.kt`'s `show_tracebacks`.
    """

    def __init__(
        self,
        hypermodel: AuxLossHyperModel,
        objective: kt.Objective | None = None,
        max_epochs: int = 9,
        factor: int = 3,
        hyperband_iterations: int = 1,
        seed: int | None = None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        on_trial_end: TrialHook | None = None,
        pack: int | str = 1,
        sampler: str = HyperbandSpec.sampler,
        **kwargs: Any,
    ) -> None:
        rules.check("sampler", sampler)
        objective = objective or hypermodel.objective
        oracle = BaselineHyperbandOracle(
            objective,
            max_epochs=max_epochs,
            factor=factor,
            hyperband_iterations=hyperband_iterations,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            config_key=getattr(hypermodel, "config_key", None),
            sampler=(TapSampler(hypermodel.space, objective.direction == "max")
                     if sampler == "model" else None),
        )
        super().__init__(oracle, hypermodel, **kwargs)
        self.trial_hook = on_trial_end
        self.pack = rules.check("pack", pack)
        self.packed = 1  # the pack the search uses (see `slots`)

    def declare_space(self, hp: kt.HyperParameters) -> None:
        # The HyperModel declares every hyperparameter, the conditional
        # weights included, without building anything.
        self.hypermodel.declare(hp)

    def load_checkpoint(self, model: Any, trial_id: str) -> None:
        # The weights alone (see `trial.checkpoints`): a promotion starts
        # with a fresh optimizer, as Keras Tuner's did before Keras 3, and as
        # a packed one must (its copies share one step counter).
        checkpoints.read(model, self.checkpoint_path(trial_id))

    def slots(self, x: Any = None, y: Any = None, **fit_kwargs: Any) -> int:
        self.packed = resolve_pack(self.hypermodel.trainer, self.pack, x, y, fit_kwargs)
        return self.packed

    def train_together(self, trials: list[kt.engine.trial.Trial], x: Any = None, y: Any = None,
                       **fit_kwargs: Any) -> dict[str, Any]:
        hm = self.hypermodel
        group = [PackedTrial(
            t.hyperparameters, hm.trial_seed(t.hyperparameters),
            parent=(self.checkpoint_path(t.hyperparameters.values[names.PARENT])
                    if names.PARENT in t.hyperparameters.values else None),
            checkpoint=self.checkpoint_path(t.trial_id)) for t in trials]
        values = trials[0].hyperparameters.values
        results, packed = hm.fit_packed(
            group, x, y, validation_data=fit_kwargs.get("validation_data"),
            epochs=values.get(names.EPOCHS, 1), initial_epoch=values.get(names.INITIAL_EPOCH, 0),
            batch_size=fit_kwargs.get("batch_size"), verbose=fit_kwargs.get("verbose", 0),
            pack=self.packed)
        for trial in trials:
            self.save_build_config(trial.trial_id, hm.trainer.checkpoint_model)
        return {t.trial_id: r if isinstance(r, Exception) else [r]
                for t, r in zip(trials, results)}

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        try:  # the oracle may end the search here (`SearchFailed`): report first
            super().on_trial_end(trial)
        finally:
            if self.trial_hook:
                self.trial_hook(self.oracle.get_trial(trial.trial_id), self.oracle)


def hyperband_budget(
    max_epochs: int, factor: int, hyperband_iterations: int = 1
) -> tuple[int, int]:
    """Returns the trials and epochs a Keras Tuner Hyperband search plans.

    Follows `keras_tuner.oracles.HyperbandOracle`: bracket `b` has `b + 1`
    rounds, each rounded up on its own; a promoted trial trains only the
    epochs its parent did not.

    Args:
        max_epochs: Integer, the most epochs one configuration trains.
        factor: Integer, Hyperband's reduction factor, at least 2.
        hyperband_iterations: Integer, how often the brackets are repeated.

    Returns:
        A tuple `(trials, epochs)` for the whole search.
    """
    trials = epochs = 0
    for rounds in hyperband_brackets(max_epochs, factor):
        start = 0
        for size, end in rounds:
            trials += size
            epochs += size * (end - start)
            start = end
    return trials * hyperband_iterations, epochs * hyperband_iterations
