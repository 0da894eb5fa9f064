"""Leaderboards: a search's trials and configurations as ranked tables and CSVs."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras_tuner as kt
import pandas as pd

from auxsearch import names
from auxsearch.files import atomic_open
from auxsearch.rundir import RunDir, RunPath
from auxsearch.tapspace import active_taps, format_taps
from auxsearch.tasks import learnt

_MAIN_METRICS = names.PER_OUTPUT_METRICS[0]  # `val_main_`: first among the metrics
_TRIAL_HEAD = ["rank", "trial_id", "config", "status", "objective", "score",
               "flag", "n_taps", "taps"]
_TRIAL_TAIL = ["epochs", "total_epochs", "bracket", "round", "parent_trial",
               "wall_seconds", "message"]
_CONFIG_HEAD = ["rank", "config", "status", "objective", "score", "full_budget",
                "delta_vs_baseline", "noise", "flag", "n_taps", "taps"]
NOISE_WIDTH = 2  # a score beyond the baseline's mean +- 2 standard deviations is beyond noise
_CONFIG_TAIL = ["epochs", "trials", "wall_seconds", "message"]


def trials(run_dir: RunPath, objective: kt.Objective | None = None) -> pd.DataFrame:
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
        run_dir: A run directory (a path or a `RunDir`), or a bare Keras
            Tuner project directory (holding `oracle.json`).
        objective: The objective the trials were scored on. Defaults to the
            run's (from its `space.toml`), else the main output's validation
            accuracy, to maximise.

    Returns:
        A `pandas.DataFrame`; empty, with the fixed columns, if no trial ran.
    """
    run = RunDir(run_dir)
    objective = objective or run_objective(run)
    table = _trial_table(run.trial_states(), objective)
    done = table["status"] == "COMPLETED"
    ranked = table[done].sort_values(
        ["score", "total_epochs", "trial_id"],
        ascending=[objective.direction == "min", False, True],
        kind="stable",
    )
    return _with_rank(ranked, table[~done].sort_values("trial_id"))


def leaderboard(run_dir: RunPath, objective: kt.Objective | None = None) -> pd.DataFrame:
    """Reads a search into a ranked table, one row per configuration.

    Hyperband trains a configuration in up to one trial per round; its row
    holds the result of its longest-trained completed trial. Configurations
    that reached the full epoch budget come first, best score first; then
    the others, longest-trained first (marked `full_budget = False`); then
    those that never completed.

    Columns: `rank, config` (its first trial), `status, objective, score`,
    `full_budget` (reached `max_epochs`), `delta_vs_baseline` (score minus the
    no-tap baseline's best score within the same number of epochs; positive:
    higher than the baseline), `noise` (at the full budget, when the baseline
    was also trained on more seeds: `beyond` if the score lies outside the
    baseline's mean +- 2 standard deviations over its seeds, else `within`,
    i.e. seed noise; see `noise_floor`), `flag` (set when the score is no better than
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
    run = RunDir(run_dir)
    objective = objective or run_objective(run)
    states = run.trial_states()
    table = _trial_table(states, objective)
    columns = _CONFIG_HEAD[1:] + [
        c for c in table.columns if c not in _TRIAL_HEAD + _TRIAL_TAIL
    ] + _CONFIG_TAIL
    configs = pd.DataFrame(
        [_config_row(group) for _, group in table.groupby("config", sort=True)],
        columns=columns,
    )
    baseline = _baseline_curve(states, table, objective)
    configs["full_budget"] = configs["epochs"] == _max_epochs(run, table)
    configs["delta_vs_baseline"] = [
        _delta(row.score, baseline(row.epochs)) for row in configs.itertuples()
    ]
    floor = noise_floor(run, configs)
    configs["noise"] = [
        _noise(row.score, floor) if row.full_budget and row.status == "COMPLETED" else None
        for row in configs.itertuples()
    ]
    done = configs["status"] == "COMPLETED"
    ranked = configs[done]
    # Flagged from the completed rows alone: a column of all the rows would
    # add rows to an empty table (no trial completed).
    ranked = ranked.assign(_flagged=ranked["flag"].notna()).sort_values(
        ["full_budget", "_flagged", "epochs", "score", "config"],
        ascending=[False, True, False, objective.direction == "min", True],
        kind="stable",
    ).drop(columns="_flagged")
    return _with_rank(ranked, configs[~done].sort_values("config"))


def noise_floor(run_dir: RunPath, board: pd.DataFrame) -> tuple[float, float, int] | None:
    """The baseline's mean and standard deviation at the full budget, over seeds.

    The search's own baseline training and its extra seeds
    (`baseline_seeds.csv`); `None` with fewer than two scores.

    Returns:
        `(mean, std, seeds)`.
    """
    scores = list(RunDir(run_dir).baseline_scores().values())
    own = board[(board["n_taps"] == 0) & board["full_budget"].fillna(False).astype(bool)
                & (board["status"] == "COMPLETED")]["score"].dropna()
    scores += [float(v) for v in own.head(1)]
    if len(scores) < 2:
        return None
    series = pd.Series(scores)
    return float(series.mean()), float(series.std()), len(scores)


def noise_summary(run_dir: RunPath, board: pd.DataFrame) -> str | None:
    """One line on the baseline's spread over seeds, or `None` without one."""
    floor = noise_floor(run_dir, board)
    if floor is None:
        return None
    mean, std, seeds = floor
    return (f"baseline over {seeds} seeds: {mean:.4f} +- {std:.4f} (mean +- sd); a score "
            f"further than {NOISE_WIDTH} sd from that mean is marked beyond noise "
            "(rough with few seeds: `confirm` tests it)")


