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

# The public API: each name and the module that defines it.
_EXPORTS = {
    "AuxLoss": "auxsearch.tapspace",
    "AuxLossHyperModel": "auxsearch.hypermodel",
    "AuxSearchError": "auxsearch.errors",
    "BaselineHyperbandOracle": "auxsearch.tuner",
    "DataError": "auxsearch.errors",
    "Dataset": "auxsearch.data",
    "Hyperband": "auxsearch.tuner",
    "ModelError": "auxsearch.errors",
    "PackedTrial": "auxsearch.packing",
    "RunDir": "auxsearch.rundir",
    "RunDirError": "auxsearch.errors",
    "Search": "auxsearch.search",
    "SearchFailed": "auxsearch.errors",
    "SearchResult": "auxsearch.search",
    "SearchSpace": "auxsearch.space",
    "SpaceError": "auxsearch.errors",
    "Tap": "auxsearch.taps",
    "TapError": "auxsearch.errors",
    "TapSpace": "auxsearch.tapspace",
    "ValidationReport": "auxsearch.validation",
    "confirm": "auxsearch.confirmation",
    "export_model": "auxsearch.export",
    "find_taps": "auxsearch.taps",
    "format_taps": "auxsearch.tapspace",
    "hyperband_budget": "auxsearch.tuner",
    "leaderboard": "auxsearch.leaderboards",
    "list_taps": "auxsearch.validation",
    "load_data": "auxsearch.data",
    "load_space": "auxsearch.space",
    "model_builder": "auxsearch.models",
    "open_run": "auxsearch.search",
    "plot_run": "auxsearch.plots",
    "run_search": "auxsearch.search",
    "select_taps": "auxsearch.taps",
    "trials": "auxsearch.leaderboards",
    "validate": "auxsearch.validation",
    "with_overrides": "auxsearch.search",
    "write_leaderboards": "auxsearch.leaderboards",
}

__all__ = [  # as `_EXPORTS` names them; sorted
    "AuxLoss", "AuxLossHyperModel", "AuxSearchError", "BaselineHyperbandOracle", "DataError",
    "Dataset", "Hyperband", "ModelError", "PackedTrial", "RunDir", "RunDirError", "Search",
    "SearchFailed", "SearchResult", "SearchSpace", "SpaceError", "Tap", "TapError", "TapSpace",
    "ValidationReport", "confirm", "export_model", "find_taps", "format_taps", "hyperband_budget",
    "leaderboard", "list_taps", "load_data", "load_space", "model_builder", "open_run",
    "plot_run", "run_search", "select_taps", "trials", "validate", "with_overrides",
    "write_leaderboards",
]

if TYPE_CHECKING:
    from auxsearch.confirmation import confirm
    from auxsearch.data import Dataset, load_data
    from auxsearch.errors import (
        AuxSearchError,
        DataError,
        ModelError,
        RunDirError,
        SearchFailed,
        SpaceError,
        TapError,
    )
    from auxsearch.export import export_model
    from auxsearch.hypermodel import AuxLossHyperModel
    from auxsearch.leaderboards import leaderboard, trials, write_leaderboards
    from auxsearch.models import model_builder
    from auxsearch.plots import plot_run
    from auxsearch.rundir import RunDir
    from auxsearch.search import Search, SearchResult, open_run, run_search, with_overrides
    from auxsearch.space import SearchSpace, load_space
    from auxsearch.taps import Tap, find_taps, select_taps
    from auxsearch.tapspace import AuxLoss, TapSpace, format_taps
    from auxsearch.tuner import BaselineHyperbandOracle, Hyperband, hyperband_budget
    from auxsearch.validation import ValidationReport, list_taps, validate


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'auxsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
