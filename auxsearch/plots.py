"""Plots of a run: the leaderboard, and the confirmed results, as one PNG.

Left, the search scores against the baseline's, with the confirmed test
results and their verdicts. Right, the depth: per candidate layer, in the
model's order, how often the good configurations tap it and at what weights,
so a reader sees where along the depth supervision helped.
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from auxsearch import names
from auxsearch.errors import RunDirError
from auxsearch.files import atomic_open
from auxsearch.rundir import RunDir, RunPath

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_TOP_BARS = 10  # configurations drawn as bars, besides the baseline
_TOP_GOOD = 5  # the good configurations, where no noise floor tells them
_ALL_LAYERS = 40  # above this many candidates, only the layers the good ones tap
_TICKS = 40  # the most layer names written under the depth axis
_COUNTS = 25  # up to this many layers, each bar says its count
_LABEL_CHARS = 38
_BAR, _BASE, _TEST, _OTHER = "tab:blue", "tab:orange", "black", "0.6"
Bounds = tuple[float | None, float | None]  # a metric's range; None: unbounded
_VERDICTS = {"better": "tab:green", "worse": "tab:red", "no detectable difference": "0.45"}


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
    run = RunDir(run_dir)
    out = Path(out) if out is not None else run.plot
    fig = figure(run)
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=120)
    finally:
        _pyplot().close(fig)
    with atomic_open(out, "wb") as stream:
        stream.write(buffer.getvalue())
    return out


def figure(run_dir: RunPath) -> Figure:
    """Draws a run's results as a matplotlib figure; the caller closes it.

    Three axes, each with a `label`: "scores" (the best search scores as
    bars, hatched where the leaderboard says `noise = within`; the baseline's
    seed spread as a band; confirmed test means and intervals coloured by
    verdict, with `trained k/S` where the configuration or the baseline
    failed to train on some seed), "depth" (per layer in the model's order,
    the share of the good configurations that tap it, over that of all) and
    "weights" (each tap's weight; the good configurations coloured by score).
    The good configurations: at the full budget, better than the baseline
    beyond its seed noise; else the best ones above its score; else the
    best. Files written before noise floors and verdicts plot too.

    Raises:
        RunDirError: If the run directory has no `leaderboard.csv`.
    """
    run = RunDir(run_dir)
    if not run.leaderboard.is_file():
        raise RunDirError(f"{run}: no {run.leaderboard.name}; run a search first")
    board = _read(run.leaderboard)
    confirmed = _read(run.confirmed) if run.confirmed.is_file() else None
    plt = _pyplot()
    fig = plt.figure(figsize=(16, 7.5), layout="constrained")
    try:
        _draw(fig, run, board, confirmed)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def _draw(fig: Figure, run: RunDir, board: pd.DataFrame, confirmed: pd.DataFrame | None) -> None:
    """Draws the three panels of `figure`."""
    from auxsearch.leaderboards import noise_floor, run_objective

    grid = fig.add_gridspec(2, 2, width_ratios=[1.1, 1], height_ratios=[1, 2])
    scores = fig.add_subplot(grid[:, 0], label="scores")
    depth = fig.add_subplot(grid[0, 1], label="depth")
    weights = fig.add_subplot(grid[1, 1], sharex=depth, label="weights")
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
        for ax in (scores, depth):
            _message(ax, "no completed trials")
        weights.set_axis_off()
        return
    bases = done[pd.to_numeric(done["n_taps"], errors="coerce") == 0]
    # The baseline's row at the full budget if it has one, like the others.
    baseline = pd.concat([bases[bases.index.isin(pool.index)], bases]).head(1)
    others = pool.drop(baseline.index, errors="ignore")
    # Whether higher is better: the run's objective; without a space, the ranking.
    higher = (run_objective(run).direction == "max" if run.exists()
              else bool(pool["score"].iloc[0] >= pool["score"].iloc[-1]))
    floor = noise_floor(run, board) if "full_budget" in board else None  # old files
    _draw_scores(scores, done, others, baseline, confirmed, objective, higher, floor)
    good, which = _good(others, higher)
    _draw_depth(depth, weights, _layer_order(run, board),
                done.drop(baseline.index, errors="ignore"), good, which, objective,
                higher)


def _pyplot() -> Any:
    # Imported here: matplotlib is slow to import, and Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _read(path: Path) -> pd.DataFrame:
    """Reads a CSV file of the run, with ids and taps as text."""
    table = pd.read_csv(path, dtype={"config": str, "taps": str})
    if "taps" in table:
        table["taps"] = table["taps"].fillna("")
    return table


def _true(value: object) -> bool:
    """Reads a boolean cell that may hold text or a gap."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def _draw_scores(ax: Axes, done: pd.DataFrame, others: pd.DataFrame, baseline: pd.DataFrame,
                 confirmed: pd.DataFrame | None, objective: str, higher: bool,
                 floor: tuple[float, float, int] | None) -> None:
    """Draws the best scores as bars, with the baseline and confirmed results."""
    from auxsearch.leaderboards import NOISE_WIDTH

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
    ends = [] if confirmed is None else _draw_confirmed(ax, rows, is_base, confirmed,
                                                        labels, higher, bounds)
    if floor is not None:
        mean, std, seeds = floor
        band = [_clip(mean - NOISE_WIDTH * std, bounds), _clip(mean + NOISE_WIDTH * std, bounds)]
        ax.axvspan(*band, color=_BASE, alpha=0.15, zorder=1, linewidth=0,
                   label=f"baseline over {seeds} seeds: mean ± {NOISE_WIDTH} sd")
        ends += band
    low, high = _limits(values + ends, bounds)
    ys = np.arange(len(rows))
    within = _column(rows, "noise").eq("within").to_numpy() & ~is_base
    bars = ax.barh(ys, rows["score"] - low, left=low, height=0.7, alpha=0.85, zorder=2,
                   color=[_BASE if b else _BAR for b in is_base])
    noisy = [bars[i] for i in np.flatnonzero(within)]
    for bar in noisy:  # lighter and hatched: the leaderboard calls it seed noise
        bar.set(facecolor="lightsteelblue", edgecolor=_BAR, hatch="//", linewidth=0)
    if noisy:
        noisy[0].set_label("within the baseline's seed noise")
    if len(baseline):
        ax.axvline(baseline["score"].iloc[0], color=_BASE, linestyle="--",
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
                    labels: list[str], higher: bool, bounds: Bounds) -> list[float]:
    """Marks confirmed test means and intervals on their bars, by verdict.

    Adds the verdict, and `trained k/S` where the configuration or the
    baseline failed to train on some seed, to the bars' labels.

    Returns:
        The ends of the intervals drawn, for the axis limits.
    """
    at = {config: y for y, config in enumerate(rows["config"])}
    base_y = int(np.argmax(is_base)) if is_base.any() else None
    is_baseline = _column(confirmed, "baseline").map(_true)
    verdicts = _verdicts(confirmed, higher)
    trained = _column(confirmed, "trained").map(_trained)
    base_failed = any(t and t[0] < t[1] for t in trained[is_baseline.to_numpy()])
    ends, seen = [], set()
    for index, row in confirmed.iterrows():
        y = base_y if is_baseline[index] else at.get(row["config"])
        mean = pd.to_numeric(row["mean"], errors="coerce")
        if y is None or pd.isna(mean):
            continue
        low, high = (pd.to_numeric(row.get(end), errors="coerce") for end in ("ci_low", "ci_high"))
        # Old files have t intervals that leave the metric's range: clipped.
        low, high = ((mean, mean) if pd.isna(low) or pd.isna(high)
                     else (_clip(low, bounds), _clip(high, bounds)))
        verdict = "" if is_baseline[index] else verdicts[index]
        key = ("confirmed: the baseline" if is_baseline[index]
               else f"confirmed: {verdict}" if verdict else "confirmed on test")
        ax.errorbar(mean, y, xerr=[[max(mean - low, 0)], [max(high - mean, 0)]], fmt="D",
                    color=_VERDICTS.get(verdict, _TEST), markersize=6, capsize=4, zorder=4,
                    label=None if key in seen else key)
        seen.add(key)
        k, words = trained[index], [verdict] if verdict else []
        if k and (k[0] < k[1] or base_failed):
            words.append(f"trained {k[0]}/{k[1]}")
        if words:
            labels[y] += "\n" + ", ".join(words)
        ends += [low, high]
    return ends


