"""Runs the search a space describes and writes its leaderboard."""

from __future__ import annotations

import functools
import logging
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import keras
import pandas as pd

from auxsearch.data import BUILTIN_DATA, Dataset
from auxsearch.files import atomic_open
from auxsearch.hypermodel import AuxLossHyperModel
from auxsearch.leaderboards import PROJECT, leaderboard, trials, write_leaderboards
from auxsearch.models import BUILTIN_MODELS
from auxsearch.errors import AuxSearchError
from auxsearch.space import SearchSpace, dump_space, load_space
from auxsearch.tuner import Hyperband, TrialHook, hyperband_budget

logger = logging.getLogger(__name__)

SPACE_FILENAME = "space.toml"  # the space a run directory was searched with


@dataclass(frozen=True)
class SearchResult:
    """What a finished search leaves behind.

    Attributes:
        run_dir: The run directory.
        leaderboard_path: Its `leaderboard.csv` (`trials.csv` lies beside it).
        leaderboard: The same table, one row per configuration.
        trials: The table of `trials.csv`, one row per trial.
        seconds: The wall time of the search.
    """

    run_dir: Path
    leaderboard_path: Path
    leaderboard: pd.DataFrame
    trials: pd.DataFrame
    seconds: float


def load_dataset(space: SearchSpace) -> Dataset:
    """Loads and splits the space's data."""
    spec = space.data
    return BUILTIN_DATA[spec.builtin](
        space.seed, spec.validation_fraction, spec.test_fraction
    )


def make_hypermodel(space: SearchSpace, data: Dataset) -> AuxLossHyperModel:
    """Builds the space's `AuxLossHyperModel` for the data's shapes."""
    builder = functools.partial(
        BUILTIN_MODELS[space.model.builtin], data.input_shape, data.num_classes
    )
    return AuxLossHyperModel(
        builder,
        taps=space.taps.candidates,
        weight_range=space.taps.weight_range,
        num_classes=data.num_classes,
        optimizer=space.training.optimizer,
        learning_rate=space.training.learning_rate,
        batch_size=space.training.batch_size,
        seed=space.seed,
        name=space.name,
    )


def make_tuner(
    space: SearchSpace,
    hypermodel: AuxLossHyperModel,
    run_dir: Path,
    overwrite: bool = False,
    on_trial_end: TrialHook | None = None,
) -> Hyperband:
    """Creates (or reloads, unless `overwrite`) the run's Hyperband tuner."""
    band = space.hyperband
    return Hyperband(
        hypermodel,
        max_epochs=band.max_epochs,
        factor=band.factor,
        hyperband_iterations=band.hyperband_iterations,
        seed=space.seed,
        directory=str(run_dir),
        project_name=PROJECT,
        overwrite=overwrite,
        on_trial_end=on_trial_end,
    )


class Search:
    """A search, checked and ready to run: data loaded, taps resolved.

    Everything that can be wrong with the space (data, model, taps) fails
    here, before a run directory is created or a trial is trained.

    Args:
        space: The validated search space.
        run_dir: Where the tuner's project, `space.toml` and the leaderboard go.

    Raises:
        AuxSearchError: If the model or the taps are not usable.
    """

    def __init__(self, space: SearchSpace, run_dir: str | Path) -> None:
        self.space = space
        self.run_dir = Path(run_dir)
        self.data = load_dataset(space)
        self.hypermodel = make_hypermodel(space, self.data)

    @property
    def planned(self) -> tuple[int, int]:
        """The trials and epochs the space's Hyperband settings imply."""
        band = self.space.hyperband
        return hyperband_budget(band.max_epochs, band.factor, band.hyperband_iterations)

    def run(
        self,
        overwrite: bool = False,
        verbose: bool = False,
        on_trial_end: TrialHook | None = None,
        tensorboard: str | Path | None = None,
    ) -> SearchResult:
        """Runs the search and writes `leaderboard.csv` into the run directory.

        An existing run directory is resumed: finished trials are kept. It
        must have been run with the same space; with `overwrite`, its search
        is discarded first.

        Args:
            overwrite: Boolean, whether to discard an existing search.
            verbose: Boolean, whether Keras prints its per-epoch progress.
            on_trial_end: Called with each finished `Trial` and the oracle.
            tensorboard: A log directory: every trial is logged there, with
                its hyperparameters for TensorBoard's HParams dashboard.

        Returns:
            The `SearchResult`.
        """
        started = time.perf_counter()
        if not overwrite:
            self._check_resumable()
        keras.utils.set_random_seed(self.space.seed)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tuner = make_tuner(self.space, self.hypermodel, self.run_dir, overwrite,
                           on_trial_end)
        with atomic_open(self.run_dir / SPACE_FILENAME) as stream:
            stream.write(dump_space(self.space))
        logger.info("searching %s: %d candidate taps, run directory %s",
                    self.space.name, len(self.hypermodel.taps), self.run_dir)
        tuner.search(
            self.data.x_train,
            self.data.y_train,
            validation_data=(self.data.x_val, self.data.y_val),
            verbose=1 if verbose else 0,
            # Keras Tuner gives each trial its own log directory and HParams.
            callbacks=[keras.callbacks.TensorBoard(str(tensorboard))] if tensorboard else [],
        )
        objective = self.hypermodel.objective
        tables = leaderboard(self.run_dir, objective), trials(self.run_dir, objective)
        path, _ = write_leaderboards(self.run_dir, tables=tables)
        return SearchResult(self.run_dir, path, *tables, time.perf_counter() - started)


    def _check_resumable(self) -> None:
        """Refuses to resume a run directory searched with another space."""
        path = self.run_dir / SPACE_FILENAME
        if not path.exists():
            return
        before = _flat(tomllib.loads(path.read_text(encoding="utf-8")))
        now = _flat(tomllib.loads(dump_space(self.space)))
        changed = [f"{key}: {before.get(key)!r} -> {now.get(key)!r}"
                   for key in sorted(set(before) | set(now)) if before.get(key) != now.get(key)]
        if changed:
            raise AuxSearchError(
                f"{self.run_dir} holds a search of another space ({'; '.join(changed)}); "
                "use --overwrite to discard it, or --out for another directory"
            )


def _flat(table: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_search(
    space: SearchSpace,
    run_dir: str | Path,
    overwrite: bool = False,
    verbose: bool = False,
    on_trial_end: TrialHook | None = None,
) -> SearchResult:
    """Searches the space and writes `leaderboard.csv` into `run_dir`.

    A shortcut for `Search(space, run_dir).run(...)`; see `Search.run`.
    """
    return Search(space, run_dir).run(overwrite, verbose, on_trial_end)


def open_run(run_dir: str | Path) -> Search:
    """Returns the `Search` of an existing run directory, as it was run."""
    return Search(load_space(run_space(run_dir)), run_dir)


def run_space(run_dir: str | Path) -> Path:
    """Returns the space file of a run directory.

    Raises:
        AuxSearchError: If `run_dir` is not a run directory of `auxsearch run`.
    """
    path = Path(run_dir) / SPACE_FILENAME
    if not path.exists():
        raise AuxSearchError(
            f"{run_dir}: not a run directory of `auxsearch run` (no {SPACE_FILENAME})"
        )
    return path
