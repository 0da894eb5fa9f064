"""Plots of a run: the leaderboard, and the confirmed results, as one PNG.

Left, the search scores against the baseline's, with the confirmed test
results and their verdicts (`scoreplot`). Right, the depth: per candidate
layer, in the model's order, how often the good configurations tap it and at
what weights, so a reader sees where along the depth supervision helped
(`depthplot`). Below, per layer in the same order, the effect of tapping it
with its interval, as `explain` estimates it (`effectplot`), and beside it,
after `confirm`, the ablation of the winner (`ablationplot`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from auxsearch.core.atomic import atomic_open
from auxsearch.core.errors import RunDirError
from auxsearch.core.rundir import RunDir, RunPath
from auxsearch.results.ablationplot import draw_ablation
from auxsearch.results.depthplot import draw_depth, good_configurations, layer_order
from auxsearch.results.effectplot import draw_effects
from auxsearch.results.noise import noise_floor
from auxsearch.results.plotkit import empty_panel, pyplot
from auxsearch.results.rows import baseline_rows, completed, finished, read_table
from auxsearch.results.scoreplot import draw_scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_run(run_dir: RunPath, out: str | os.PathLike[str] | None = None) -> Path:
    """Draws a run's leaderboard, and its confirmed results if any, as a PNG (see `figure`).

    Args:
        run_dir: The run directory (a path or a `RunDir`), holding
            `leaderboard.csv` and optionally `confirmed.csv`.
        out: Where to write the PNG. Defaults to `<run_dir>/leaderboard.png`.

    Returns:
        The PNG's path.

    Raises:
        RunDirError: If the run directory has no `leaderboard.csv`.
    """
    run_dir = RunDir(run_dir)
    out = Path(out) if out is not None else run_dir.plot
    fig = figure(run_dir)
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120)
    finally:
        pyplot().close(fig)
    with atomic_open(out, "wb") as stream:
        stream.write(buffer.getvalue())
    return out


def figure(run_dir: RunPath) -> Figure:
    """Draws a run's results as a matplotlib figure; the caller closes it.

    Four axes, each with a `label`: "scores" (the best search scores as
    bars, hatched where the leaderboard says `noise = within`; the baseline's
    seed spread as a band; confirmed test means and intervals coloured by
    verdict, with `trained k/S` where the configuration or the baseline
    failed to train on some seed), "depth" (per layer in the model's order,
    the share of the good configurations that tap it, over that of all) and
    "weights" (each tap's weight; the good configurations coloured by score)
    and "effects" (per layer in the model's order, the effect of tapping it
    with its 95% interval, coloured by verdict: `explain`'s, from the saved
    trials, else from `effects.csv`); with `ablation.csv`, a fifth,
    "ablation", beside "effects": each variant of the confirmed winner, the
    winner minus it with its interval, coloured by verdict.
    The good configurations: at the full budget, better than the baseline
    beyond its seed noise; else the best ones above its score; else the
    best.

    Raises:
        RunDirError: If the run directory has no `leaderboard.csv`.
    """
    run_dir = RunDir(run_dir)
    if not run_dir.leaderboard.is_file():
        raise RunDirError(f"{run_dir}: no {run_dir.leaderboard.name}; run a search first")
    board = read_table(run_dir.leaderboard)
    confirmed = read_table(run_dir.confirmed) if run_dir.confirmed.is_file() else None
    plt = pyplot()
    fig = plt.figure(figsize=(16, 11), layout="constrained")
    try:
        _draw(fig, run_dir, board, confirmed)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def _draw(fig: Figure, run_dir: RunDir, board: pd.DataFrame,
          confirmed: pd.DataFrame | None) -> None:
    """Draws the four panels of `figure`."""
    from auxsearch.results.tables import run_objective  # imports Keras Tuner

    grid = fig.add_gridspec(3, 2, width_ratios=[1.1, 1], height_ratios=[1, 2, 1.6])
    named = board["objective"].dropna()
    objective = str(named.iloc[0]) if len(named) else "score"
    scores = fig.add_subplot(grid[:2, 0], label="scores")
    depth = fig.add_subplot(grid[0, 1], label="depth")
    weights = fig.add_subplot(grid[1, 1], sharex=depth, label="weights")
    ablation = read_table(run_dir.ablation) if run_dir.ablation.is_file() else None
    effects = fig.add_subplot(grid[2, :] if ablation is None else grid[2, 0], label="effects")
    if ablation is not None:  # the confirmed winner's taps, each removed (`confirm`)
        draw_ablation(fig.add_subplot(grid[2, 1], label="ablation"), ablation, objective)
    table = _effects(run_dir)
    if table is None:
        empty_panel(effects, "no saved trials to estimate the layers' effects from")
    else:
        draw_effects(effects, table, objective)
    done = completed(board).dropna(subset=["score"])
    full = finished(done)
    # Early in a search no configuration has the full budget yet.
    pool = full if len(full) else done
    note = " (none at the full budget yet)" if len(done) and full.empty else ""
    fig.suptitle(f"{run_dir.root.resolve().name}: {objective}, {len(done)} of "
                 f"{len(board)} configurations completed{note}", fontsize=13)
    if pool.empty:
        for ax in (scores, depth):
            empty_panel(ax, "no completed trials")
        weights.set_axis_off()
        return
    bases = baseline_rows(done)
    # The baseline's row at the full budget if it has one, like the others.
    baseline = pd.concat([bases[bases.index.isin(pool.index)], bases]).head(1)
    others = pool.drop(baseline.index, errors="ignore")
    # Whether higher is better: the run's objective; without a space, the ranking.
    higher = (run_objective(run_dir).direction == "max" if run_dir.exists()
              else bool(pool["score"].iloc[0] >= pool["score"].iloc[-1]))
    draw_scores(scores, done, others, baseline, confirmed, objective, noise_floor(run_dir, board))
    good, which = good_configurations(others, higher)
    draw_depth(depth, weights, layer_order(run_dir, board),
               done.drop(baseline.index, errors="ignore"), good, which, objective, higher)


def _effects(run_dir: RunDir) -> pd.DataFrame | None:
    """`explain`'s table: from the saved trials, else `effects.csv`; `None` without either."""
    from auxsearch.results.explain import effects_of  # imports Keras Tuner (via tables)

    try:
        if run_dir.has_trials():
            return effects_of(run_dir, permutations=0)  # the panel draws no importance
    except (OSError, ValueError, KeyError):  # a trial state half written by a running search
        pass
    return read_table(run_dir.effects) if run_dir.effects.is_file() else None


