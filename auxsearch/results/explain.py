"""`explain`: which layers of a run help, read from its trials, written as `effects.csv`.

It reads a run directory's saved trials into `Observation`s (as the search's
own sampler reads them: a failed trial, or one no better than a constant
prediction, has no score; from `trials.csv` where the tuner's checkpoints are
gone, as in a committed run), the candidate layers in the model's order from the
trials' hyperparameter space, and the objective from `space.toml`, then
estimates each layer's effect and importance (`effects`, `importance`). It
builds no model and imports no Keras.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from auxsearch.core import names
from auxsearch.core.atomic import atomic_open
from auxsearch.core.observations import Observation, observe
from auxsearch.core.rundir import RunDir, RunPath
from auxsearch.results.depthplot import layer_order, with_unlisted
from auxsearch.results.effects import explain_observations
from auxsearch.results.rows import flag_chance, read_table, row_values, trial_metrics
from auxsearch.results.tables import metric_range, run_objective

PERMUTATIONS = 199  # the importance's permutation test: p resolves to 0.005

# Whether `explain` prints its importance ranking as a finding: decided once, by the
# replay on the shipped tables, not per run. `python -m bench.replay explain` (100 default
# searches per table, bench/explain.csv) measured the mean Spearman correlation of the
# ranking with the one the whole table gives: 0.026 on digits_cnn, 0.136 on
# deep_plain_thirds and 0.036 on residual_blocks. Twenty-odd trials of a sampler that
# concentrates on what works show which configuration is good, not which layers are.
# Below `RANKING_SPEARMAN` the ranking is not printed; the per-layer effects keep their
# intervals (their coverage was 1.00, 0.99 and 1.00), and `confirm`'s ablation of the
# winner answers which taps are needed.
RANKING_SPEARMAN = 0.6
MEASURED_SPEARMAN = {"digits_cnn": 0.026, "deep_plain_thirds": 0.136, "residual_blocks": 0.036}
RANKS_LAYERS = min(MEASURED_SPEARMAN.values()) >= RANKING_SPEARMAN
NO_RANKING = ("Importance: not ranked: a search's trials cannot rank layers (on the replay "
              "tables the ranking agreed with the truth at Spearman "
              + ", ".join(f"{v:.2f}" for v in MEASURED_SPEARMAN.values())
              + f", below {RANKING_SPEARMAN}); `confirm` ablates the winner to say which of "
              "its taps are needed.")


def explain(run_dir: RunPath) -> pd.DataFrame:
    """Estimates which candidate layers help, and writes `effects.csv` into the run.

    See `effects_of` for the table, and `results.effects` and
    `results.importance` for the statistics.

    Args:
        run_dir: A run directory (a path or a `RunDir`).

    Returns:
        The table `effects_of` returns, also written to `RUN/effects.csv`.

    Raises:
        RunDirError: If it is not a run directory (no `space.toml`).
    """
    run_dir = RunDir(run_dir).require()
    table = effects_of(run_dir)
    with atomic_open(run_dir.effects) as stream:
        table.to_csv(stream, index=False)
    return table


def effects_of(run_dir: RunPath, permutations: int = PERMUTATIONS) -> pd.DataFrame:
    """Estimates which candidate layers help, from a run's saved trials; writes nothing.

    Args:
        run_dir: A run directory, or a bare Keras Tuner project (then the
            objective is the default task's: accuracy, to maximise).
        permutations: Integer, the importance's permutation test (0: none).

    Returns:
        One row per candidate layer in the model's order (see
        `effects.explain_observations` for the columns); `attrs["verdict"]`
        and `attrs["importance"]` say what it found in one line each (the
        importance line says it ranks nothing while `RANKS_LAYERS` is False).
    """
    run_dir = RunDir(run_dir)
    direction, (low, high) = _objective(run_dir)
    states = run_dir.trial_states()
    if states or not run_dir.trials.is_file():
        observations, chance = run_observations(states, direction)
        board = pd.DataFrame()
    else:  # a run as committed: its trials.csv without the tuner's checkpoints
        board = read_table(run_dir.trials)
        observations, chance = table_observations(board, direction)
    tapped = {loss.layer for obs in observations for loss in obs.losses}
    layers = with_unlisted(layer_order(run_dir, board), tapped)
    table = explain_observations(observations, layers, direction, low, high, floor=chance,
                                 permutations=permutations)
    if not RANKS_LAYERS:  # the replay calls the ranking unreliable: not a finding
        table.attrs["importance"] = NO_RANKING
    return table


def run_observations(states: list[dict[str, Any]], direction: str
                     ) -> tuple[list[Observation], float | None]:
    """Reads finished trial states as `Observation`s, as the search's sampler reads them.

    Args:
        states: The trials' saved states (`RunDir.trial_states`).
        direction: "max" or "min", the objective's better direction.

    Returns:
        The completed and failed trials in trial order, each with its epochs
        (`tuner/epochs`) and its score (`None`: failed, not finite, or no
        better than its chance score), and the run's chance score (`None`
        where no trial reported one).
    """
    return _observed([(state["hyperparameters"]["values"], state["status"], state.get("score"),
                       trial_metrics(state).get(names.CHANCE_SCORE)) for state in states
                      if state.get("status") in _FINISHED], direction)


def table_observations(table: pd.DataFrame, direction: str
                       ) -> tuple[list[Observation], float | None]:
    """Reads the rows of a `trials.csv` as `Observation`s, as `run_observations` reads states.

    A row flagged at chance has no score, and its flag names the chance score
    (to 4 significant digits; `None` where no row is flagged).

    Args:
        table: A `trials.csv` (`results.tables.trials`), read back.
        direction: "max" or "min", the objective's better direction.
    """
    return _observed([({**row_values(row), names.EPOCHS: int(row["total_epochs"])},
                       row["status"], None if pd.isna(row["score"]) else float(row["score"]),
                       flag_chance(row["flag"])) for _, row in table.iterrows()
                      if row["status"] in _FINISHED], direction)


_FINISHED = ("COMPLETED", "FAILED")


def _observed(trials: list[tuple[dict[str, Any], str, float | None, float | None]],
              direction: str) -> tuple[list[Observation], float | None]:
    """`(values, status, score, chance)` of finished trials as `Observation`s, and the
    run's chance score (the last one given)."""
    chances = [chance for *_, chance in trials if chance is not None]
    return ([observe(values, status == "COMPLETED", score, chance, direction)
             for values, status, score, chance in trials],
            chances[-1] if chances else None)


def _objective(run_dir: RunDir) -> tuple[str, tuple[float | None, float | None]]:
    """The run's objective direction and its metric's range (from `space.toml`)."""
    objective = run_objective(run_dir)  # a bare Keras Tuner project: the default task's
    return objective.direction, metric_range(objective)