def _verdicts(confirmed: pd.DataFrame, higher: bool) -> pd.Series:
    """Each row's verdict; from `significant` and the delta's sign in old files."""
    if "verdict" in confirmed:
        return confirmed["verdict"].map(lambda v: v if isinstance(v, str) else "")
    if "significant" not in confirmed:
        return pd.Series("", index=confirmed.index)
    signs = np.sign(pd.to_numeric(_column(confirmed, "delta_vs_baseline"), errors="coerce"))
    return pd.Series([("better" if s == (1 if higher else -1) else "worse")
                      if _true(significant) and s else "no detectable difference"
                      for significant, s in zip(confirmed["significant"], signs)],
                     index=confirmed.index)


def _trained(value: object) -> tuple[int, int] | None:
    """Reads a `k/S` cell: seeds trained of seeds run."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
    return (int(match[1]), int(match[2])) if match else None


def _good(others: pd.DataFrame, higher: bool) -> tuple[pd.DataFrame, str]:
    """The good configurations, and what makes them good, in words."""
    delta = pd.to_numeric(_column(others, "delta_vs_baseline"), errors="coerce")
    better = (delta > 0) if higher else (delta < 0)
    beyond = others[better & _column(others, "noise").eq("beyond")]
    if len(beyond):
        return beyond, f"the {len(beyond)} beyond the baseline's seed noise"
    above = others[better].head(_TOP_GOOD)
    if len(above):
        return above, f"the top {len(above)} above the baseline"
    top = others.head(_TOP_GOOD)
    return top, f"the top {len(top)}"


def _layer_order(run: RunDir, board: pd.DataFrame) -> list[str]:
    """The candidate layers in the model's order, as the search space has them.

    The order of the `tap/<layer>` hyperparameters in the trials' saved space
    (with `max_taps`, of the `tap/slot<i>` choices' layers); without saved
    trials, of the leaderboard's `tap/<layer>` columns (the same). Slots
    without saved trials give none: the caller sorts their layers by name.
    """
    try:
        states = run.trial_states()
    except (OSError, ValueError):  # a trial state half written by a running search
        states = []
    if states:
        order = []
        for hp in states[0]["hyperparameters"]["space"]:
            config = hp.get("config", {})
            parts = names.split_hp(str(config.get("name", "")))
            if parts and parts[0] == names.TAP:  # a slot's Choice holds the layers
                order += ([str(v) for v in config.get("values", []) if v != names.NO_TAP]
                          if hp.get("class_name") == "Choice" else [parts[1]])
        return list(dict.fromkeys(order))
    slots = [parts[1] for column in board.columns
             if (parts := names.split_hp(str(column))) and parts[0] == names.TAP]
    cells = {str(v) for slot in slots
             for v in board[names.hp_name(names.TAP, slot)].dropna()}
    return slots if cells <= {"True", "False"} else []


def _natural(name: str) -> list[Any]:
    """Sorts `conv2` before `conv10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _draw_depth(depth: Axes, weights: Axes, order: list[str], rows: pd.DataFrame,
                good: pd.DataFrame, which: str, objective: str, higher: bool) -> None:
    """Draws, per layer in the model's order, who taps it and at what weights."""
    from auxsearch.leaderboards import row_values
    from auxsearch.tapspace import active_taps

    taps = {index: {layer: loss.weight for layer, loss in
                    active_taps(row_values(row)).items() if loss.weight > 0}
            for index, row in rows.iterrows()}
    seen = {layer for chosen in taps.values() for layer in chosen}
    if not seen:
        _message(depth, "no configuration uses a tap")
        weights.set_axis_off()
        return
    order = [layer for layer in order if layer] + sorted(seen - set(order), key=_natural)
    picked = {layer for index in good.index for layer in taps.get(index, {})}
    # Many candidates: only the layers the good configurations tap, still in order.
    shown = order if len(order) <= _ALL_LAYERS else [
        layer for layer in order if layer in (picked or seen)]
    at = {layer: x for x, layer in enumerate(shown)}
    xs = np.arange(len(shown))
    counts_all, counts_good = (
        np.array([sum(layer in taps.get(i, {}) for i in part.index) for layer in shown])
        for part in (rows, good))
    depth.bar(xs, counts_all / len(rows), width=0.8, color=_OTHER, alpha=0.45, zorder=2,
              label=f"all {len(rows)} configurations searched")
    bars = depth.bar(xs, counts_good / max(len(good), 1), width=0.5, color=_BAR, zorder=3,
                     label=f"good: {which}")
    if len(shown) <= _COUNTS:
        depth.bar_label(bars, [str(k) if k else "" for k in counts_good], fontsize=8)
    depth.set(ylim=(0, 1.35), yticks=[0, 0.5, 1], ylabel="share that tap it")
    depth.tick_params(labelbottom=False)
    depth.grid(axis="y", alpha=0.3, zorder=0)
    depth.legend(loc="upper center", ncol=2, fontsize=8.5, framealpha=0.9)
    note = "" if len(shown) == len(order) else f" ({len(shown)} of {len(order)} layers shown)"
    depth.set_title(f"where along the depth the good configurations tap{note}")

    points = [(at[layer], weight, rows.at[index, "score"], index in good.index)
              for index, chosen in taps.items() for layer, weight in chosen.items()
              if layer in at]
    x, w, score, is_good = (np.asarray(v) for v in zip(*points))
    is_good = is_good.astype(bool)
    # Spread one layer's points sideways; seeded, so a run always looks the same.
    x = x + np.random.default_rng(0).uniform(-0.25, 0.25, len(x))
    weights.scatter(x[~is_good], w[~is_good], s=14, color=_OTHER, alpha=0.6, zorder=2,
                    label="other configurations")
    if is_good.any():
        low, high = score[is_good].min(), score[is_good].max()
        dots = weights.scatter(
            x[is_good], w[is_good], c=score[is_good], s=60, edgecolors="black",
            linewidths=1, zorder=3, label="good configurations",
            cmap="viridis" if higher else "viridis_r",  # bright is always good
            vmin=min(low, high - 1e-3), vmax=max(high, low + 1e-3))
        if high > low:  # one score needs no scale
            weights.figure.colorbar(dots, ax=[depth, weights], shrink=0.8,
                                    label=f"{objective} (good ones)")
    weights.set(yscale="log", ylabel="auxiliary loss weight",
                xlabel="layer, in the model's order (input → output)")
    weights.margins(y=0.1)
    weights.grid(axis="both" if len(shown) <= _COUNTS else "y", alpha=0.3, zorder=0)
    weights.legend(loc="best", fontsize=8.5, framealpha=0.9)
    step = math.ceil(len(shown) / _TICKS)  # at most _TICKS names, evenly spaced
    ticks = [name if i % step == 0 else "" for i, name in enumerate(shown)]
    crowded = sum(map(len, ticks)) > 60  # slanted, or the names would overlap
    weights.set_xticks(xs, ticks, fontsize=8 if crowded else 9,
                       rotation=(90 if len(shown) > 20 else 30) if crowded else 0,
                       ha="right" if crowded else "center", rotation_mode="anchor")
    weights.set_xlim(-0.6, len(shown) - 0.4)


def _column(table: pd.DataFrame, name: str) -> pd.Series:
    """A column, or gaps where an older file lacks it."""
    return table[name] if name in table else pd.Series(None, index=table.index, dtype=object)


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


def _message(ax: Axes, text: str) -> None:
    """Writes a short text in an otherwise empty panel."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=13, color="gray",
            transform=ax.transAxes)
    ax.set(xticks=[], yticks=[])
