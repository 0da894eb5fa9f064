"""What the plot modules share: matplotlib on demand, colours, small drawing helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auxsearch.core.verdicts import BETTER, EQUIVALENT, NO_DIFFERENCE, NOT_SETTLED, WORSE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

BAR, BASE, TEST, OTHER = "tab:blue", "tab:orange", "black", "0.6"
VERDICTS = {BETTER: "tab:green", WORSE: "tab:red", EQUIVALENT: "tab:blue",
            NO_DIFFERENCE: "0.45", NOT_SETTLED: "tab:purple"}  # a colour per verdict


def pyplot() -> Any:
    """Returns `matplotlib.pyplot`, with the Agg backend."""
    # Imported here: matplotlib is slow to import, and Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def empty_panel(ax: Axes, text: str) -> None:
    """Writes a short text in an otherwise empty panel."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=13, color="gray",
            transform=ax.transAxes)
    ax.set(xticks=[], yticks=[])
