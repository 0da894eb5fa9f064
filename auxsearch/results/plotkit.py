"""What the plot modules share: matplotlib on demand, colours, small drawing helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

BAR, BASE, TEST, OTHER = "tab:blue", "tab:orange", "black", "0.6"
VERDICTS = {"better": "tab:green", "worse": "tab:red", "equivalent": "tab:blue",
            "no detectable difference": "0.45"}


def pyplot() -> Any:
    """Returns `matplotlib.pyplot`, with the Agg backend."""
    # Imported here: matplotlib is slow to import, and Agg needs no display.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def is_true(value: object) -> bool:
    """Reads a boolean cell that may hold text or a gap."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def empty_panel(ax: Axes, text: str) -> None:
    """Writes a short text in an otherwise empty panel."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=13, color="gray",
            transform=ax.transAxes)
    ax.set(xticks=[], yticks=[])
