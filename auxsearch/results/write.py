"""Writing a run's two CSVs, `leaderboard.csv` and `trials.csv`, atomically."""

from __future__ import annotations

from pathlib import Path

import keras_tuner as kt
import pandas as pd

from auxsearch.core.atomic import atomic_open
from auxsearch.core.rundir import RunDir, RunPath
from auxsearch.results.tables import leaderboard, trials


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
    run_dir = RunDir(run_dir)
    paths = run_dir.leaderboard, run_dir.trials
    tables = tables or (leaderboard(run_dir, objective), trials(run_dir, objective))
    for path, table in zip(paths, tables):
        with atomic_open(path) as stream:
            table.to_csv(stream, index=False)
    return paths
