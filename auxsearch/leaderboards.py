"""Leaderboards: a search's trials and configurations as ranked tables and CSVs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import keras_tuner as kt
import pandas as pd

from auxsearch.files import atomic_open
from auxsearch.heads import AuxLoss
from auxsearch.hypermodel import MAIN, active_taps

PROJECT = "search"  # the Keras Tuner project directory inside a run directory
FILENAME = "leaderboard.csv"
TRIALS_FILENAME = "trials.csv"
CURVE = "at_epoch/"  # per-epoch objective values kept with each trial's metrics
_PER_OUTPUT = (f"val_{MAIN}_", "val_aux_", "val_penalty_", "val_hint_")  # not val_loss: its weights vary
_TRIAL_HEAD = ["rank", "trial_id", "config", "status", "objective", "score",
               "flag", "n_taps", "taps"]
_TRIAL_TAIL = ["epochs", "total_epochs", "bracket", "round", "parent_trial",
               "wall_seconds", "message"]
_CONFIG_HEAD = ["rank", "config", "status", "objective", "score", "full_budget",
                "delta_vs_baseline", "flag", "n_taps", "taps"]
_CONFIG_TAIL = ["epochs", "trials", "wall_seconds", "message"]


def trials(run_dir: str | Path, objective: kt.Objective | None = None) -> pd.DataFrame:
    """Reads a search's trials into a ranked table, one row per trial.

    Completed trials come first, best score first (ties: the longer-trained
    trial first); the others follow with their status and message. A
    configuration that Hyperband promoted appears once per round.

    Columns: `rank, trial_id, config` (the first trial of its configuration),
    `status, objective, score, n_taps, taps` (`conv2:0.31;conv5:0.05`, empty
    for the baseline), each hyperparameter (`tap/<layer>`, `weight/<layer>`),
    the validation metrics of every active output at the trial's best epoch
    (`val_main_accuracy`, `val_aux_<layer>_accuracy`, ...), then `epochs`
    (trained in this trial), `total_epochs` (with its parents'), Hyperband's
    `bracket`, `round` and `parent_trial`, `wall_seconds` (build and fit) and
    `message`.

    Args:
        run_dir: A run directory (holding `search/`) or a Keras Tuner project
            directory (holding `oracle.json`).
        objective: The objective the trials were scored on. Defaults to the
            run's (from its `space.toml`), else the main output's validation
            accuracy, to maximise.

    Returns:
        A `pandas.DataFrame`; empty, with the fixed columns, if no trial ran.
    """
    objective = objective or run_objective(Path(run_dir))
    table = _trial_table(_trial_states(Path(run_dir)), objective)
    done = table["status"] == "COMPLETED"
    ranked = table[done].sort_values(
        ["score", "total_epochs", "trial_id"],
        ascending=[objective.direction == "min", False, True],
        kind="stable",
    )
    return _with_rank(ranked, table[~done].sort_values("trial_id"))


def leaderboard(
    run_dir: str | Path, objective: kt.Objective | None = None
) -> pd.DataFrame:
    """Reads a search into a ranked table, one row per configuration.

    Hyperband trains a configuration in up to one trial per round; its row
    holds the result of its longest-trained completed trial. Configurations
    that reached the full epoch budget come first, best score first; then
    the others, longest-trained first (marked `full_budget = False`); then
    those that never completed.

    Columns: `rank, config` (its first trial), `status, objective, score`,
    `full_budget` (reached `max_epochs`), `delta_vs_baseline` (score minus the
    no-tap baseline's best score within the same number of epochs; positive:
    higher than the baseline), `flag` (set when the score is no better than
    a constant prediction's: the model learnt nothing, e.g. diverged; such
    configurations rank after the others that reached as many epochs),
    `n_taps, taps`, each hyperparameter, the
    validation metrics of every active output (each head's own accuracy says
    how much its layer already knows), then `epochs` (reached), `trials` (the
    chain of trial ids that trained it, `0002>0011>0012`), `wall_seconds`
    (over the chain) and `message`.

    Args:
        run_dir: As for `trials()`.
        objective: As for `trials()`.

    Returns:
        A `pandas.DataFrame`; empty, with the fixed columns, if no trial ran.
    """
    objective = objective or run_objective(Path(run_dir))
    states = _trial_states(Path(run_dir))
    table = _trial_table(states, objective)
    columns = _CONFIG_HEAD[1:] + [
        c for c in table.columns if c not in _TRIAL_HEAD + _TRIAL_TAIL
    ] + _CONFIG_TAIL
    configs = pd.DataFrame(
        [_config_row(group) for _, group in table.groupby("config", sort=True)],
        columns=columns,
    )
    baseline = _baseline_curve(states, table, objective)
    configs["full_budget"] = configs["epochs"] == _max_epochs(Path(run_dir), table)
    configs["delta_vs_baseline"] = [
        _delta(row.score, baseline(row.epochs)) for row in configs.itertuples()
    ]
    done = configs["status"] == "COMPLETED"
    ranked = configs[done].assign(_flagged=configs["flag"].notna()).sort_values(
        ["full_budget", "_flagged", "epochs", "score", "config"],
        ascending=[False, True, False, objective.direction == "min", True],
        kind="stable",
    ).drop(columns="_flagged")
    return _with_rank(ranked, configs[~done].sort_values("config"))


def write_leaderboards(
    run_dir: str | Path,
    objective: kt.Objective | None = None,
    tables: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> tuple[Path, Path]:
    """Writes `leaderboard.csv` and `trials.csv` into the run directory.

    Both are rebuilt from the saved search state, so this works during a
    search, after a crash and after a resume. Each file is written to a
    temporary file and renamed: a reader never sees half a file.

    Args:
        run_dir: As for `trials()`.
        objective: As for `trials()`.
        tables: `(leaderboard(...), trials(...))`, if already read.

    Returns:
        The paths of `leaderboard.csv` and `trials.csv`.
    """
    run_dir = Path(run_dir)
    paths = run_dir / FILENAME, run_dir / TRIALS_FILENAME
    tables = tables or (leaderboard(run_dir, objective), trials(run_dir, objective))
    for path, table in zip(paths, tables):
        with atomic_open(path) as stream:
            table.to_csv(stream, index=False)
    return paths


def _with_rank(ranked: pd.DataFrame, rest: pd.DataFrame) -> pd.DataFrame:
    ranked, rest = ranked.copy(), rest.copy()
    ranked.insert(0, "rank", pd.array(range(1, len(ranked) + 1), dtype="Int64"))
    rest.insert(0, "rank", pd.array([pd.NA] * len(rest), dtype="Int64"))
    table = pd.concat([ranked, rest]) if len(rest) else ranked
    return table.reset_index(drop=True)


def _trial_table(
    states: list[dict[str, Any]], objective: kt.Objective
) -> pd.DataFrame:
    rows = [_row(state, objective) for state in states]
    parents = {row["trial_id"]: row["parent_trial"] for row in rows}
    for row in rows:  # a configuration is named after its first trial
        root = row["trial_id"]
        while parents.get(root):
            root = parents[root]
        row["config"] = root
    return pd.DataFrame(rows, columns=_columns(states, rows)[1:])


def _config_row(group: pd.DataFrame) -> dict[str, Any]:
    group = group.sort_values(["total_epochs", "trial_id"])
    done = group[group["status"] == "COMPLETED"]
    best = (done if len(done) else group).iloc[-1]
    messages = [m for m in group["message"] if isinstance(m, str)]
    return {
        **best.to_dict(),
        "status": group.iloc[-1]["status"],
        "epochs": best["total_epochs"],
        "trials": ">".join(group["trial_id"]),
        "wall_seconds": group["wall_seconds"].sum(min_count=1),
        "message": messages[-1] if messages else None,
    }


def _max_epochs(run_dir: Path, table: pd.DataFrame) -> Any:
    oracle = project_dir(run_dir) / "oracle.json"
    if oracle.exists():
        with open(oracle) as stream:
            return json.load(stream).get("max_epochs")
    return table["total_epochs"].max() if len(table) else None


def _baseline_curve(
    states: list[dict[str, Any]], table: pd.DataFrame, objective: kt.Objective
) -> Callable[[Any], float | None]:
    """Returns `epochs -> the baseline's best score within those epochs`."""
    baseline = set(table.loc[(table["n_taps"] == 0)
                             & (table["status"] == "COMPLETED"), "trial_id"])
    curve: dict[int, float] = {}
    for state in states:
        if state["trial_id"] in baseline:
            for name, value in _metrics(state).items():
                if name.startswith(CURVE):
                    curve[int(name[len(CURVE):])] = value
    pick = max if objective.direction == "max" else min

    def best_within(epochs: Any) -> float | None:
        if pd.isna(epochs):
            return None
        values = [value for epoch, value in curve.items() if epoch <= epochs]
        return pick(values) if values else None

    return best_within


def _delta(score: Any, reference: float | None) -> float:
    if reference is None or score is None or pd.isna(score):
        return float("nan")
    return float(score) - reference


def run_objective(run_dir: Path) -> kt.Objective:
    """Returns the objective of a run directory's space (accuracy without one)."""
    from auxsearch.space import load_space, objective_of

    path = run_dir / "space.toml"
    if not path.exists():
        return kt.Objective(f"val_{MAIN}_accuracy", "max")
    return kt.Objective(*objective_of(load_space(path)))


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
    metrics = _metrics(state)
    taps = active_taps(values)
    epochs = metrics.get("epochs_trained")
    score = state.get("score")
    row = {
        "trial_id": state["trial_id"],
        "status": state["status"],
        "objective": objective.name,
        "score": None if score is None or math.isnan(score) else score,
        "flag": _flag(score, metrics.get("chance_score"), objective),
        "n_taps": len(taps),
        "taps": format_taps(taps),
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


def _flag(score: float | None, chance: float | None, objective: kt.Objective) -> str | None:
    """Flags a score no better than a constant prediction's (`chance`)."""
    if score is None or chance is None or math.isnan(score):
        return None
    # Better by a margin: 1 point of accuracy, or 1% of the constant's error.
    margin = 0.01 if objective.direction == "max" else 0.01 * abs(chance)
    better = score > chance + margin if objective.direction == "max" else score < chance - margin
    return None if better else f"at chance level: {score:.4g} vs {chance:.4g} for a constant prediction"


def _metrics(state: dict[str, Any]) -> dict[str, float]:
    """A trial's metrics, each at its best epoch (all Keras Tuner keeps)."""
    return {
        name: history["observations"][-1]["value"][0]
        for name, history in state["metrics"]["metrics"].items()
        if history["observations"]
    }


def format_taps(taps: dict[str, AuxLoss]) -> str:
    """Formats active taps as `conv2:0.31;conv5:0.05:penalty` (empty: the baseline).

    Each tap is `layer:weight`, followed by what differs from a constant
    plain head: its kind, `h<units>` for a hidden layer, its schedule.
    """
    return ";".join(str(loss) for loss in taps.values())


def row_values(row: Any) -> dict[str, Any]:
    """Returns the hyperparameter values of a leaderboard or trials row.

    The inverse of the CSV's hyperparameter columns: empty cells (inactive
    hyperparameters) are left out and each value gets its type back.

    Args:
        row: A row (`pandas.Series` or dict) of `leaderboard.csv` or `trials.csv`.
    """
    values: dict[str, Any] = {}
    for key, value in dict(row).items():
        prefix = str(key).split("/", 1)[0]
        if prefix not in _HP_TYPES or value is None or (
                isinstance(value, float) and math.isnan(value)):
            continue
        if prefix == "tap" and str(value) in ("True", "False"):
            value = str(value) == "True"  # a boolean tap, else a slot's layer
        values[key] = _HP_TYPES[prefix](value)
    return values


_HP_TYPES = {"tap": lambda v: v, "weight": float, "kind": str, "schedule": str,
             "units": lambda v: int(float(v))}


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
    return _TRIAL_HEAD + params + metrics + _TRIAL_TAIL
