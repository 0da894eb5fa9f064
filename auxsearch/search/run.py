"""Runs the search a space describes and writes its leaderboard.

Also applies a command line's overrides to a space (`with_overrides`), and
races the top of the search on more seeds (`search.race`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import keras
import keras_tuner as kt
import pandas as pd

from auxsearch.core import rules
from auxsearch.core.atomic import atomic_open
from auxsearch.core.errors import SpaceError
from auxsearch.core.rundir import RunDir, RunPath, new_run_id
from auxsearch.core.space import SearchSpace, dump_space, load_space, objective_of
from auxsearch.data.load import Dataset, load_data
from auxsearch.kt.errors import FatalTrialError
from auxsearch.models.builders import model_builder
from auxsearch.results.tables import leaderboard, trials
from auxsearch.results.write import write_leaderboards
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.search.race import Race, RaceHook, RaceResult, race_size
from auxsearch.search.tuner import Hyperband, TrialHook, hyperband_budget
from auxsearch.trial.preflight import preflight

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    """What a finished search leaves behind.

    Attributes:
        run_dir: The run directory.
        leaderboard_path: Its `leaderboard.csv` (`trials.csv` lies beside it).
        leaderboard: The same table, one row per configuration.
        trials: The table of `trials.csv`, one row per trial.
        seconds: The wall time of the search.
        pack: How many trials trained at once (`training.pack`, resolved).
    """

    run_dir: Path
    leaderboard_path: Path
    leaderboard: pd.DataFrame
    trials: pd.DataFrame
    seconds: float
    pack: int = 1


def data_source(space: SearchSpace) -> str:
    """The space's data as its messages name it: a built-in name, a file or a loader."""
    return space.data.builtin or space.data.file or space.data.loader


def load_dataset(space: SearchSpace) -> Dataset:
    """Loads, checks and splits the space's data."""
    spec = space.data
    return load_data(data_source(space), spec.task, space.seed,
                     spec.validation_fraction, spec.test_fraction,
                     label=spec.label or None, ignore_label=spec.ignore_label)


def make_hypermodel(space: SearchSpace, data: Dataset) -> AuxLossHyperModel:
    """Builds the space's `AuxLossHyperModel` for the data's shapes and task."""
    spec = space.model
    builder = model_builder(
        builtin=spec.builtin, builder=spec.builder, file=spec.file, unsafe=spec.unsafe,
        input_shape=data.input_shape, num_outputs=data.num_outputs,
        activation=data.activation,
    )
    objective = kt.Objective(*objective_of(space))
    return AuxLossHyperModel(
        builder, space.taps, space.training,
        task=data.task,
        hints={layer: train.shape[1:] for layer, (train, _) in data.hints.items()},
        max_epochs=space.hyperband.max_epochs,
        objective=objective,
        num_classes=data.num_classes if data.task == "multiclass" else None,
        seed=space.seed,
        name=space.name,
        ignore_label=data.ignore_label,
    )


def make_tuner(
    space: SearchSpace,
    hypermodel: AuxLossHyperModel,
    run_dir: RunPath,
    overwrite: bool = False,
    on_trial_end: TrialHook | None = None,
) -> Hyperband:
    """Creates (or reloads, unless `overwrite`) the run's Hyperband tuner."""
    band, run_dir = space.hyperband, RunDir(run_dir)
    return Hyperband(
        hypermodel,
        max_epochs=band.max_epochs,
        factor=band.factor,
        hyperband_iterations=band.hyperband_iterations,
        seed=space.seed,
        directory=str(run_dir.root),
        project_name=run_dir.project_name,
        overwrite=overwrite,
        on_trial_end=on_trial_end,
        pack=space.training.pack,
        sampler=band.sampler,
    )


def check_tensorboard(tensorboard: str | Path | None) -> None:
    """Refuses TensorBoard logging off the TensorFlow backend.

    Raises:
        SpaceError: If a log directory is given and the backend is another:
            Keras Tuner logs the hyperparameters (HParams) on TensorFlow alone.
    """
    if tensorboard and keras.backend.backend() != "tensorflow":
        raise SpaceError(f"TensorBoard logging needs KERAS_BACKEND=tensorflow; the backend "
                         f"is {keras.backend.backend()}")


