"""The depth panels: per layer in the model's order, who taps it and at what weights."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from auxsearch.core import names
from auxsearch.core.rundir import RunDir
from auxsearch.core.tapspace import active_taps
from auxsearch.results.plotkit import BAR, OTHER, empty_panel
from auxsearch.results.rows import row_values

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_TOP_GOOD = 5  # the good configurations, where no noise floor tells them
_ALL_LAYERS = 40  # above this many candidates, only the layers the good ones tap
_TICKS = 40  # the most layer names written under the depth axis
_COUNTS = 25  # up to this many layers, each bar says its count


def good_configurations(others: pd.DataFrame, higher: bool) -> tuple[pd.DataFrame, str]:
    """Returns the good configurations, and what makes them good, in words.

    At the full budget, better than the baseline beyond its seed noise;
    else the best ones above its score; else the best.

    Args:
        others: The leaderboard's completed rows but the baseline's, ranked.
        higher: Boolean, whether a higher score is better.
    """
    delta = pd.to_numeric(others["delta_vs_baseline"], errors="coerce")
    better = (delta > 0) if higher else (delta < 0)
    beyond = others[better & others["noise"].eq("beyond")]
    if len(beyond):
        return beyond, f"the {len(beyond)} beyond the baseline's seed noise"
    above = others[better].head(_TOP_GOOD)
    if len(above):
        return above, f"the top {len(above)} above the baseline"
    top = others.head(_TOP_GOOD)
    return top, f"the top {len(top)}"


def layer_order(run_dir: RunDir, board: pd.DataFrame) -> list[str]:
    """The candidate layers in the model's order, as the search space has them.

    The order of the `tap/<layer>` hyperparameters in the trials' saved space
    (with `max_taps`, of the `tap/slot<i>` choices' layers); without saved
    trials, of the leaderboard's `tap/<layer>` columns (the same). Slots
    without saved trials give none: the caller sorts their layers by name.
    """
    try:
        states = run_dir.trial_states()
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


def draw_depth(depth: Axes, weights: Axes, order: list[str], rows: pd.DataFrame,
               good: pd.DataFrame, which: str, objective: str, higher: bool) -> None:
    """Draws, per layer in the model's order, who taps it and at what weights.

    Args:
        depth: The upper panel: the share of configurations that tap each layer.
        weights: The lower panel: each tap's weight.
        order: The layers in the model's order (`layer_order`).
        rows: The completed configurations but the baseline.
        good: The good ones among them (`good_configurations`).
        which: What makes them good, in words.
        objective: The objective's name, for the colour scale.
        higher: Boolean, whether a higher score is better.
    """
    taps = {index: {layer: loss.weight for layer, loss in
                    active_taps(row_values(row)).items() if loss.weight > 0}
            for index, row in rows.iterrows()}
    seen = {layer for chosen in taps.values() for layer in chosen}
    if not seen:
        empty_panel(depth, "no configuration uses a tap")
        weights.set_axis_off()
        return
    order = with_unlisted([layer for layer in order if layer], seen)
    picked = {layer for index in good.index for layer in taps.get(index, {})}
    # Many candidates: only the layers the good configurations tap, still in order.
    shown = order if len(order) <= _ALL_LAYERS else [
        layer for layer in order if layer in (picked or seen)]
    at = {layer: x for x, layer in enumerate(shown)}
    xs = np.arange(len(shown))
    counts_all, counts_good = (
        np.array([sum(layer in taps.get(i, {}) for i in part.index) for layer in shown])
        for part in (rows, good))
    depth.bar(xs, counts_all / len(rows), width=0.8, color=OTHER, alpha=0.45, zorder=2,
              label=f"all {len(rows)} configurations searched")
    bars = depth.bar(xs, counts_good / max(len(good), 1), width=0.5, color=BAR, zorder=3,
                     label=f"good: {which}")
    if len(shown) <= _COUNTS:
        depth.bar_label(bars, [str(k) if k else "" for k in counts_good], fontsize=8)
    depth.set(ylim=(0, 1.35), yticks=[0, 0.5, 1], ylabel="share that tap it")
    depth.tick_params(labelbottom=False)
    depth.grid(axis="y", alpha=0.3, zorder=0)
    depth.legend(loc="upper center", ncol=2, fontsize=8.5, framealpha=0.9)
    note = "" if len(shown) == len(order) else f" ({len(shown)} of {len(order)} layers shown)"
    depth.set_title(f"where along the depth the good configurations tap{note}")
    _draw_weights(weights, depth, shown, at, taps, rows, good, objective, higher)


def _draw_weights(weights: Axes, depth: Axes, shown: list[str], at: dict[str, int],
                  taps: dict[Any, dict[str, float]], rows: pd.DataFrame, good: pd.DataFrame,
                  objective: str, higher: bool) -> None:
    """Draws each tap's weight at its layer; the good configurations coloured by score."""
    points = [(at[layer], weight, rows.at[index, "score"], index in good.index)
              for index, chosen in taps.items() for layer, weight in chosen.items()
              if layer in at]
    x, w, score, is_good = (np.asarray(v) for v in zip(*points))
    is_good = is_good.astype(bool)
    # Spread one layer's points sideways; seeded, so a run always looks the same.
    x = x + np.random.default_rng(0).uniform(-0.25, 0.25, len(x))
    weights.scatter(x[~is_good], w[~is_good], s=14, color=OTHER, alpha=0.6, zorder=2,
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
    xs = np.arange(len(shown))
    step = math.ceil(len(shown) / _TICKS)  # at most _TICKS names, evenly spaced
    ticks = [name if i % step == 0 else "" for i, name in enumerate(shown)]
    crowded = sum(map(len, ticks)) > 60  # slanted, or the names would overlap
    weights.set_xticks(xs, ticks, fontsize=8 if crowded else 9,
                       rotation=(90 if len(shown) > 20 else 30) if crowded else 0,
                       ha="right" if crowded else "center", rotation_mode="anchor")
    weights.set_xlim(-0.6, len(shown) - 0.4)


def with_unlisted(order: list[str], seen: set[str]) -> list[str]:
    """The layers of `order`, then those of `seen` it lacks, `conv2` before `conv10`.

    A slot space's layers have no saved order without the trial states.
    """
    return order + sorted(seen - set(order), key=_natural)


def _natural(name: str) -> list[Any]:
    """Sorts `conv2` before `conv10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