def _noise(score: Any, floor: tuple[float, float, int] | None) -> str | None:
    """`beyond` or `within` the baseline's seed-to-seed spread."""
    if floor is None or score is None or pd.isna(score):
        return None
    mean, std, _ = floor
    return "beyond" if abs(float(score) - mean) > NOISE_WIDTH * std else "within"


def write_leaderboards(
    run_dir: RunPath,
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
    run = RunDir(run_dir)
    paths = run.leaderboard, run.trials
    tables = tables or (leaderboard(run, objective), trials(run, objective))
    for path, table in zip(paths, tables):
        with atomic_open(path) as stream:
            table.to_csv(stream, index=False)
    return paths


def summary(board: pd.DataFrame, top: int) -> str:
    """Formats a leaderboard's top rows, and the baseline's, as a text table.

    The baseline's row follows the top ones when it is not among them;
    configurations short of the full budget say `(partial)`.

    Args:
        board: A `leaderboard()` table.
        top: Integer, how many completed configurations to show.
    """
    columns = ["rank", "config", "taps", "score", "delta_vs_baseline", "noise", "epochs",
               "trials"]
    if "noise" not in board or board["noise"].isna().all():
        columns.remove("noise")
    done = board[board["status"] == "COMPLETED"]
    rows = done.head(top)
    baseline = done[done["n_taps"] == 0]
    if len(baseline) and baseline.index[0] not in rows.index:
        rows = pd.concat([rows, baseline.head(1)])
    table = rows[columns].copy()
    table["taps"] = table["taps"].fillna("").replace("", "(baseline: no taps)")
    if "noise" in table:  # none short of the full budget
        table["noise"] = table["noise"].astype(object).where(table["noise"].notna(), "")
    table["epochs"] = [f"{e}" if full else f"{e} (partial)"
                       for e, full in zip(table["epochs"], rows["full_budget"])]
    return table.to_string(index=False, formatters={
        "score": "{:.4f}".format,
        "delta_vs_baseline": lambda v: "" if v != v else f"{v:+.4f}",  # NaN: none
    })


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


def _max_epochs(run: RunDir, table: pd.DataFrame) -> Any:
    if run.oracle.is_file():
        return run.max_epochs()
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
                if name.startswith(names.AT_EPOCH):
                    curve[int(name.removeprefix(names.AT_EPOCH))] = value
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


def run_objective(run_dir: RunPath) -> kt.Objective:
    """Returns the objective of a run directory's space.

    Without a space (a bare Keras Tuner project), the default task's: the
    main output's validation accuracy, to maximise.
    """
    from auxsearch.space import load_space, objective_of
    from auxsearch.tasks import TASKS

    run = RunDir(run_dir)
    if not run.exists():
        task = TASKS["multiclass"]
        return kt.Objective(names.objective_name(task.metric), task.direction)
    return kt.Objective(*objective_of(load_space(run.space)))


def trial_epochs(values: dict[str, Any]) -> int:
    """Returns the epochs a trial trained itself (not those of its parents)."""
    return values.get(names.EPOCHS, 0) - values.get(names.INITIAL_EPOCH, 0)


def _row(state: dict[str, Any], objective: kt.Objective) -> dict[str, Any]:
    values = state["hyperparameters"]["values"]
    metrics = _metrics(state)
    taps = active_taps(values)
    epochs = metrics.get(names.EPOCHS_TRAINED)
    score = state.get("score")
    row = {
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
        "message": _last_line(state.get("message")),
    }
    return row


def _flag(score: float | None, chance: float | None, objective: kt.Objective) -> str | None:
    """Flags a score no better than a constant prediction's (`chance`)."""
    if score is None or chance is None or math.isnan(score):
        return None
    if learnt(score, chance, objective.direction):  # the rule confirmation counts seeds by
        return None
    return f"at chance level: {score:.4g} vs {chance:.4g} for a constant prediction"


def _metrics(state: dict[str, Any]) -> dict[str, float]:
    """A trial's metrics, each at its best epoch (all Keras Tuner keeps).

    A trial that failed before it trained has none.
    """
    tracked = (state.get("metrics") or {}).get("metrics") or {}
    return {
        name: history["observations"][-1]["value"][0]
        for name, history in tracked.items()
        if history.get("observations")
    }


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
        {key for row in rows for key in row if key.startswith(names.PER_OUTPUT_METRICS)},
        key=lambda name: (not name.startswith(_MAIN_METRICS), name),
    )
    return _TRIAL_HEAD + params + metrics + _TRIAL_TAIL
