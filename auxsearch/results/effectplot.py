"""The effects panel: per layer in the model's order, the effect of tapping it and its interval."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from auxsearch.core.verdicts import BETTER, WORSE
from auxsearch.results.effects import HELPS, HURTS, TOO_FEW, UNCLEAR
from auxsearch.results.plotkit import OTHER, VERDICTS, empty_panel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COLOURS = {HELPS: VERDICTS[BETTER], HURTS: VERDICTS[WORSE], UNCLEAR: "0.3"}
_TICKS = 40  # the most layer names written under the axis


def draw_effects(ax: Axes, table: pd.DataFrame, objective: str) -> None:
    """Draws each layer's effect (on minus off) and interval, coloured by its verdict.

    Layers with too few trials get a grey cross at 0 and no interval (theirs
    spans the whole range); the axis fits the other intervals.

    Args:
        ax: The panel.
        table: `explain`'s table (`effects.csv`), layers in the model's order.
        objective: The objective's name, for the axis.
    """
    if table.empty:
        empty_panel(ax, "no candidate layers to estimate effects for")
        return
    xs = np.arange(len(table))
    effect, low, high = (pd.to_numeric(table[c], errors="coerce").to_numpy()
                         for c in ("effect", "effect_low", "effect_high"))
    verdicts = table["verdict"].fillna(TOO_FEW).to_numpy()
    few = verdicts == TOO_FEW
    ax.axhline(0, color="black", linewidth=1, zorder=1)
    for verdict, colour in COLOURS.items():
        shown = verdicts == verdict
        if shown.any():
            ax.errorbar(xs[shown], effect[shown],
                        yerr=[effect[shown] - low[shown], high[shown] - effect[shown]],
                        fmt="o", color=colour, capsize=4, markersize=6, zorder=3,
                        label=f"{verdict} ({shown.sum()})")
    if few.any():
        ax.scatter(xs[few], np.zeros(few.sum()), marker="x", color=OTHER, zorder=2,
                   label=f"{TOO_FEW} ({few.sum()})")
    ends = np.concatenate([low[~few], high[~few]])
    ends = ends[np.isfinite(ends)]
    if len(ends):
        bottom, top = min(ends.min(), 0.0), max(ends.max(), 0.0)
        margin = 0.1 * (top - bottom) or 0.01
        ax.set_ylim(bottom - margin, top + margin)
    budget = table["budget"].dropna()
    at = f" at {int(budget.iloc[0])} epochs" if len(budget) else ""
    ax.set_title(f"the effect of tapping each layer{at}: mean {objective} with the tap "
                 "minus without, 95% interval")
    ax.set_ylabel(f"effect on {objective}")
    ax.set_xlabel("layer, in the model's order (input → output)")
    step = math.ceil(len(table) / _TICKS)
    names = [str(n) if i % step == 0 else "" for i, n in enumerate(table["layer"])]
    ax.set_xticks(xs, names, fontsize=8 if len(table) > 20 else 9,
                  rotation=90 if len(table) > 20 else 0)
    ax.set_xlim(-0.6, len(table) - 0.4)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(loc="best", fontsize=8.5, framealpha=0.9)
