"""The run directory: one object that knows where a search keeps everything.

A run directory holds the space it was searched with (`space.toml`), the
tables written from its state (`leaderboard.csv`, `trials.csv`,
`confirmed.csv`), the baseline's extra seeds (`baseline_seeds.csv`), the
plot (`leaderboard.png`), the workers' logs (`logs/`), confirm's finished
trainings (`confirm_scores/`) and Keras Tuner's project (`search/`:
`oracle.json`, and per trial `trial_<id>/trial.json` with its best epoch's
`checkpoint.weights.h5`). Every other module asks a `RunDir` for these
paths; none spells them. It imports no Keras: it reads Keras Tuner's JSON
files as plain JSON.

Each search has a run id. `search/run.json` holds the id of the search
Keras Tuner's project belongs to; `run.json` beside the tables holds the id
of the search that wrote them, and stays with them when only the tables are
kept (a committed run). A search that starts where another's tables lie
removes them unread (`claim`), and the race's and the noise floor's scores
are read only when they are the project's own (`owns_files`).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tomllib
import uuid
from pathlib import Path
from typing import Any

from auxsearch.core.atomic import save_json
from auxsearch.core.errors import AuxSearchError, RunDirError
from auxsearch.core.space import SearchSpace, dump_space, parse_space

SPACE = "space.toml"  # the space a run directory was searched with
LEADERBOARD = "leaderboard.csv"
TRIALS = "trials.csv"
CONFIRMED = "confirmed.csv"
ABLATION = "ablation.csv"  # the confirmed winner's taps, each removed (`confirm`'s ablation)
BASELINE_SEEDS = "baseline_seeds.csv"  # the baseline's extra seeds: the noise floor
RACE = "race.csv"  # the race's scores: configurations on more paired seeds
PLOT = "leaderboard.png"
EFFECTS = "effects.csv"  # each candidate layer's effect and importance (`explain`)
LOGS = "logs"  # the local workers' logs
PROJECT = "search"  # Keras Tuner's project directory
ORACLE = "oracle.json"  # Keras Tuner's oracle state
TRIAL_STATE = "trial.json"  # in each trial's directory
CHECKPOINT = "checkpoint.weights.h5"  # the best epoch's weights, per trial
MANIFEST = "run.json"  # the run id: beside the tables, and in the project
CONFIRM_SCORES = "confirm_scores"  # confirm's finished trainings, kept for a resume
# What a search writes beside its project: another search's are removed when one starts.
OUTPUTS = (LEADERBOARD, TRIALS, RACE, BASELINE_SEEDS, CONFIRMED, ABLATION, CONFIRM_SCORES,
           EFFECTS, PLOT)
# Space settings a resumed run may change: how fast its trials train, and what
# trains after them (the race, the noise floor), not the trials' results.
SPEED_ONLY = frozenset({"training.pack", "hyperband.race_seeds", "hyperband.baseline_seeds"})

RunPath = str | os.PathLike[str]  # a run directory: a path, or a `RunDir`


class RunDir:
    """The paths of one run directory, and what its saved state says.

    Args:
        root: The run directory (it need not exist yet), or another `RunDir`.
    """

    project_name = PROJECT

    def __init__(self, root: RunPath) -> None:
        self.root = Path(root)

    def __fspath__(self) -> str:
        return str(self.root)

    def __str__(self) -> str:
        return str(self.root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    @property
    def space(self) -> Path:
        """The space file the search ran with, overrides included."""
        return self.root / SPACE

    @property
    def leaderboard(self) -> Path:
        """`leaderboard.csv`: one row per configuration."""
        return self.root / LEADERBOARD

    @property
    def trials(self) -> Path:
        """`trials.csv`: one row per trial."""
        return self.root / TRIALS

    @property
    def confirmed(self) -> Path:
        """`confirmed.csv`: the retrained configurations' test scores."""
        return self.root / CONFIRMED

    @property
    def ablation(self) -> Path:
        """`ablation.csv`: the confirmed winner against itself without each tap."""
        return self.root / ABLATION

    @property
    def baseline_seeds(self) -> Path:
        """`baseline_seeds.csv`: the baseline's validation score on more seeds."""
        return self.root / BASELINE_SEEDS

    def baseline_scores(self) -> dict[int, float]:
        """The baseline's scores on its extra seeds, by seed.

        Empty before they train, and where `baseline_seeds.csv` is another search's.
        """
        if not self.baseline_seeds.is_file() or not self.owns_files():
            return {}
        with open(self.baseline_seeds, newline="") as stream:  # empty: it diverged
            return {int(row["seed"]): float(row["score"]) if row["score"] else math.nan
                    for row in csv.DictReader(stream)}

    @property
    def race(self) -> Path:
        """`race.csv`: the race's scores, a row per configuration and seed."""
        return self.root / RACE

    def race_scores(self) -> dict[str, dict[int, float | None]]:
        """The race's scores so far: per configuration, by seed (None: diverged).

        Empty before the race, and where `race.csv` is another search's.
        """
        if not self.race.is_file() or not self.owns_files():
            return {}
        scores: dict[str, dict[int, float | None]] = {}
        with open(self.race, newline="") as stream:
            for row in csv.DictReader(stream):
                scores.setdefault(row["config"], {})[int(row["seed"])] = (
                    float(row["score"]) if row["score"] else None)
        return scores

    @property
    def confirm_scores(self) -> Path:
        """`confirm_scores/`: confirm's finished trainings, one file each."""
        return self.root / CONFIRM_SCORES

    @property
    def manifest(self) -> Path:
        """`run.json`: the run id of the search that wrote the tables here."""
        return self.root / MANIFEST

    def files_id(self) -> str | None:
        """The run id the tables here carry (`run.json`), or None."""
        return _run_id_in(self.manifest)

    def search_id(self) -> str | None:
        """The run id of the search in Keras Tuner's project (`search/run.json`), or None."""
        return _run_id_in(self.project / MANIFEST)

    def run_id(self) -> str | None:
        """The run id of the search here: its project's, else (tables only) its tables'."""
        return self.search_id() or self.files_id()

    def owns_files(self) -> bool:
        """Whether the tables here are the search's here.

        True where no project names its search (a run as committed keeps only
        its tables, and they are its own), or where both carry the same id.
        """
        search = self.search_id()
        return search is None or search == self.files_id()

    def claim(self, run_id: str) -> list[str]:
        """Makes the tables here the search `run_id`'s: another search's go, unread.

        Files carrying another id, or none, are removed (every name of
        `OUTPUTS` present), and `run.json` is written with `run_id`. Nothing
        changes where the tables are already that search's (a resume).

        Args:
            run_id: The run id of the search about to write here.

        Returns:
            The names removed, in `OUTPUTS` order (none: empty).
        """
        if self.files_id() == run_id:
            return []
        removed = []
        for name in OUTPUTS:
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
            else:
                continue
            removed.append(name)
        self.root.mkdir(parents=True, exist_ok=True)
        save_json(self.manifest, {"run_id": run_id})
        return removed

    def name_search(self, run_id: str) -> None:
        """Writes the run id of the search into Keras Tuner's project (`search/run.json`)."""
        self.project.mkdir(parents=True, exist_ok=True)
        save_json(self.project / MANIFEST, {"run_id": run_id})

    @property
    def effects(self) -> Path:
        """`effects.csv`: each candidate layer's effect and importance."""
        return self.root / EFFECTS

    @property
    def plot(self) -> Path:
        """The default PNG of `plots.plot_run`."""
        return self.root / PLOT

    @property
    def logs(self) -> Path:
        """The directory of the local workers' logs."""
        return self.root / LOGS

    @property
    def project(self) -> Path:
        """Keras Tuner's project directory.

        `search/` inside a run directory; the directory itself when it is a
        bare Keras Tuner project (it holds `oracle.json`), so the tables can
        be read from one too.
        """
        return self.root if (self.root / ORACLE).exists() else self.root / PROJECT

    @property
    def oracle(self) -> Path:
        """Keras Tuner's `oracle.json`."""
        return self.project / ORACLE

    def trial_dir(self, trial_id: str) -> Path:
        """The directory of one trial: `search/trial_<id>`."""
        return self.project / f"trial_{trial_id}"

    def checkpoint(self, trial_id: str) -> Path:
        """The weights of a trial's best epoch."""
        return self.trial_dir(trial_id) / CHECKPOINT

    def trial_state(self, trial_id: str) -> dict[str, Any]:
        """Reads one trial's `trial.json`.

        Raises:
            RunDirError: If the trial has no saved state.
        """
        path = self.trial_dir(trial_id) / TRIAL_STATE
        if not path.is_file():
            raise RunDirError(f"{path}: no such trial state")
        return _read_json(path)

    def has_trials(self) -> bool:
        """Whether the tuner's trial states are here (a committed run keeps only its CSVs)."""
        return any(self.project.glob(f"trial_*/{TRIAL_STATE}"))

    def trial_states(self) -> list[dict[str, Any]]:
        """Reads every trial's `trial.json`, in trial order.

        Returns:
            Keras Tuner's trial states as dicts; a `NaN` score reads as
            `float("nan")`. Empty if no trial started.
        """
        return [_read_json(path) for path in
                sorted(self.project.glob(f"trial_*/{TRIAL_STATE}"))]

    def max_epochs(self) -> int | None:
        """The epoch budget the oracle saved, or `None` before it saved one."""
        if not self.oracle.is_file():
            return None
        return _read_json(self.oracle).get("max_epochs")

    def exists(self) -> bool:
        """Whether this is a run directory of a search (it has `space.toml`)."""
        return self.space.is_file()

    def require(self) -> RunDir:
        """Returns this run directory, if it is one.

        Raises:
            RunDirError: If it has no `space.toml`.
        """
        if not self.exists():
            raise RunDirError(f"{self.root}: not a run directory of a search (no {SPACE})")
        return self

    def require_trials(self, what: str) -> RunDir:
        """Returns this run directory, if the tuner's trial states are here.

        Args:
            what: What needs them, e.g. "to rebuild the CSVs from".

        Raises:
            RunDirError: If there are none (a run as committed keeps only its CSVs).
        """
        if not self.has_trials():
            raise RunDirError(f"{self.root}: no saved trials {what} (no trial states in "
                              f"{self.project}: a committed run keeps only its CSVs); "
                              "nothing written")
        return self

    def check_resumable(self, space: SearchSpace) -> None:
        """Refuses to resume a search of another space.

        Both spaces go through the parser, so keys left out mean their
        defaults. Nothing to check where no search ran yet.

        Args:
            space: The space about to be searched here.

        Raises:
            RunDirError: `discardable`, if the saved space differs (the
                message lists the keys that differ) or cannot be read.
        """
        if not self.space.exists():
            return
        try:
            saved = parse_space(self.space.read_text(encoding="utf-8"), space.name,
                                str(self.space))
        except (AuxSearchError, OSError, UnicodeDecodeError) as err:
            raise RunDirError(f"{self.root} holds a search this version cannot resume "
                              f"({err})", discardable=True) from None
        before = _flat(tomllib.loads(dump_space(saved)))
        now = _flat(tomllib.loads(dump_space(space)))
        changed = [f"{key}: {before.get(key)!r} -> {now.get(key)!r}"
                   for key in sorted(set(before) | set(now))
                   if before.get(key) != now.get(key) and key not in SPEED_ONLY]
        if changed:
            raise RunDirError(f"{self.root} holds a search of another space "
                              f"({'; '.join(changed)})", discardable=True)


def new_run_id() -> str:
    """A fresh run id: random, so that no two searches share one."""
    return uuid.uuid4().hex[:16]


def _run_id_in(path: Path) -> str | None:
    """The run id a `run.json` holds; None if there is none, or it cannot be read."""
    try:
        run_id = _read_json(path).get("run_id")
    except (OSError, ValueError, AttributeError):  # missing, or not a JSON object
        return None
    return run_id if isinstance(run_id, str) and run_id else None


def _read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)  # NaN scores parse as float nan


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
