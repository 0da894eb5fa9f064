"""Plots of a run: the leaderboard, and the confirmed results, as one PNG."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from auxsearch.errors import RunDirError
from auxsearch.files import atomic_open
from auxsearch.rundir import RunDir, RunPath

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_TOP_BARS = 10  # configurations drawn as bars, besides the baseline
_TOP_POINTS = 5  # configurations drawn larger in the tap map
_LABEL_CHARS = 38
_BAR, _BASE, _TEST = "tab:blue", "tab:orange", "black"
_STAR = " ★"


def plot_run(run_dir: RunPath, out: str | os.PathLike[str] | None = None) -> Path:
    """Draws a run's leaderboard, and its confirmed results if any, as a PNG.

    Left: the best scores against the baseline's, with the test means and 95%
    intervals of the confirmed configurations on top. Right: the layer and
    weight of every tap the configurations use, coloured by their score.

    Args:
        run_dir: The run directory (a path or a `RunDir`), holding
            `leaderboard.csv` and optionally `confirmed.csv`.
        out: Where to write the PNG. Defaults to `<run_dir>/leaderboard.png`.

    Returns:
        The path of the PNG file.

    Raises:
        RunDirError: If the run directory has no `leaderboard.csv`.
    """
    run = RunDir(run_dir)
    if not run.leaderboard.is_file():
        raise RunDirError(f"{run}: no {run.leaderboard.name}; run a search first")
    board = _read(run.leaderboard)
    confirmed = _read(run.confirmed) if run.confirmed.is_file() else None
    out = Path(out) if out is not None else run.plot

    # Imported here: matplotlib is slow to import, and Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 6.5), width_ratios=[1.15, 1])
    try:
        named = board["objective"].dropna() if "objective" in board else []
        objective = str(named.iloc[0]) if len(named) else "score"
        done = board[board["status"] == "COMPLETED"].dropna(subset=["score"])
        full = done[done["full_budget"].map(_true)] if "full_budget" in done else done
        # Early in a search no configuration has the full budget yet.
        pool = full if len(full) else done
        note = " (none at the full budget yet)" if len(done) and full.empty else ""
        fig.suptitle(f"{run.root.resolve().name}: {objective}, {len(done)} of "
                     f"{len(board)} configurations completed{note}", fontsize=13)
        if pool.empty:
            _message(left, "no completed trials")
            _message(right, "no completed trials")
        else:
            bases = done[pd.to_numeric(done["n_taps"], errors="coerce") == 0]
            # The baseline's row at the full budget if it has one, like the others.
            baseline = pd.concat([bases[bases.index.isin(pool.index)], bases]).head(1)
            others = pool.drop(baseline.index, errors="ignore")
            _draw_scores(left, done, others, baseline, confirmed, objective)
            higher = pool["score"].iloc[0] >= pool["score"].iloc[-1]  # best first
            _draw_taps(right, board, others, objective, higher)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120)
    finally:
        plt.close(fig)
    with atomic_open(out, "wb") as stream:
        stream.write(buffer.getvalue())
    return out


def _read(path: Path) -> pd.DataFrame:
    """Reads a CSV file of the run, with ids and taps as text."""
    table = pd.read_csv(path, dtype={"config": str, "taps": str})
    if "taps" in table:
        table["taps"] = table["taps"].fillna("")
    return table


def _true(value: object) -> bool:
    """Reads a boolean cell that may hold text or a gap."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def _draw_scores(
    ax: Axes,
    done: pd.DataFrame,
    others: pd.DataFrame,
    baseline: pd.DataFrame,
    confirmed: pd.DataFrame | None,
    objective: str,
) -> None:
    """Draws the best scores as bars, with the baseline and confirmed results."""
    shown = set(others.index[:_TOP_BARS]) | set(baseline.index)
    if confirmed is not None:  # drawn even if they fell out of the top
        shown |= set(done.index[done["config"].isin(confirmed["config"])])
    rows = done.loc[sorted(shown)]  # rows as in the file: ranked, best first
    is_base = rows.index.isin(baseline.index)
    labels = [_short(t) or "(no taps)" for t in rows["taps"]]
    labels = ["baseline (no taps)" if b else t for b, t in zip(is_base, labels)]
    values = list(rows["score"])
    if confirmed is not None:
        values += _draw_confirmed(ax, rows, is_base, confirmed, labels)
    low, high = _limits(values)
    ys = np.arange(len(rows))
    ax.barh(ys, rows["score"] - low, left=low, height=0.7, alpha=0.85, zorder=2,
            color=[_BASE if b else _BAR for b in is_base])
    if len(baseline):
        ax.axvline(baseline["score"].iloc[0], color=_BASE, linestyle="--",
                   linewidth=1.5, label="baseline score", zorder=3)
    ax.set_xlim(low, high)
    ax.set_yticks(ys, labels, fontsize=9)
    ax.set_ylim(max(len(rows), 6) - 0.5, -0.5)  # best on top; few bars stay thin
    ax.set_xlabel(f"bars: search score ({objective})" + (
        "; diamonds: confirmed test score" if confirmed is not None else ""))
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.set_title("top configurations against the baseline")
    if ax.get_legend_handles_labels()[0]:  # none without baseline or confirmed
        ax.legend(loc="lower right", fontsize=9, framealpha=0.9)


