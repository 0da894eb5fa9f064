"""One trial's saved state as a table row, a row's hyperparameters back, and which rows count.

`finished` is the one rule for the rows a run compares: `completed`, at
the full budget (a configuration Hyperband cut short is not comparable);
`baseline_rows` picks the untapped configuration (`n_taps == 0`) among
them, `tapped_rows` the others.
The race, the noise floor, confirmation, the plots and the command line
all select through these two.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from auxsearch.core import names
from auxsearch.core.messages import one_line
from auxsearch.core.tapspace import active_taps, format_taps
from auxsearch.core.tasks import learnt

if TYPE_CHECKING:  # imports no Keras: the plots read rows too
    import keras_tuner as kt


def trial_row(state: dict[str, Any], objective: kt.Objective) -> dict[str, Any]:
    """Returns a trial's row of the trials table, without `rank` and `config`.

    Args:
        state: The trial's saved state (`trial.json`).
        objective: The objective the trial was scored on.
    """
    values = state["hyperparameters"]["values"]
    metrics = trial_metrics(state)
    taps = active_taps(values)
    epochs = metrics.get(names.EPOCHS_TRAINED)
    score = state.get("score")
    return {
        "trial_id": state["trial_id"],
        "status": state["status"],
        "objective": objective.name,
        "score": None if score is None or math.isnan(score) else score,
        "flag": _flag(score, metrics.get(names.CHANCE_SCORE), objective),
        "n_taps": len(taps),
        "taps": format_taps(taps),
        **names.user_values(values),
        **{k: v for k, v in metrics.items() if k.startswith(names.PER_OUTPUT_METRICS)},
        "epochs": int(epochs) if epochs is not None else None,
        "total_epochs": values.get(names.EPOCHS),
        "bracket": values.get(names.BRACKET),
        "round": values.get(names.ROUND),
        "parent_trial": values.get(names.PARENT),
        "wall_seconds": metrics.get(names.TRIAL_SECONDS),
        "message": one_line(state.get("message")) or None,
    }


def trial_metrics(state: dict[str, Any]) -> dict[str, float]:
    """Returns a trial's metrics, each at its best epoch (all Keras Tuner keeps).

    A trial that failed before it trained has none.
    """
    tracked = (state.get("metrics") or {}).get("metrics") or {}
    return {
        name: history["observations"][-1]["value"][0]
        for name, history in tracked.items()
        if history.get("observations")
    }


def is_true(value: object) -> bool:
    """Reads a boolean cell that may hold a bool, text (a CSV read back) or a gap."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def completed(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of a leaderboard or trials table whose training completed, in its order."""
    return rows[rows["status"] == "COMPLETED"]


def finished(board: pd.DataFrame) -> pd.DataFrame:
    """A leaderboard's completed configurations at the full budget, in its order.

    Args:
        board: A `leaderboard()` table, in memory or read back from its CSV.
    """
    done = completed(board)
    return done[done["full_budget"].map(is_true).astype(bool)]


def baseline_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The baseline's rows (no taps) of a leaderboard or trials table, in its order."""
    return rows[pd.to_numeric(rows["n_taps"], errors="coerce") == 0]


def tapped_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with taps (all but the baseline's) of a leaderboard or trials table."""
    return rows[pd.to_numeric(rows["n_taps"], errors="coerce") > 0]


def read_table(path: str | Path) -> pd.DataFrame:
    """Reads a CSV table of a run back, with ids, taps and trial chains as text.

    Read as numbers, `0017` would lose its zeros and `0017>0018` would stay
    text; a baseline's empty `taps` cell reads as "", as it was written.
    """
    table = pd.read_csv(path, dtype={"config": str, "taps": str, "trials": str})
    if "taps" in table:
        table["taps"] = table["taps"].fillna("")
    return table


def trial_epochs(values: dict[str, Any]) -> int:
    """Returns the epochs a trial trained itself (not those of its parents)."""
    return values.get(names.EPOCHS, 0) - values.get(names.INITIAL_EPOCH, 0)


def row_values(row: Any) -> dict[str, Any]:
    """Returns the hyperparameter values of a leaderboard or trials row.

    The inverse of the CSV's hyperparameter columns: empty cells (inactive
    hyperparameters) are left out and each value gets its type back.

    Args:
        row: A row (`pandas.Series` or dict) of `leaderboard.csv` or `trials.csv`.
    """
    values: dict[str, Any] = {}
    for key, value in dict(row).items():
        parts = names.split_hp(str(key))
        if parts is None or value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        # As text, a cell reads the same from a table in memory and from a
        # CSV file (`True` and `"True"` are both a boolean tap).
        values[key] = names.HP_TYPES[parts[0]](str(value))
    return values


def _flag(score: float | None, chance: float | None, objective: kt.Objective) -> str | None:
    """Flags a score no better than a constant prediction's (`chance`)."""
    if score is None or chance is None or math.isnan(score):
        return None
    if learnt(score, chance, objective.direction):  # the rule confirmation counts seeds by
        return None
    return f"{_AT_CHANCE}{score:.4g} vs {chance:.4g}{_CONSTANT}"


_AT_CHANCE, _CONSTANT = "at chance level: ", " for a constant prediction"


def flag_chance(flag: Any) -> float | None:
    """The chance score a `flag` cell names (4 significant digits), else `None`.

    The inverse of `_flag`: a `trials.csv` keeps no chance score otherwise.
    """
    if not isinstance(flag, str) or not flag.startswith(_AT_CHANCE) or _CONSTANT not in flag:
        return None
    try:
        return float(flag[len(_AT_CHANCE):flag.index(_CONSTANT)].split(" vs ")[1])
    except (IndexError, ValueError):
        return None
