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
    "AuxLoss": "auxsearch.core.tapspace",
    "AuxLossHyperModel": "auxsearch.search.hypermodel",
    "AuxSearchError": "auxsearch.core.errors",
    "BaselineHyperbandOracle": "auxsearch.search.tuner",
    "DataError": "auxsearch.core.errors",
    "Dataset": "auxsearch.data.dataset",
    "Hyperband": "auxsearch.search.tuner",
    "ModelError": "auxsearch.core.errors",
    "PackedTrial": "auxsearch.trial.trainer",
    "RunDir": "auxsearch.core.rundir",
    "RunDirError": "auxsearch.core.errors",
    "Search": "auxsearch.search.run",
    "SearchFailed": "auxsearch.core.errors",
    "SearchResult": "auxsearch.search.run",
    "SearchSpace": "auxsearch.core.space",
    "SpaceError": "auxsearch.core.errors",
    "Tap": "auxsearch.models.taps",
    "TapError": "auxsearch.core.errors",
    "TapSpace": "auxsearch.core.tapspace",
    "TapSpec": "auxsearch.core.space",
    "TrainingSpec": "auxsearch.core.space",
    "ValidationReport": "auxsearch.search.validate",
    "confirm": "auxsearch.confirmation.run",
    "explain": "auxsearch.results.explain",
    "export_model": "auxsearch.search.export",
    "find_taps": "auxsearch.models.taps",
    "format_taps": "auxsearch.core.tapspace",
    "hyperband_budget": "auxsearch.search.tuner",
    "leaderboard": "auxsearch.results.tables",
    "list_taps": "auxsearch.search.validate",
    "load_data": "auxsearch.data.load",
    "load_space": "auxsearch.core.space",
    "model_builder": "auxsearch.models.builders",
    "open_run": "auxsearch.search.run",
    "plot_run": "auxsearch.results.plots",
    "run_search": "auxsearch.search.run",
    "select_taps": "auxsearch.models.taps",
    "trials": "auxsearch.results.tables",
    "validate": "auxsearch.search.validate",
    "with_overrides": "auxsearch.search.run",
    "write_leaderboards": "auxsearch.results.write",
}

__all__ = [  # as `_EXPORTS` names them; sorted
    "AuxLoss", "AuxLossHyperModel", "AuxSearchError", "BaselineHyperbandOracle", "DataError",
    "Dataset", "Hyperband", "ModelError", "PackedTrial", "RunDir", "RunDirError", "Search",
    "SearchFailed", "SearchResult", "SearchSpace", "SpaceError", "Tap", "TapError", "TapSpace",
    "TapSpec", "TrainingSpec", "ValidationReport", "confirm", "explain", "export_model",
    "find_taps",
    "format_taps", "hyperband_budget", "leaderboard", "list_taps", "load_data", "load_space",
    "model_builder", "open_run", "plot_run", "run_search", "select_taps", "trials", "validate",
    "with_overrides", "write_leaderboards",
]

if TYPE_CHECKING:
    from auxsearch.confirmation.run import confirm
    from auxsearch.core.errors import (
        AuxSearchError,
        DataError,
        ModelError,
        RunDirError,
        SearchFailed,
        SpaceError,
        TapError,
    )
    from auxsearch.core.rundir import RunDir
    from auxsearch.core.space import SearchSpace, TapSpec, TrainingSpec, load_space
    from auxsearch.core.tapspace import AuxLoss, TapSpace, format_taps
    from auxsearch.data.dataset import Dataset
    from auxsearch.data.load import load_data
    from auxsearch.models.builders import model_builder
    from auxsearch.models.taps import Tap, find_taps, select_taps
    from auxsearch.results.explain import explain
    from auxsearch.results.plots import plot_run
    from auxsearch.results.tables import leaderboard, trials
    from auxsearch.results.write import write_leaderboards
    from auxsearch.search.export import export_model
    from auxsearch.search.hypermodel import AuxLossHyperModel
    from auxsearch.search.run import Search, SearchResult, open_run, run_search, with_overrides
    from auxsearch.search.tuner import BaselineHyperbandOracle, Hyperband, hyperband_budget
    from auxsearch.search.validate import ValidationReport, list_taps, validate


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'auxsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