def with_overrides(
    space: SearchSpace, seed: int | None = None, max_epochs: int | None = None,
    pack: int | str | None = None, sampler: str | None = None, race_seeds: int | None = None,
) -> SearchSpace:
    """Returns the space with another seed, epoch budget, pack, sampler or race (`None`: as it is).

    Raises:
        SpaceError: If an override breaks its setting's rule.
    """
    if seed is not None:
        space = dataclasses.replace(space, seed=rules.check("seed", seed))
    if max_epochs is not None:
        rules.check("max_epochs", max_epochs)
        space = dataclasses.replace(space, hyperband=dataclasses.replace(
            space.hyperband, max_epochs=max_epochs))
    if pack is not None:
        space = dataclasses.replace(space, training=dataclasses.replace(
            space.training, pack=rules.check("pack", pack)))
    if sampler is not None:
        space = dataclasses.replace(space, hyperband=dataclasses.replace(
            space.hyperband, sampler=rules.check("sampler", sampler)))
    if race_seeds is not None:
        space = dataclasses.replace(space, hyperband=dataclasses.replace(
            space.hyperband, race_seeds=rules.check("race_seeds", race_seeds)))
    return space


class Search:
    """A search, checked and ready to run: data loaded, taps resolved.

    Everything that can be wrong with the space (data, model, taps) fails
    here, before a run directory is created or a trial is trained.

    Args:
        space: The validated search space.
        run_dir: Where the tuner's project, `space.toml` and the leaderboard
            go (a path or a `RunDir`).

    Raises:
        AuxSearchError: If the model or the taps are not usable.
    """

    def __init__(self, space: SearchSpace, run_dir: RunPath) -> None:
        self.space = space
        self.run_dir = RunDir(run_dir)
        self.data = load_dataset(space)
        self.hypermodel = make_hypermodel(space, self.data)
        self._preflight: float | None = None

    def preflight(self) -> float:
        """Trains one step of a trial model on the data (see `preflight`), once.

        `run` does it before it writes anything; the CLI calls it first, so
        that a model or data that cannot train is refused before it prints.

        Returns:
            The seconds it took.

        Raises:
            AuxSearchError: Naming what cannot train, in one line.
        """
        if self._preflight is None:
            self._preflight = preflight(self.hypermodel.trainer, self.data, data_source(self.space))
        return self._preflight

    @property
    def planned(self) -> tuple[int, int]:
        """The trials and epochs the space's Hyperband settings imply."""
        band = self.space.hyperband
        return hyperband_budget(band.max_epochs, band.factor, band.hyperband_iterations)

    @property
    def planned_race(self) -> tuple[int, int]:
        """The most configurations the race may take, and its most epochs (noise floor in)."""
        band = self.space.hyperband
        configs = race_size(band.max_epochs, band.factor)
        raced = configs * band.race_seeds
        return (configs if band.race_seeds else 0,
                band.max_epochs * (raced + max(0, band.baseline_seeds - band.race_seeds)))

    def run(
        self,
        overwrite: bool = False,
        verbose: bool = False,
        on_trial_end: TrialHook | None = None,
        tensorboard: str | Path | None = None,
        on_race: RaceHook | None = None,
    ) -> SearchResult:
        """Runs the search and its race; writes `leaderboard.csv` into the run directory.

        An existing run directory is resumed: finished trials are kept, and
        the race's scores too. It must have been run with the same space;
        with `overwrite`, its search is discarded first. Tables that another
        search wrote here (a committed run's, say) are removed unread first
        (see `claim`). A search that fails (its trials kept failing, or
        a trial found a configuration error) still writes both CSVs, its
        failed trials included, before the error is raised.

        Args:
            overwrite: Boolean, whether to discard an existing search.
            verbose: Boolean, whether Keras prints its per-epoch progress.
            on_trial_end: Called with each finished `Trial` and the oracle.
            tensorboard: A log directory: every trial is logged there, with
                its hyperparameters for TensorBoard's HParams dashboard.
            on_race: Called with `(config, taps, seed, score, seconds)` after each
                training of the race and the noise floor (see `search.race`).

        Returns:
            The `SearchResult`.

        Raises:
            RunDirError: If the run directory holds another space's search.
            SearchFailed: If the search stopped because its trials failed.
            AuxSearchError: The configuration error a trial found (e.g. a
                `ModelError` for a builder that changed its architecture).
        """
        started = time.perf_counter()
        check_tensorboard(tensorboard)
        if not overwrite:
            self.check_resumable()
        self.preflight()
        keras.utils.set_random_seed(self.space.seed)
        run_id = self.claim(overwrite)
        tuner = make_tuner(self.space, self.hypermodel, self.run_dir, overwrite,
                           on_trial_end)
        self.run_dir.name_search(run_id)  # after the tuner: `overwrite` empties the project
        with atomic_open(self.run_dir.space) as stream:
            stream.write(dump_space(self.space))
        logger.info("searching %s: %d candidate taps, run directory %s",
                    self.space.name, len(self.hypermodel.taps), self.run_dir)
        try:
            self.train_trials(tuner, verbose, tensorboard)
            self.race(on_race)
        except FatalTrialError as err:
            # A trial's configuration error, wrapped to be one of Keras Tuner's
            # fatal errors: the search ends with the error it wraps (whose
            # traceback still shows the trial it was raised in).
            self._write_after_failure()
            raise err.error from None
        except Exception:  # SearchFailed, or an unexpected error
            self._write_after_failure()
            raise
        objective = self.hypermodel.objective
        tables = leaderboard(self.run_dir, objective), trials(self.run_dir, objective)
        path, _ = write_leaderboards(self.run_dir, tables=tables)
        return SearchResult(self.run_dir.root, path, *tables, time.perf_counter() - started,
                            tuner.packed)

    def claim(self, overwrite: bool = False) -> str:
        """Makes the run directory this search's; returns its run id.

        The run id is the one Keras Tuner's project was named with, or a new
        one for a new project (or one `overwrite` discards). Tables that
        carry another id, or none (another machine's committed run, a
        discarded search's), are removed unread, and one warning line names
        them. `run` calls this; the CLI calls it first, before its progress
        bar (the second call finds nothing left to remove). Call it only
        once the search is checked (`check_resumable`, `preflight`): it
        deletes.

        Args:
            overwrite: Boolean, whether the search here is about to be discarded.
        """
        run_id = (None if overwrite else self.run_dir.search_id()) or new_run_id()
        removed = self.run_dir.claim(run_id)
        if removed:
            logger.warning("%s held another search's %s: removed unread, this run writes its "
                           "own", self.run_dir, ", ".join(removed))
        return run_id

    def train_trials(
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

    def race(self, on_race: RaceHook | None = None) -> RaceResult:
        """Races the configurations that reached the full budget; trains the noise floor.

        See `search.race`: the configurations that reached `max_epochs`, and
        the baseline, train on up to `race_seeds` more paired seeds on the
        validation split, those a paired test calls worse than the leader
        dropping out; the baseline trains on `baseline_seeds` seeds at
        least (the noise floor). `race.csv` and `baseline_seeds.csv` keep
        the scores; a resumed search trains only what it lacks.
        """
        return Race(self.space, self.hypermodel, self.data, self.run_dir).run(on_race)

    def _write_after_failure(self) -> None:
        """Writes both CSVs of a search that raised, without hiding its error."""
        try:
            write_leaderboards(self.run_dir, self.hypermodel.objective)
        except Exception:  # the search's own error is the one to report
            logger.exception("could not write the leaderboards of %s", self.run_dir)

    def check_resumable(self) -> None:
        """Refuses to resume a run directory searched with another space.

        `run` checks this itself; callers that report before running (the
        CLI, workers) call it first. See `RunDir.check_resumable`.

        Raises:
            RunDirError: `discardable`, if the run directory's `space.toml`
                differs (the message lists the keys) or cannot be read.
        """
        self.run_dir.check_resumable(self.space)


def run_search(
    space: SearchSpace,
    run_dir: RunPath,
    overwrite: bool = False,
    verbose: bool = False,
    on_trial_end: TrialHook | None = None,
) -> SearchResult:
    """Searches the space and writes `leaderboard.csv` into `run_dir`.

    A shortcut for `Search(space, run_dir).run(...)`; see `Search.run`.
    """
    return Search(space, run_dir).run(overwrite, verbose, on_trial_end)


def open_run(run_dir: RunPath) -> Search:
    """Returns the `Search` of an existing run directory, as it was run.

    Raises:
        RunDirError: If `run_dir` is not a run directory of a search.
    """
    run_dir = RunDir(run_dir).require()
    return Search(load_space(run_dir.space), run_dir)
