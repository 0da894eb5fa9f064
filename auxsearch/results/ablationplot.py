"""The ablation panel: each variant of the confirmed winner, the winner minus it, by verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from auxsearch.core.verdicts import BETTER, NEEDED, NOT_NEEDED, NOT_SETTLED
from auxsearch.results.plotkit import VERDICTS, empty_panel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Needed: the tap helps (the winner's "better"); not needed: removing it is harmless.
COLOURS = {NEEDED: VERDICTS[BETTER], NOT_NEEDED: "tab:blue", NOT_SETTLED: VERDICTS[NOT_SETTLED]}


def draw_ablation(ax: Axes, table: pd.DataFrame, objective: str) -> None:
    """Draws each variant's difference (the winner minus it) and interval, by verdict.

    Args:
        ax: The panel.
        table: `ablation.csv`.
        objective: The objective's name, for the axis.
    """
    if table.empty:
        empty_panel(ax, "no ablation: nothing was confirmed better than the baseline")
        return
    ys = np.arange(len(table))[::-1]
    difference, low, high = (pd.to_numeric(table[c], errors="coerce").to_numpy()
                             for c in ("difference", "low", "high"))
    ax.axvline(0, color="black", linewidth=1, zorder=1)
    for y, d, lo, hi, verdict in zip(ys, difference, low, high, table["verdict"]):
        colour = COLOURS.get(verdict, "0.3")
        ax.errorbar(d, y, xerr=[[d - lo], [hi - d]], fmt="o", color=colour, capsize=3,
                    label=verdict, zorder=2)
    ax.set_yticks(ys, [f"{tap} ({variant})" for tap, variant in
                       zip(table["tap"], table["variant"])], fontsize=8)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="best")
    ax.set_xlabel(f"winner minus variant, test {objective.removeprefix('val_')} "
                  "(> 0: the tap helps)")
    ax.set_title(f"Ablation of config {table['config'].iloc[0]}: each tap removed",
                 fontsize=10)