def _draw_confirmed(
    ax: Axes,
    rows: pd.DataFrame,
    is_base: np.ndarray,
    confirmed: pd.DataFrame,
    labels: list[str],
) -> list[float]:
    """Marks confirmed test means and intervals on their bars; stars labels.

    Returns:
        The ends of the intervals drawn, for the axis limits.
    """
    at = {config: y for y, config in enumerate(rows["config"])}
    # The baseline's test result goes on the baseline's bar, whatever its id.
    at[None] = int(np.argmax(is_base)) if is_base.any() else None
    no = pd.Series(False, index=confirmed.index)
    baseline = confirmed.get("baseline", no).map(_true)
    significant = confirmed.get("significant", no).map(_true)
    ends, label = [], "confirmed on test (95% CI)"
    for index, row in confirmed.iterrows():
        y, mean = at.get(None if baseline[index] else row["config"]), row["mean"]
        if y is None or pd.isna(mean):
            continue
        low, high = row.get("ci_low", np.nan), row.get("ci_high", np.nan)
        low, high = (mean, mean) if pd.isna(low) or pd.isna(high) else (low, high)
        ax.errorbar(mean, y, xerr=[[mean - low], [high - mean]], fmt="D", color=_TEST,
                    markersize=5, capsize=4, zorder=4, label=label)
        label, ends = None, ends + [low, high]  # one legend entry for all
        if significant[index] and not baseline[index]:
            labels[y] += _STAR
    if any(text.endswith(_STAR) for text in labels):
        ax.plot([], [], linestyle="none", marker="$★$", color=_TEST,
                label="significant vs baseline (Welch's t-test)")
    return ends


def _draw_taps(
    ax: Axes, board: pd.DataFrame, others: pd.DataFrame, objective: str, higher: bool
) -> None:
    """Draws each active tap of each configuration at its layer and weight."""
    from auxsearch.leaderboards import row_values
    from auxsearch.tapspace import active_taps

    taps = [active_taps(row_values(row)) for _, row in board.iterrows()]
    layers = list(dict.fromkeys(layer for config in taps for layer in config))
    ax.set_title("which taps the good configurations use")
    points = []  # (layer index, weight, score, among the top)
    for rank, (_, row) in enumerate(others.iterrows()):
        for layer, loss in active_taps(row_values(row)).items():
            if loss.weight > 0:
                points.append((layers.index(layer), loss.weight, row["score"],
                               rank < _TOP_POINTS))
    if not points:
        _message(ax, "no configuration uses a tap")
        return
    xs, ys, scores, top = (np.asarray(v) for v in zip(*points))
    top = top.astype(bool)
    # Spread one layer's points sideways; seeded, so a run always looks the same.
    xs = xs + np.random.default_rng(0).uniform(-0.2, 0.2, len(xs))
    low, high = scores.min(), scores.max()
    shades = {"cmap": "viridis" if higher else "viridis_r",  # bright is always good
              "vmin": min(low, high - 1e-3), "vmax": max(high, low + 1e-3)}
    ax.scatter(xs[~top], ys[~top], c=scores[~top], s=28, alpha=0.75, **shades)
    dots = ax.scatter(xs[top], ys[top], c=scores[top], s=120, edgecolors="black",
                      linewidths=1.5, **shades)
    ax.figure.colorbar(dots, ax=ax, label=objective)
    ax.plot([], [], "o", markersize=10, markerfacecolor="white",
            markeredgecolor="black", markeredgewidth=1.5,
            label=f"the top {_TOP_POINTS} configurations")
    used = [sum(1 for x, *_ in points if x == i) for i in range(len(layers))]
    ticks = [f"{name} ({k})" for name, k in zip(layers, used)]
    crowded = sum(map(len, ticks)) > 60  # slanted, or the names would overlap
    ax.set_xticks(range(len(layers)), ticks, fontsize=9, rotation=30 if crowded else 0,
                  ha="right" if crowded else "center", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(layers) - 0.4)
    ax.set_yscale("log")
    ax.margins(y=0.12)
    ax.set_xlabel(f"layer (how many of the {len(others)} configurations tap it)")
    ax.set_ylabel("auxiliary loss weight")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9, framealpha=0.9)


def _limits(values: list[float]) -> tuple[float, float]:
    """Returns x limits around the values, with a margin, never of width 0."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = high - low or max(abs(high) * 0.05, 0.01)
    return low - 0.15 * span, high + 0.15 * span


def _short(taps: str) -> str:
    """Shortens a long taps string for an axis label."""
    return taps if len(taps) <= _LABEL_CHARS else taps[: _LABEL_CHARS - 1] + "…"


def _message(ax: Axes, text: str) -> None:
    """Writes a short text in an otherwise empty panel."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=13, color="gray",
            transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
