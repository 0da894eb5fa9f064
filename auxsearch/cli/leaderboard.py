"""A leaderboard as the command line prints it: top rows, the noise floor, the flags."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from auxsearch.core.rundir import RunDir
from auxsearch.results.noise import NOISE_WIDTH, noise_floor
from auxsearch.results.race_rule import race_verdict
from auxsearch.results.rows import baseline_rows, completed, is_true
from auxsearch.results.tables import counted_race, run_objective, run_race_seeds


def summary(board: pd.DataFrame, top: int) -> str:
    """Formats a leaderboard's top rows, and the baseline's, as a text table.

    The baseline's row follows the top ones when it is not among them;
    configurations short of the full budget say `(partial)`.

    Args:
        board: A `leaderboard()` table.
        top: Integer, how many completed configurations to show.
    """
    columns = ["rank", "config", "taps", "score", "race_mean", "race_seeds", "race",
               "delta_vs_baseline", "noise", "epochs", "trials"]
    for optional in ("race_mean", "race_seeds", "race", "noise"):
        if optional not in board or board[optional].isna().all():
            columns.remove(optional)
    done = completed(board)
    rows = done.head(top)
    baseline = baseline_rows(done)
    if len(baseline) and baseline.index[0] not in rows.index:
        rows = pd.concat([rows, baseline.head(1)])
    table = rows[columns].copy()
    table["taps"] = table["taps"].fillna("").replace("", "(baseline: no taps)")
    if "noise" in table:  # none short of the full budget
        table["noise"] = table["noise"].astype(object).where(table["noise"].notna(), "")
    table["epochs"] = [f"{e}" if full else f"{e} (partial)"
                       for e, full in zip(table["epochs"], rows["full_budget"].map(is_true))]
    for optional in ("race_mean", "race_seeds", "race"):
        if optional in table:
            table[optional] = table[optional].astype(object).where(table[optional].notna(), "")
    return table.to_string(index=False, formatters={
        "score": "{:.4f}".format,
        "race_mean": lambda v: v if v == "" else f"{v:.4f}",
        "delta_vs_baseline": lambda v: "" if v != v else f"{v:+.4f}",  # NaN: none
    })


def noise_summary(run_dir: Path | RunDir, board: pd.DataFrame) -> str | None:
    """Returns one line on the baseline's spread over seeds, or `None` without one."""
    floor = noise_floor(run_dir, board)
    if floor is None:
        return None
    mean, std, seeds = floor
    return (f"baseline over {seeds} seeds: {mean:.4f} +- {std:.4f} (mean +- sd); a score "
            f"further than {NOISE_WIDTH} sd from that mean is marked beyond noise "
            "(rough with few seeds: `confirm` tests it)")


def print_noise(run_dir: Path | RunDir, board: pd.DataFrame) -> None:
    """Says how far the baseline moves with its seed, if it was trained on several."""
    line = noise_summary(run_dir, board)
    if line:
        print(f"  {line}")


def race_summary(run_dir: Path | RunDir, board: pd.DataFrame) -> str | None:
    """Returns one line on what the race found, or `None` without a race."""
    run_dir = RunDir(run_dir)
    seeds = run_race_seeds(run_dir)
    if not seeds or "race" not in board or board["race"].isna().all():
        return None
    objective = board["objective"].iloc[0]
    direction = run_objective(run_dir).direction
    scores = counted_race(run_dir, run_dir.trial_states(), direction)
    baseline = baseline_rows(board)["config"]
    taps = dict(zip(board["config"], board["taps"].fillna("")))
    raced = {c: v for c, v in scores.items() if c in taps}
    return race_verdict(raced, baseline.iloc[0] if len(baseline) else None, seeds,
                        direction == "max", names=taps) + f" ({objective})"


def print_race(run_dir: Path | RunDir, board: pd.DataFrame) -> None:
    """Says whether anything beat the baseline in the race, if there was one."""
    line = race_summary(run_dir, board)
    if line:
        print(f"  {line}")


def print_flags(board: pd.DataFrame) -> None:
    """Names the configurations whose score is no better than chance."""
    flagged = board[board["flag"].notna()] if "flag" in board else board.iloc[:0]
    for row in flagged.itertuples():
        print(f"  flagged: config {row.config} ({row.taps or 'baseline'}): {row.flag}")
