"""The noise floor: how far the no-tap baseline's score moves with its seed."""

from __future__ import annotations

from typing import Any

import pandas as pd

from auxsearch.core.rundir import RunDir, RunPath
from auxsearch.results.rows import baseline_rows, finished

NOISE_WIDTH = 2  # a score beyond the baseline's mean +- 2 standard deviations is beyond noise

NoiseFloor = tuple[float, float, int]  # mean, standard deviation, seeds


def noise_floor(run_dir: RunPath, board: pd.DataFrame) -> NoiseFloor | None:
    """The baseline's mean and standard deviation at the full budget, over seeds.

    The search's own baseline training and its extra seeds
    (`baseline_seeds.csv`).

    Args:
        run_dir: A run directory (a path or a `RunDir`).
        board: The run's leaderboard, as `leaderboard()` returns it.

    Returns:
        `(mean, std, seeds)`; `None` with fewer than two scores.
    """
    scores = list(RunDir(run_dir).baseline_scores().values())
    own = baseline_rows(finished(board))["score"].dropna()
    scores += [float(v) for v in own.head(1)]
    if len(scores) < 2:
        return None
    series = pd.Series(scores)
    return float(series.mean()), float(series.std()), len(scores)


def noise_verdict(score: Any, floor: NoiseFloor | None) -> str | None:
    """Returns `beyond` or `within` the baseline's seed-to-seed spread.

    Args:
        score: A score, or a gap.
        floor: As `noise_floor()` returns it.

    Returns:
        `None` without a score or a noise floor.
    """
    if floor is None or score is None or pd.isna(score):
        return None
    mean, std, _ = floor
    return "beyond" if abs(float(score) - mean) > NOISE_WIDTH * std else "within"
