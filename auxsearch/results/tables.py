"""A search's trials and configurations as ranked tables (`trials`, `leaderboard`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras_tuner as kt
import pandas as pd

from auxsearch.core import names
from auxsearch.core.rundir import RunDir, RunPath
from auxsearch.core.space import load_space, objective_of
from auxsearch.core.tasks import METRIC_RANGES, TASKS, counted_score
from auxsearch.results.noise import noise_floor, noise_verdict
from auxsearch.results.race_rule import race_table
from auxsearch.results.ranking import NOT_RACED, RACE_ORDER, rank_key
from auxsearch.results.rows import (
    baseline_rows,
    completed,
    finished,
    read_table,
    trial_metrics,
    trial_row,
)

_MAIN_METRICS = names.PER_OUTPUT_METRICS[0]  # `val_main_`: first among the metrics
_TRIAL_HEAD = ["rank", "trial_id", "config", "status", "objective", "score",
               "flag", "n_taps", "taps"]
_TRIAL_TAIL = ["epochs", "total_epochs", "bracket", "round", "parent_trial",
               "wall_seconds", "message"]
_CONFIG_HEAD = ["rank", "config", "status", "objective", "score", "full_budget",
                "delta_vs_baseline", "noise", "flag", "n_taps", "taps", "race", "race_seeds",
                "race_mean", "race_low", "race_high"]
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
    run_dir = RunDir(run_dir)
    objective = objective or run_objective(run_dir)
    table = _trial_table(run_dir.trial_states(), objective)
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
    run_dir = RunDir(run_dir)
    objective = objective or run_objective(run_dir)
    states = run_dir.trial_states()
    table = _trial_table(states, objective)
    columns = _CONFIG_HEAD[1:] + [
        c for c in table.columns if c not in _TRIAL_HEAD + _TRIAL_TAIL
    ] + _CONFIG_TAIL
    configs = pd.DataFrame(
        [_config_row(group) for _, group in table.groupby("config", sort=True)],
        columns=columns,
    )
    curve = _baseline_curve(states, table, objective)
    configs["full_budget"] = configs["epochs"] == _max_epochs(run_dir, table)
    configs["delta_vs_baseline"] = [
        _delta(row.score, curve(row.epochs)) for row in configs.itertuples()
    ]
    floor = noise_floor(run_dir, configs)
    comparable = configs.index.isin(finished(configs).index)  # none short of the full budget
    configs["noise"] = [noise_verdict(score, floor) if ok else None
                        for score, ok in zip(configs["score"], comparable)]
    configs = _with_race(run_dir, configs, states, objective)
    done = configs["status"] == "COMPLETED"
    ranked = configs[done].sort_values("config")
    maximize = objective.direction == "max"
    raced = ranked["race"].notna()
    order = sorted(range(len(ranked)), key=lambda i: rank_key(
        bool(ranked["full_budget"].iloc[i]), pd.notna(ranked["flag"].iloc[i]),
        ranked["epochs"].iloc[i],
        ranked["race_mean"].iloc[i] if raced.iloc[i] else ranked["score"].iloc[i], maximize,
        RACE_ORDER[ranked["race"].iloc[i].split()[0]] if raced.iloc[i] else NOT_RACED))
    return _with_rank(ranked.iloc[order], configs[~done].sort_values("config"))


def saved_leaderboard(run_dir: RunPath, objective: kt.Objective | None = None
                      ) -> pd.DataFrame:
    """The run's leaderboard: rebuilt from its saved trials, else its `leaderboard.csv`.

    A run as committed keeps its CSVs but not the tuner's checkpoints
    (`search/`): its leaderboard is the file, as the search wrote it.

    Args:
        run_dir: As for `trials()`.
        objective: As for `trials()`.
    """
    run_dir = RunDir(run_dir)
    if run_dir.has_trials() or not run_dir.leaderboard.is_file():
        return leaderboard(run_dir, objective)
    table = read_table(run_dir.leaderboard)
    for column in ("rank", "race_seeds"):
        if column in table:
            table[column] = table[column].astype("Int64")
    return table


def counted_race(run_dir: RunDir, states: list[dict[str, Any]], direction: str
                 ) -> dict[str, list[float]]:
    """The race's saved scores as its rule counts them: per configuration, in seed order.

    A diverged training counts as chance (`tasks.counted_score`), as it did
    when the race ran. `RunDir.race_scores` gives the saved scores as they are.
    """
    chance = next((trial_metrics(s).get(names.CHANCE_SCORE) for s in states
                   if names.CHANCE_SCORE in trial_metrics(s)), None)
    return {config: [counted_score(v, chance, direction) for _, v in sorted(by_seed.items())]
            for config, by_seed in run_dir.race_scores().items()}


def _with_race(run_dir: RunDir, configs: pd.DataFrame, states: list[dict[str, Any]],
               objective: kt.Objective) -> pd.DataFrame:
    """Adds each raced configuration's race (see `race_rule.race_table`)."""
    seeds = run_race_seeds(run_dir)
    scores = counted_race(run_dir, states, objective.direction) if seeds else {}
    if not scores:
        return configs
    low, high = metric_range(objective)
    table = race_table(scores, seeds, objective.direction == "max", low, high)
    table = table.set_index("config")
    configs = configs.copy()
    for column in table.columns:
        configs[column] = configs["config"].map(table[column])
    configs["race_seeds"] = configs["race_seeds"].astype("Int64")
    return configs


