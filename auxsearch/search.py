"""Runs the search a space describes and writes its leaderboard."""

from __future__ import annotations

import logging
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import keras
import keras_tuner as kt
import pandas as pd

from auxsearch.data import Dataset, load_data
from auxsearch.files import atomic_open
from auxsearch.hypermodel import AuxLossHyperModel
from auxsearch.leaderboards import PROJECT, leaderboard, trials, write_leaderboards
from auxsearch.models import model_builder
from auxsearch.errors import AuxSearchError
from auxsearch.space import SearchSpace, dump_space, load_space, objective_of, parse_space
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
    """Loads, checks and splits the space's data."""
    spec = space.data
    return load_data(spec.builtin or spec.file, spec.task, space.seed,
                     spec.validation_fraction, spec.test_fraction,
                     label=spec.label or None)


def make_hypermodel(space: SearchSpace, data: Dataset) -> AuxLossHyperModel:
    """Builds the space's `AuxLossHyperModel` for the data's shapes and task."""
    spec, taps = space.model, space.taps
    builder = model_builder(
        builtin=spec.builtin, builder=spec.builder, file=spec.file, unsafe=spec.unsafe,
        input_shape=data.input_shape, num_outputs=data.num_outputs,
        activation=data.activation,
    )
    objective = kt.Objective(*objective_of(space))
    return AuxLossHyperModel(
        builder,
        taps=taps.candidates,
        weight_range=taps.weight_range,
        task=data.task,
        kinds=taps.kinds,
        schedules=taps.schedules,
        head_units=taps.head_units,
        penalty=taps.penalty,
        off_after=taps.off_after,
        hints={layer: train.shape[1:] for layer, (train, _) in data.hints.items()},
        max_taps=taps.max_taps or None,
        max_epochs=space.hyperband.max_epochs,
        objective=objective,
        num_classes=data.num_classes if data.task == "multiclass" else None,
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
            self.check_resumable()
        keras.utils.set_random_seed(self.space.seed)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tuner = make_tuner(self.space, self.hypermodel, self.run_dir, overwrite,
                           on_trial_end)
        with atomic_open(self.run_dir / SPACE_FILENAME) as stream:
            stream.write(dump_space(self.space))
        logger.info("searching %s: %d candidate taps, run directory %s",
                    self.space.name, len(self.hypermodel.taps), self.run_dir)
        self._search(tuner, verbose, tensorboard)
        objective = self.hypermodel.objective
        tables = leaderboard(self.run_dir, objective), trials(self.run_dir, objective)
        path, _ = write_leaderboards(self.run_dir, tables=tables)
        return SearchResult(self.run_dir, path, *tables, time.perf_counter() - started)

    def _search(
        self, tuner: Hyperband, verbose: bool, tensorboard: str | Path | None
    ) -> None:
        """Trains the tuner's trials on the space's data (a `Chief` serves instead)."""
        tuner.search(
            self.data.x_train,
            self.data.labels("train"),
            validation_data=(self.data.x_val, self.data.labels("val")),
            verbose=1 if verbose else 0,
            # Keras Tuner gives each trial its own log directory and HParams.
            callbacks=[keras.callbacks.TensorBoard(str(tensorboard))] if tensorboard else [],
        )

    def check_resumable(self) -> None:
        """Refuses to resume a run directory searched with another space.

        `run` checks this itself; callers that report before running (the
        CLI, workers) call it first.

        Raises:
            AuxSearchError: If the run directory's `space.toml` differs; the
                message lists the keys that differ.
        """
        path = self.run_dir / SPACE_FILENAME
        if not path.exists():
            return
        try:  # both through the parser: keys left out mean their defaults
            before = _flat(tomllib.loads(dump_space(parse_space(
                path.read_text(encoding="utf-8"), self.space.name, str(path)))))
        except AuxSearchError as err:
            raise AuxSearchError(
                f"{self.run_dir} holds a search this version cannot resume ({err}); "
                "use --overwrite to discard it, or --out for another directory"
            ) from None
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
