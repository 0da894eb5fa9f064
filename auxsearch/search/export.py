"""Export: a configuration's trained model without its auxiliary heads."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from auxsearch.core import rules
from auxsearch.core.atomic import atomic_path
from auxsearch.core.errors import AuxSearchError, RunDirError
from auxsearch.core.rundir import RunPath
from auxsearch.results.tables import leaderboard
from auxsearch.search.run import open_run
from auxsearch.trial.assembly import main_model

__all__ = ["check_out", "export_model", "main_model"]

SUFFIX = ".keras"  # what Keras' `save` and `load_model` read without auxsearch


def check_out(out: str | os.PathLike[str], key: str = "out") -> Path:
    """Checks that `out` names a `.keras` file; returns it as a `Path`.

    Args:
        out: The file to write.
        key: How the caller names the setting, for the message.

    Raises:
        SpaceError: `<key> must be a path ending with .keras; got ...`.
    """
    out = Path(out)
    if out.suffix != SUFFIX:
        rules.fail(key, f"a path ending with {SUFFIX}", str(out))
    return out


def export_model(run_dir: RunPath, out: str | os.PathLike[str],
                 rank: int = 1) -> Path:
    """Saves the deployable model of a leaderboard row as a `.keras` file.

    The model is the user's model alone: the main output, every auxiliary head
    removed, with the weights of the configuration's best epoch in its
    longest-trained trial (Keras Tuner's checkpoint). It loads with plain
    `keras.models.load_model`, without auxsearch.

    Args:
        run_dir: A run directory of a search (a path or a `RunDir`).
        out: The file to write; it must end with `.keras`.
        rank: Integer, the leaderboard rank of the configuration.

    Returns:
        The path written.

    Raises:
        SpaceError: If `out` does not end with `.keras` or `rank` is below 1.
        RunDirError: If `run_dir` is not a run directory of a search, or
            the configuration's checkpoint is missing.
        AuxSearchError: If no configuration has that rank.
    """
    out = check_out(out)
    rules.check("rank", rank)
    search = open_run(run_dir)
    run_dir = search.run_dir.require_trials("or checkpoints to export a model from")
    board = leaderboard(run_dir, search.hypermodel.objective)
    ranks = board["rank"].dropna()
    row = board[board["rank"] == rank]
    if row.empty:
        raise AuxSearchError(
            f"{run_dir}: no configuration ranked {rank}; ranks are "
            f"{'1 to ' + str(int(ranks.max())) if len(ranks) else 'none yet'}"
        )
    trial_id = _best_trial(row.iloc[0])
    checkpoint = run_dir.checkpoint(trial_id)
    if not checkpoint.exists():
        raise RunDirError(f"{checkpoint}: no checkpoint to export")
    values = run_dir.trial_state(trial_id)["hyperparameters"]["values"]
    model = search.hypermodel.build(search.hypermodel.hyperparameters(values))
    model.load_weights(checkpoint)
    deployable = main_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temp:
        deployable.save(temp)
    return out


def _best_trial(row: pd.Series) -> str:
    # A ranked row completed its chain: its result is the chain's last trial.
    return str(row["trials"]).split(">")[-1]
