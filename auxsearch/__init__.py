"""auxsearch: search auxiliary losses on intermediate layers of Keras models.

Which layers of a model should get an auxiliary loss, and with what weight?
auxsearch attaches the candidates to the model as a multi-output model,
searches them with Keras Tuner's Hyperband on the main output's validation
metric, and ranks the trials in a CSV leaderboard.

The names below load on first use, so that `python -m auxsearch --help`
does not wait for TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AuxLossHyperModel": "auxsearch.hypermodel",
    "AuxLoss": "auxsearch.heads",
    "AuxSearchError": "auxsearch.errors",
    "BaselineHyperbandOracle": "auxsearch.tuner",
    "DataError": "auxsearch.errors",
    "Dataset": "auxsearch.data",
    "Hyperband": "auxsearch.tuner",
    "ModelError": "auxsearch.errors",
    "Search": "auxsearch.search",
    "SearchResult": "auxsearch.search",
    "SearchSpace": "auxsearch.space",
    "SpaceError": "auxsearch.errors",
    "Tap": "auxsearch.taps",
    "confirm": "auxsearch.confirmation",
    "export_model": "auxsearch.export",
    "open_run": "auxsearch.search",
    "plot_run": "auxsearch.plots",
    "TapError": "auxsearch.errors",
    "find_taps": "auxsearch.taps",
    "hyperband_budget": "auxsearch.tuner",
    "leaderboard": "auxsearch.leaderboards",
    "load_data": "auxsearch.data",
    "load_space": "auxsearch.space",
    "model_builder": "auxsearch.models",
    "run_search": "auxsearch.search",
    "select_taps": "auxsearch.taps",
    "trials": "auxsearch.leaderboards",
    "write_leaderboards": "auxsearch.leaderboards",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from auxsearch.confirmation import confirm
    from auxsearch.data import Dataset, load_data
    from auxsearch.errors import AuxSearchError, DataError, ModelError, SpaceError, TapError
    from auxsearch.heads import AuxLoss
    from auxsearch.models import model_builder
    from auxsearch.hypermodel import AuxLossHyperModel
    from auxsearch.leaderboards import leaderboard, trials, write_leaderboards
    from auxsearch.export import export_model
    from auxsearch.plots import plot_run
    from auxsearch.search import Search, SearchResult, open_run, run_search
    from auxsearch.space import SearchSpace, load_space
    from auxsearch.taps import Tap, find_taps, select_taps
    from auxsearch.tuner import BaselineHyperbandOracle, Hyperband, hyperband_budget


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'auxsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