def run_race_seeds(run_dir: RunPath) -> int:
    """The seeds of the run's race (`[hyperband] race_seeds`; 0 without a space)."""
    run_dir = RunDir(run_dir)
    return load_space(run_dir.space).hyperband.race_seeds if run_dir.space.is_file() else 0


def run_objective(run_dir: RunPath) -> kt.Objective:
    """Returns the objective of a run directory's space.

    Without a space (a bare Keras Tuner project), the default task's: the
    main output's validation accuracy, to maximise.
    """
    run_dir = RunDir(run_dir)
    if not run_dir.exists():
        task = TASKS["multiclass"]
        return kt.Objective(names.objective_name(task.metric), task.direction)
    return kt.Objective(*objective_of(load_space(run_dir.space)))


def metric_range(objective: kt.Objective) -> tuple[float | None, float | None]:
    """The range of the objective's metric; `(None, None)` where it is unbounded."""
    return METRIC_RANGES.get(names.objective_metric(objective.name), (None, None))


def _with_rank(ranked: pd.DataFrame, rest: pd.DataFrame) -> pd.DataFrame:
    ranked, rest = ranked.copy(), rest.copy()
    ranked.insert(0, "rank", pd.array(range(1, len(ranked) + 1), dtype="Int64"))
    rest.insert(0, "rank", pd.array([pd.NA] * len(rest), dtype="Int64"))
    table = pd.concat([ranked, rest]) if len(rest) else ranked
    return table.reset_index(drop=True)


def _trial_table(
    states: list[dict[str, Any]], objective: kt.Objective
) -> pd.DataFrame:
    rows = [trial_row(state, objective) for state in states]
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


def _max_epochs(run_dir: RunDir, table: pd.DataFrame) -> Any:
    if run_dir.oracle.is_file():
        return run_dir.max_epochs()
    return table["total_epochs"].max() if len(table) else None


def _baseline_curve(
    states: list[dict[str, Any]], table: pd.DataFrame, objective: kt.Objective
) -> Callable[[Any], float | None]:
    """Returns `epochs -> the baseline's best score within those epochs`."""
    untapped = baseline_rows(completed(table))
    ids = set(untapped["trial_id"])
    curve: dict[int, float] = {}
    for state in states:
        if state["trial_id"] in ids:
            for name, value in trial_metrics(state).items():
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
