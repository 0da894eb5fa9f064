"""The scores panel: the best search scores against the baseline, and confirmed results."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from auxsearch.results.noise import NOISE_WIDTH, NoiseFloor
from auxsearch.results.plotkit import BAR, BASE, TEST, VERDICTS
from auxsearch.results.rows import is_true

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_TOP_BARS = 10  # configurations drawn as bars, besides the baseline
_LABEL_CHARS = 38
Bounds = tuple[float | None, float | None]  # a metric's range; None: unbounded


def draw_scores(ax: Axes, done: pd.DataFrame, others: pd.DataFrame, baseline: pd.DataFrame,
                confirmed: pd.DataFrame | None, objective: str,
                floor: NoiseFloor | None) -> None:
    """Draws the best scores as bars, with the baseline and confirmed results.

    Args:
        ax: The panel.
        done: The leaderboard's completed rows, ranked.
        others: The configurations to draw as bars, best first, baseline excluded.
        baseline: The baseline's row (none, or one).
        confirmed: `confirmed.csv`, if the run has one.
        objective: The objective's name, for the axis.
        floor: The baseline's noise floor, drawn as a band, if any.
    """
    shown = set(others.index[:_TOP_BARS]) | set(baseline.index)
    if confirmed is not None:  # drawn even if they fell out of the top
        shown |= set(done.index[done["config"].isin(confirmed["config"])])
    rows = done.loc[sorted(shown)]  # rows as in the file: ranked, best first
    is_base = rows.index.isin(baseline.index)
    labels = ["baseline (no taps)" if b else (t or "(no taps)") if len(t) <= _LABEL_CHARS
              else t[: _LABEL_CHARS - 1] + "…" for b, t in zip(is_base, rows["taps"])]
    values = list(rows["score"])
    if confirmed is not None:
        values += list(pd.to_numeric(confirmed["mean"], errors="coerce").dropna())
    # Accuracies stay in [0, 1], errors from 0 up (read from the values).
    bounds = _bounds(values)
    ends = [] if confirmed is None else _draw_confirmed(ax, rows, is_base, confirmed, labels)
    if floor is not None:
        mean, std, seeds = floor
        band = [_clip(mean - NOISE_WIDTH * std, bounds), _clip(mean + NOISE_WIDTH * std, bounds)]
        ax.axvspan(*band, color=BASE, alpha=0.15, zorder=1, linewidth=0,
                   label=f"baseline over {seeds} seeds: mean ± {NOISE_WIDTH} sd")
        ends += band
    low, high = _limits(values + ends, bounds)
    ys = np.arange(len(rows))
    within = rows["noise"].eq("within").to_numpy() & ~is_base
    bars = ax.barh(ys, rows["score"] - low, left=low, height=0.7, alpha=0.85, zorder=2,
                   color=[BASE if b else BAR for b in is_base])
    noisy = [bars[i] for i in np.flatnonzero(within)]
    for bar in noisy:  # lighter and hatched: the leaderboard calls it seed noise
        bar.set(facecolor="lightsteelblue", edgecolor=BAR, hatch="//", linewidth=0)
    if noisy:
        noisy[0].set_label("within the baseline's seed noise")
    if len(baseline):
        ax.axvline(baseline["score"].iloc[0], color=BASE, linestyle="--",
                   linewidth=1.5, label="baseline score", zorder=3)
    ax.set_xlim(low, high)
    ax.set_yticks(ys, labels, fontsize=8.5)
    ax.set_ylim(max(len(rows), 6) - 0.5, -0.5)  # best on top; few bars stay thin
    ax.set_xlabel(f"bars: search score ({objective})" + (
        "; diamonds: confirmed test mean, 95% interval" if confirmed is not None else ""))
    ax.grid(axis="x", alpha=0.3, zorder=0)
    ax.set_title("top configurations against the baseline")
    if ax.get_legend_handles_labels()[0]:  # none without baseline, noise or confirmed
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8.5,
                  frameon=False)


def _draw_confirmed(ax: Axes, rows: pd.DataFrame, is_base: np.ndarray, confirmed: pd.DataFrame,
                    labels: list[str]) -> list[float]:
    """Marks confirmed test means and intervals on their bars, by verdict.

    Adds the verdict, and `trained k/S` where the configuration or the
    baseline failed to train on some seed, to the bars' labels.

    Returns:
        The ends of the intervals drawn, for the axis limits.
    """
    at = {config: y for y, config in enumerate(rows["config"])}
    base_y = int(np.argmax(is_base)) if is_base.any() else None
    is_baseline = confirmed["baseline"].map(is_true)
    # The baseline's verdict is empty, which a CSV reads back as a gap.
    verdicts = confirmed["verdict"].map(lambda v: v if isinstance(v, str) else "")
    trained = confirmed["trained"].map(_trained)
    base_failed = any(t and t[0] < t[1] for t in trained[is_baseline.to_numpy()])
    ends, seen = [], set()
    for index, row in confirmed.iterrows():
        y = base_y if is_baseline[index] else at.get(row["config"])
        mean = pd.to_numeric(row["mean"], errors="coerce")
        if y is None or pd.isna(mean):
            continue
        low, high = float(row["ci_low"]), float(row["ci_high"])
        verdict = "" if is_baseline[index] else verdicts[index]
        key = ("confirmed: the baseline" if is_baseline[index]
               else f"confirmed: {verdict}" if verdict else "confirmed on test")
        ax.errorbar(mean, y, xerr=[[max(mean - low, 0)], [max(high - mean, 0)]], fmt="D",
                    color=VERDICTS.get(verdict, TEST), markersize=6, capsize=4, zorder=4,
                    label=None if key in seen else key)
        seen.add(key)
        k, words = trained[index], [verdict] if verdict else []
        if k and (k[0] < k[1] or base_failed):
            words.append(f"trained {k[0]}/{k[1]}")
        if words:
            labels[y] += "\n" + ", ".join(words)
        ends += [low, high]
    return ends


def _trained(value: object) -> tuple[int, int] | None:
    """Reads a `k/S` cell: seeds trained of seeds run."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
    return (int(match[1]), int(match[2])) if match else None


def _bounds(values: list[float]) -> Bounds:
    """The metric's range as its values show it: [0, 1], [0, inf) or none."""
    finite = [float(v) for v in values if np.isfinite(v)]
    if not finite or min(finite) < 0:
        return None, None
    return 0.0, (1.0 if max(finite) <= 1 else None)


def _clip(value: float, bounds: Bounds) -> float:
    low, high = bounds
    value = float(value) if low is None else max(float(value), low)
    return value if high is None else min(value, high)


def _limits(values: list[float], bounds: Bounds) -> tuple[float, float]:
    """Returns x limits around the values, with a margin, inside the metric's range."""
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    span = high - low or max(abs(high) * 0.05, 0.01)
    return _clip(low - 0.15 * span, bounds), _clip(high + 0.15 * span, bounds)
