"""The run directory: one object that knows where a search keeps everything.

A run directory holds the space it was searched with (`space.toml`), the
tables written from its state (`leaderboard.csv`, `trials.csv`,
`confirmed.csv`), the baseline's extra seeds (`baseline_seeds.csv`), the
plot (`leaderboard.png`), the workers' logs (`logs/`)
and Keras Tuner's project (`search/`: `oracle.json`, and per trial
`trial_<id>/trial.json` with its best epoch's `checkpoint.weights.h5`).
Every other module asks a `RunDir` for these paths; none spells them. It
imports no Keras: it reads Keras Tuner's JSON files as plain JSON.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auxsearch.core.errors import AuxSearchError, RunDirError

if TYPE_CHECKING:
    from auxsearch.core.space import SearchSpace

SPACE = "space.toml"  # the space a run directory was searched with
LEADERBOARD = "leaderboard.csv"
TRIALS = "trials.csv"
CONFIRMED = "confirmed.csv"
BASELINE_SEEDS = "baseline_seeds.csv"  # the baseline's extra seeds: the noise floor
RACE = "race.csv"  # the race's scores: configurations on more paired seeds
PLOT = "leaderboard.png"
EFFECTS = "effects.csv"  # each candidate layer's effect and importance (`explain`)
LOGS = "logs"  # the local workers' logs
PROJECT = "search"  # Keras Tuner's project directory
ORACLE = "oracle.json"  # Keras Tuner's oracle state
TRIAL_STATE = "trial.json"  # in each trial's directory
CHECKPOINT = "checkpoint.weights.h5"  # the best epoch's weights, per trial
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
    def baseline_seeds(self) -> Path:
        """`baseline_seeds.csv`: the baseline's validation score on more seeds."""
        return self.root / BASELINE_SEEDS

    def baseline_scores(self) -> dict[int, float]:
        """The baseline's scores on its extra seeds, by seed (none yet: empty)."""
        if not self.baseline_seeds.is_file():
            return {}
        import csv

        with open(self.baseline_seeds, newline="") as stream:  # empty: it diverged
            return {int(row["seed"]): float(row["score"]) if row["score"] else math.nan
                    for row in csv.DictReader(stream)}

    @property
    def race(self) -> Path:
        """`race.csv`: the race's scores, a row per configuration and seed."""
        return self.root / RACE

    def race_scores(self) -> dict[str, dict[int, float | None]]:
        """The race's scores so far: per configuration, by seed (None: diverged)."""
        if not self.race.is_file():
            return {}
        import csv

        scores: dict[str, dict[int, float | None]] = {}
        with open(self.race, newline="") as stream:
            for row in csv.DictReader(stream):
                scores.setdefault(row["config"], {})[int(row["seed"])] = (
                    float(row["score"]) if row["score"] else None)
        return scores

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
        from auxsearch.core.space import dump_space, parse_space

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
