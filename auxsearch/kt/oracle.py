"""Keras Tuner's Hyperband oracle with public hooks, and its bracket maths.

`HyperbandOracleBase` holds the Hyperband logic auxsearch builds on: which
configuration a trial trains, when a round is promoted from, when the search
has failed. `hyperband_brackets` gives the plan Keras Tuner follows.
"""

from __future__ import annotations

from typing import Any

import keras_tuner as kt

from auxsearch.core import names
from auxsearch.core.errors import SearchFailed
from auxsearch.kt.bookkeeping import oracle_lock
from auxsearch.kt.project import save_oracle_state, save_trial_state

__all__ = ["HyperbandOracleBase", "Trial", "hyperband_brackets"]

Trial = kt.engine.trial.Trial
_RUNNING = kt.engine.trial.TrialStatus.RUNNING
_FAILED = kt.engine.trial.TrialStatus.FAILED


def hyperband_brackets(max_epochs: int, factor: int) -> list[list[tuple[int, int]]]:
    """Returns one iteration of Keras Tuner's Hyperband plan.

    Args:
        max_epochs: Integer, the most epochs a trial trains for.
        factor: Integer, the reduction factor between a bracket's rounds.

    Returns:
        For each bracket, for each of its rounds, `(trials, epochs)`: how
        many trials the round trains, and up to which epoch.
    """
    oracle = kt.oracles.HyperbandOracle(
        kt.Objective("score", "max"), max_epochs=max_epochs, factor=factor
    )
    return [
        [(oracle._get_size(b, r), oracle._get_epochs(b, r)) for r in range(b + 1)]
        for b in range(oracle._get_num_brackets())
    ]


class HyperbandOracleBase(kt.oracles.HyperbandOracle):
    """Keras Tuner's `HyperbandOracle`, with public hooks and safer bookkeeping.

    - `identity(values)` says what identifies a configuration: values with
      the same identity count as tried once one of them was (`is_tried`);
      `mark_tried(identity)` marks one as tried without training it.
    - `scheduled_values(bracket)` may give the values of a bracket's next
      new trial instead of a random configuration.
    - The oracle's and the trials' state files are replaced atomically.
    - `create_trial`, `update_trial` and `end_trial` release the oracle
      lock even when they raise.
    - When `max_consecutive_failed_trials` trials failed in a row, the
      search ends with `SearchFailed` and a one-line reason (Keras Tuner
      raises a `RuntimeError` with the last traceback).

    Takes the arguments of `keras_tuner.oracles.HyperbandOracle`.
    """

    def identity(self, values: dict[str, Any]) -> dict[str, Any]:
        """Returns what identifies the configuration of `values` (default: them)."""
        return values

    def is_tried(self, values: dict[str, Any]) -> bool:
        """Whether a configuration of these values was tried (as `identity` says)."""
        return self._duplicate(values)

    def mark_tried(self, identity: dict[str, Any]) -> None:
        """Counts the configurations of this identity as tried."""
        self._tried_so_far.add(super()._compute_values_hash(identity))

    def scheduled_values(self, bracket: int) -> dict[str, Any] | None:
        """Returns values for a new trial of `bracket`, or `None` for random ones.

        Called for each new trial of a bracket's first round; bracket 0's
        trials train for `max_epochs` at once. Keras Tuner adds its own
        `tuner/...` values.
        """
        return None

    def create_trial(self, *args: Any, **kwargs: Any) -> Trial:
        with oracle_lock(self):
            return super().create_trial(*args, **kwargs)

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        # A round is promoted from only once none of its trials is running.
        # Keras Tuner promotes as soon as enough have completed, so with
        # several trials at once (packed, or workers) the promotions would
        # depend on which finished first; so they are those of one trial at
        # a time. A bracket waiting so is hidden from Keras Tuner's
        # `populate_space` (which then creates a new bracket, or says IDLE).
        brackets = list(self._brackets)
        waiting = [b for b in brackets if self._waiting(b)]
        self._brackets = [b for b in brackets if not any(b is w for w in waiting)]
        try:
            response = super().populate_space(trial_id)
            values = response.get("values") or {}
            if names.PARENT in values:  # Keras Tuner writes the newest bracket's number
                parent = self.trials[values[names.PARENT]].hyperparameters.values
                values[names.BRACKET] = parent.get(names.BRACKET, values[names.BRACKET])
            return response
        finally:
            kept = self._brackets  # less the completed ones, plus a new one
            self._brackets = [b for b in brackets
                              if any(b is k for k in kept) or any(b is w for w in waiting)]
            self._brackets += [b for b in kept if not any(b is o for o in brackets)]

    def _waiting(self, bracket: dict) -> bool:
        """Whether a bracket's next promotion waits for a running trial."""
        number, rounds = bracket["bracket_num"], bracket["rounds"]
        if len(rounds[0]) < self._get_size(number, 0):
            return False  # it still takes new configurations
        for r in range(1, len(rounds)):
            if len(rounds[r]) < self._get_size(number, r):
                return any(self.trials[info["id"]].status == _RUNNING
                           for info in rounds[r - 1])
        return False

    def update_trial(self, *args: Any, **kwargs: Any) -> Trial:
        with oracle_lock(self):
            return super().update_trial(*args, **kwargs)

    def end_trial(self, *args: Any, **kwargs: Any) -> None:
        with oracle_lock(self):
            super().end_trial(*args, **kwargs)

    def save(self) -> None:
        # Trials are saved in their own files, as Keras Tuner does; atomically.
        save_oracle_state(self)

    def _save_trial(self, trial: Trial) -> None:
        save_trial_state(self, trial)

    def _compute_values_hash(self, values: dict[str, Any]) -> str:
        return super()._compute_values_hash(self.identity(values))

    def _random_trial(self, trial_id: str, bracket: dict) -> dict[str, Any]:
        bracket_num = bracket["bracket_num"]
        values = self.scheduled_values(bracket_num)
        if values is None:
            return super()._random_trial(trial_id, bracket)
        values = dict(values)
        values[names.EPOCHS] = self._get_epochs(bracket_num, 0)
        values[names.INITIAL_EPOCH] = 0
        values[names.BRACKET] = self._current_bracket
        values[names.ROUND] = 0
        bracket["rounds"][0].append({"past_id": None, "id": trial_id})
        return {"status": "RUNNING", "values": values}

    def _check_consecutive_failures(self) -> None:
        # As Keras Tuner's, which it calls from `end_trial`, with a one-line
        # error; and the trial being ended is saved first, so the tables
        # show it FAILED. (Keras Tuner saves neither it nor the oracle then:
        # a resumed search retries it.)
        failed = 0
        for trial_id in self.end_order:
            trial = self.trials[trial_id]
            failed = failed + 1 if trial.status == _FAILED else 0
            if failed == self.max_consecutive_failed_trials:
                lines = (trial.message or "").strip().splitlines()
                why = f"failed with: {lines[-1].strip()}" if lines else "failed with no message"
                self._save_trial(self.trials[self.end_order[-1]])
                raise SearchFailed(
                    f"{failed} trials failed in a row; the last (trial {trial_id}) {why}"
                )
