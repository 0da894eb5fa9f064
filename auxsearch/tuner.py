"""Hyperband that always trains the no-tap baseline to the full budget."""

from __future__ import annotations

import os
from typing import Any, Callable

import keras_tuner as kt

from auxsearch.files import save_json
from auxsearch.hypermodel import AuxLossHyperModel

# Called after each trial with the finished trial and the oracle (all trials).
TrialHook = Callable[[kt.engine.trial.Trial, kt.Oracle], None]


class BaselineHyperbandOracle(kt.oracles.HyperbandOracle):
    """A `HyperbandOracle` whose search always includes the baseline.

    The baseline is the configuration with every hyperparameter at its
    default, for `AuxLossHyperModel` the one with no tap active. It takes the
    first place of the last bracket of the first iteration, the bracket whose
    trials all train for `max_epochs`, so every search answers "do taps help
    at all?" at the full budget. Random sampling never proposes it again.

    Args:
        *args, **kwargs: Those of `keras_tuner.oracles.HyperbandOracle`.
        config_key: Optional callable from hyperparameter values to what
            identifies a configuration (e.g. `AuxLossHyperModel.config_key`),
            or `None` for values that are not a valid configuration. Values
            with the same key count as already tried; invalid ones are never
            proposed.
    """

    _INVALID = "<invalid configuration>"

    def __init__(
        self, *args: Any, config_key: Callable[[dict], str | None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.baseline_scheduled = False
        self.config_key = config_key

    def baseline_values(self) -> dict[str, Any]:
        """Returns the baseline: every active hyperparameter at its default."""
        hps = kt.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
        return dict(hps.values)

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        # Reserve the baseline so that random sampling never picks it, and
        # mark invalid configurations as tried, so it never picks one either.
        self._tried_so_far.add(self._compute_values_hash(self.baseline_values()))
        self._tried_so_far.add(super()._compute_values_hash({self._INVALID: True}))
        return super().populate_space(trial_id)

    def _compute_values_hash(self, values: dict[str, Any]) -> str:
        if self.config_key is not None:
            key = self.config_key(values)
            values = {self._INVALID: True} if key is None else {"config": key}
        return super()._compute_values_hash(values)

    def _random_trial(self, trial_id: str, bracket: dict) -> dict[str, Any]:
        if bracket["bracket_num"] != 0 or self.baseline_scheduled:
            return super()._random_trial(trial_id, bracket)
        self.baseline_scheduled = True
        values = self.baseline_values()
        values["tuner/epochs"] = self._get_epochs(0, 0)
        values["tuner/initial_epoch"] = 0
        values["tuner/bracket"] = self._current_bracket
        values["tuner/round"] = 0
        bracket["rounds"][0].append({"past_id": None, "id": trial_id})
        return {"status": "RUNNING", "values": values}

    def save(self) -> None:
        # Trials are saved in their own files, as Keras Tuner does; atomically.
        save_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial: kt.engine.trial.Trial) -> None:
        path = os.path.join(self._get_trial_dir(trial.trial_id), "trial.json")
        save_json(path, trial.get_state())

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["baseline_scheduled"] = self.baseline_scheduled
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.baseline_scheduled = state.get("baseline_scheduled", False)


class Hyperband(kt.Hyperband):
    """Keras Tuner's `Hyperband`, with the baseline always trained in full.

    Takes the arguments of `keras_tuner.Hyperband`; the objective defaults to
    the HyperModel's. `on_trial_end`, when given, is called with each
    finished `Trial` and the oracle (for progress reports).
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
        **kwargs: Any,
    ) -> None:
        oracle = BaselineHyperbandOracle(
            objective or hypermodel.objective,
            max_epochs=max_epochs,
            factor=factor,
            hyperband_iterations=hyperband_iterations,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            config_key=getattr(hypermodel, "config_key", None),
        )
        # Skip kt.Hyperband.__init__, which would build a plain oracle.
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self._on_trial_end = on_trial_end

    def save(self) -> None:
        # As Keras Tuner's, but every state file is replaced atomically: a
        # search killed at any moment can be resumed.
        if not self._is_worker():
            self.oracle.save()
        save_json(self._get_tuner_fname(), self.get_state())

    def _populate_initial_space(self) -> None:
        # Keras Tuner builds the model once per conditional scope to discover
        # the space; `sample_taps` declares every hyperparameter, the
        # conditional weights included, without building anything.
        hp = self.oracle.get_space()
        self.hypermodel.sample_taps(hp)
        self.oracle.update_space(hp)

    def _try_build(self, hp: kt.HyperParameters) -> Any:
        # Keras Tuner clears the Keras session before every build, which also
        # empties TensorFlow's kernel caches; the HyperModel reuses its traced
        # model across trials, so there is nothing to clear.
        return self._build_hypermodel(hp)

    def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
        super().on_trial_end(trial)
        if self._on_trial_end:
            self._on_trial_end(self.oracle.get_trial(trial.trial_id), self.oracle)


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
    oracle = kt.oracles.HyperbandOracle(
        kt.Objective("score", "max"), max_epochs=max_epochs, factor=factor
    )
    trials = epochs = 0
    for bracket in range(oracle._get_num_brackets()):
        for round_num in range(bracket + 1):
            size = oracle._get_size(bracket, round_num)
            start = oracle._get_epochs(bracket, round_num - 1) if round_num else 0
            trials += size
            epochs += size * (oracle._get_epochs(bracket, round_num) - start)
    return trials * hyperband_iterations, epochs * hyperband_iterations


