"""Export: a configuration's trained model without its auxiliary heads."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pandas as pd

from auxsearch.errors import AuxSearchError
from auxsearch.files import atomic_path
from auxsearch.hypermodel import MAIN
from auxsearch.leaderboards import leaderboard, project_dir
from auxsearch.search import open_run


def export_model(run_dir: str | Path, out: str | Path, rank: int = 1) -> Path:
    """Saves the deployable model of a leaderboard row as a `.keras` file.

    The model is the user's model alone: the main output, every auxiliary head
    removed, with the weights of the configuration's best epoch in its
    longest-trained trial (Keras Tuner's checkpoint). It loads with plain
    `keras.models.load_model`, without auxsearch.

    Args:
        run_dir: A run directory of `auxsearch run`.
        out: The file to write; it must end with `.keras`.
        rank: Integer, the leaderboard rank of the configuration.

    Returns:
        The path written.

    Raises:
        AuxSearchError: If the rank does not exist, the checkpoint is missing
            or `out` does not end with `.keras`.
    """
    out = Path(out)
    if out.suffix != ".keras":
        raise AuxSearchError(f"--out must end with .keras; got {str(out)!r}")
    search = open_run(run_dir)
    board = leaderboard(search.run_dir, search.hypermodel.objective)
    ranks = board["rank"].dropna()
    row = board[board["rank"] == rank]
    if row.empty:
        raise AuxSearchError(
            f"{search.run_dir}: no configuration ranked {rank}; ranks are "
            f"{'1 to ' + str(int(ranks.max())) if len(ranks) else 'none yet'}"
        )
    trial_dir = project_dir(search.run_dir) / f"trial_{_best_trial(row.iloc[0])}"
    checkpoint = trial_dir / "checkpoint.weights.h5"
    if not checkpoint.exists():
        raise AuxSearchError(f"{checkpoint}: no checkpoint to export")
    with open(trial_dir / "trial.json") as stream:
        values = json.load(stream)["hyperparameters"]["values"]
    model = search.hypermodel.build(search.hypermodel.hyperparameters(values))
    model.load_weights(checkpoint)
    deployable = main_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as temp:
        deployable.save(temp)
    return out


def main_model(model: keras.Model) -> keras.Model:
    """Returns the part of a trial model that computes its main output."""
    return keras.Model(model.inputs, model.get_layer(MAIN).output, name=model.name)


def _best_trial(row: pd.Series) -> str:
    # A ranked row completed its chain: its result is the chain's last trial.
    return str(row["trials"]).split(">")[-1]

