"""A replay table: every configuration of a discretised space, trained on several seeds.

A table is a folder of two files, written by `record` (see `bench.replay`):

- `table.json`: what was recorded. The space as run (`space`, its TOML
  text), the objective and its direction, `max_epochs`, the `seeds`, the
  tap space (`tapspace`: candidate layers, the weight grid, kinds,
  schedules, head widths, slots), one entry per configuration (`configs`:
  its id, its hyperparameter values and its taps as the leaderboard writes
  them), the promotion-chain measurement (`chains`) and what recording cost.
- `curves.csv.gz`: one row per configuration, seed and epoch (1-based):
  `config, seed, epoch, objective, loss, val_loss, seconds, diverged`.
  `seconds` is cumulative from the start of the training; a training that
  diverged has a last row with `diverged = 1` and no objective.

`Table` holds both as arrays for replaying: `curves[c, s, e]`, the
objective of configuration c, seed s, after epoch e+1 (NaN where it
diverged, and after), and each configuration's truth, its mean over seeds
at the full budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

META = "table.json"
CURVES = "curves.csv.gz"
COLUMNS = ["config", "seed", "epoch", "objective", "loss", "val_loss", "seconds", "diverged"]


@dataclass
class Table:
    """A recorded table, ready to replay.

    Attributes:
        path: The table's folder.
        meta: The contents of `table.json`.
        curves: Float array `(configs, seeds, epochs)` of the objective; NaN
            from the epoch a training diverged.
        seconds: Float array of the same shape, cumulative training seconds.
    """

    path: Path
    meta: dict[str, Any]
    curves: np.ndarray
    seconds: np.ndarray

    @property
    def name(self) -> str:
        """The table's name: its space's."""
        return self.meta["name"]

    @property
    def maximize(self) -> bool:
        """Whether a higher objective is better."""
        return self.meta["direction"] == "max"

    @property
    def max_epochs(self) -> int:
        """The full budget, in epochs."""
        return int(self.meta["max_epochs"])

    @property
    def configs(self) -> list[dict[str, Any]]:
        """Each configuration's hyperparameter values, by id."""
        return [c["values"] for c in self.meta["configs"]]

    @cached_property
    def baseline(self) -> int:
        """The id of the no-tap configuration."""
        return next(c["id"] for c in self.meta["configs"] if not c["taps"])

    @cached_property
    def final(self) -> np.ndarray:
        """`(configs, seeds)`: each training's objective at the full budget.

        A training that diverged counts as the chance level the table
        recorded (`meta["chance"]`): a diverged model predicts no better.
        """
        final = self.curves[:, :, -1]
        return np.where(np.isnan(final), self.meta["chance"], final)

    @cached_property
    def truth(self) -> np.ndarray:
        """Each configuration's true score: its mean over seeds at the full budget."""
        return self.final.mean(axis=1)

    @cached_property
    def best(self) -> float:
        """The best true score of the table."""
        return float(self.truth.max() if self.maximize else self.truth.min())

    @cached_property
    def epsilon(self) -> float:
        """The table's noise: the median over configurations of the seed sd at full budget."""
        return float(np.median(self.final.std(axis=1, ddof=1)))

    def regret(self, config: int | np.ndarray) -> np.ndarray:
        """How far a configuration's truth is from the best (>= 0, in the objective's units)."""
        truth = self.truth[config]
        return np.asarray(self.best - truth if self.maximize else truth - self.best)

    def score(self, config: int, seed: int, start: int, end: int) -> float:
        """The score of a trial that trains epochs `start + 1 .. end` of a curve.

        As Keras Tuner scores it: the best objective over its own epochs.
        NaN if the training diverged on or before `end`.
        """
        values = self.curves[config, seed, start:end]
        if np.isnan(values).any():
            return float("nan")
        return float(values.max() if self.maximize else values.min())


def load_table(path: str | Path) -> Table:
    """Reads a table folder (or its `table.json`).

    Raises:
        FileNotFoundError: If it holds no table.
    """
    path = Path(path)
    if path.name == META:
        path = path.parent
    if not (path / META).is_file():
        raise FileNotFoundError(f"{path}: not a replay table (no {META})")
    meta = json.loads((path / META).read_text())
    frame = pd.read_csv(path / CURVES)
    shape = (len(meta["configs"]), len(meta["seeds"]), int(meta["max_epochs"]))
    curves, seconds = np.full(shape, np.nan), np.full(shape, np.nan)
    seed_index = {seed: i for i, seed in enumerate(meta["seeds"])}
    c = frame["config"].to_numpy()
    s = frame["seed"].map(seed_index).to_numpy()
    e = frame["epoch"].to_numpy() - 1
    curves[c, s, e] = np.where(frame["diverged"].to_numpy() == 1, np.nan,
                               frame["objective"].to_numpy())
    seconds[c, s, e] = frame["seconds"].to_numpy()
    return Table(path, meta, curves, seconds)
