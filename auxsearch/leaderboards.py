"""Leaderboards: the trials of a search as a ranked table and a CSV file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import keras_tuner as kt
import pandas as pd

from auxsearch.files import atomic_open
from auxsearch.hypermodel import MAIN, active_taps

PROJECT = "search"  # the Keras Tuner project directory inside a run directory
FILENAME = "leaderboard.csv"
_DEFAULT_OBJECTIVE = kt.Objective(f"val_{MAIN}_accuracy", "max")
_HEAD = ["rank", "trial_id", "status", "objective", "score", "n_taps", "taps"]
_PER_OUTPUT = (f"val_{MAIN}_", "val_aux_")  # not val_loss: its weights vary
_TAIL = ["epochs", "total_epochs", "bracket", "round", "parent_trial",
         "wall_seconds", "message"]


def leaderboard(
    run_dir: str | Path, objective: kt.Objective | None = None
) -> pd.DataFrame:
    """Reads a search's trials into a ranked table, one row per trial.

    Completed trials come first, best score first (ties: the longer-trained
    trial first); the others follow with their status and message.

    Columns: `rank, trial_id, status, objective, score, n_taps, taps`
    (`conv2:0.31;conv5:0.05`, empty for the baseline), each hyperparameter
    (`tap/<layer>`, `weight/<layer>`), the validation metrics of every output
    at the trial's best epoch (`val_main_accuracy`, `val_aux_<layer>_loss`, ...),
    then `epochs` (trained in this trial), `total_epochs` (with its parent's),
    Hyperband's `bracket`, `round` and `parent_trial`, `wall_seconds` (build and
    fit) and `message`.

    Args:
        run_dir: A run directory (holding `search/`) or a Keras Tuner project
            directory (holding `oracle.json`).
        objective: The objective the trials were scored on. Defaults to the
            main output's validation accuracy, to maximise.

    Returns:
        A `pandas.DataFrame`; empty, with the fixed columns, if no trial ran.
    """
    objective = objective or _DEFAULT_OBJECTIVE
    states = _trial_states(Path(run_dir))
    rows = [_row(state, objective) for state in states]
    table = pd.DataFrame(rows, columns=_columns(states, rows))
    done = table["status"] == "COMPLETED"
    ranked = table[done].sort_values(
        ["score", "total_epochs", "trial_id"],
        ascending=[objective.direction == "min", False, True],
        kind="stable",
    )
    ranked.insert(0, "rank", pd.array(range(1, len(ranked) + 1), dtype="Int64"))
    rest = table[~done].sort_values("trial_id")
    rest.insert(0, "rank", pd.array([pd.NA] * len(rest), dtype="Int64"))
    table = pd.concat([ranked, rest]) if len(rest) else ranked
    return table.reset_index(drop=True)


def write_leaderboard(
    run_dir: str | Path,
    objective: kt.Objective | None = None,
    table: pd.DataFrame | None = None,
) -> Path:
    """Writes `leaderboard.csv` into the run directory, atomically.

    Args:
        run_dir: The run directory.
        objective: As for `leaderboard()`.
        table: The table to write, if already read with `leaderboard()`.

    Returns:
        The path of the CSV file.
    """
    path = Path(run_dir) / FILENAME
    if table is None:
        table = leaderboard(run_dir, objective)
    with atomic_open(path) as stream:
        table.to_csv(stream, index=False)
    return path


def project_dir(run_dir: Path) -> Path:
    """Returns the Keras Tuner project directory of a run directory."""
    return run_dir if (run_dir / "oracle.json").exists() else run_dir / PROJECT


def _trial_states(run_dir: Path) -> list[dict[str, Any]]:
    states = []
    for path in sorted(project_dir(run_dir).glob("trial_*/trial.json")):
        with open(path) as stream:
            states.append(json.load(stream))  # NaN scores parse as float nan
    return states


def _row(state: dict[str, Any], objective: kt.Objective) -> dict[str, Any]:
    values = state["hyperparameters"]["values"]
    metrics = {
        name: history["observations"][-1]["value"][0]
        for name, history in state["metrics"]["metrics"].items()
        if history["observations"]
    }
    weights = active_taps(values)
    epochs = metrics.get("epochs_trained")
    score = state.get("score")
    row = {
        "trial_id": state["trial_id"],
        "status": state["status"],
        "objective": objective.name,
        "score": None if score is None or math.isnan(score) else score,
        "n_taps": len(weights),
        "taps": format_taps(weights),
        **{k: v for k, v in values.items() if not k.startswith("tuner/")},
        **{k: v for k, v in metrics.items() if k.startswith(_PER_OUTPUT)},
        "epochs": int(epochs) if epochs is not None else None,
        "total_epochs": values.get("tuner/epochs"),
        "bracket": values.get("tuner/bracket"),
        "round": values.get("tuner/round"),
        "parent_trial": values.get("tuner/trial_id"),
        "wall_seconds": metrics.get("trial_seconds"),
        "message": _last_line(state.get("message")),
    }
    return row


def format_taps(weights: dict[str, float]) -> str:
    """Formats active taps as `conv2:0.31;conv5:0.05` (empty: the baseline)."""
    return ";".join(f"{layer}:{weight:.2g}" for layer, weight in weights.items())


def _last_line(message: str | None) -> str | None:
    # Keras Tuner keeps the whole traceback; its last line says what failed.
    lines = (message or "").strip().splitlines()
    return lines[-1] if lines else None


def _columns(states: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """Returns a stable column order: fixed, hyperparameters, metrics, fixed.

    Hyperparameters keep the order of the search space; metrics come main
    output first, then the heads by name.
    """
    params = [hp["config"]["name"] for hp in states[0]["hyperparameters"]["space"]
              ] if states else []
    metrics = sorted(
        {key for row in rows for key in row if key.startswith(_PER_OUTPUT)},
        key=lambda name: (not name.startswith(f"val_{MAIN}_"), name),
    )
    return [c for c in _HEAD if c != "rank"] + params + metrics + _TAIL
