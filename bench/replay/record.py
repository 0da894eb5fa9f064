"""`record`: trains every configuration of a discretised space on several seeds.

The weights become a small grid (`weight_grid`), so the space is a finite
list of configurations (`TapSpace.configurations`). Each trains with the
search's own trial code (`AuxLossHyperModel.build` and `fit`: the traced
model, seeded weights and batches, schedules, the NaN stop) for the full
budget, once per seed. Seeds are paired, as `confirm` pairs them: a seed
gives every configuration the same initial weights of the user's model and
the same batch order, so two configurations on one seed differ only by
their taps.

A Hyperband promotion continues from its parent's best epoch with a fresh
optimizer, so it is not exactly the continuous curve the table records.
`chains` measures how far apart they are on a sample: the same
configuration and seed trained as the most aggressive bracket's chain
(e.g. 1 -> 3 -> 9 epochs), each round's score beside the continuous
curve's over the same epochs.

Recording writes `curves.partial.csv` as it goes; run again with the same
arguments and it trains only what is missing. Run again with more `--seeds`
on a finished table and it adds the new seeds' trainings.
"""

from __future__ import annotations

import json
import logging
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from auxsearch.core.atomic import atomic_open, save_json
from auxsearch.core.space import SearchSpace, dump_space
from auxsearch.core.tapspace import TapSpace, active_taps, format_taps
from auxsearch.kt.oracle import hyperband_brackets
from auxsearch.kt.project import SaveBestEpoch
from auxsearch.search.run import Search, with_overrides
from auxsearch.trial import checkpoints
from auxsearch.trial.report import chance_score
from bench.replay.table import COLUMNS, CURVES, META

logger = logging.getLogger(__name__)

PARTIAL = "curves.partial.csv"


def weight_grid(low: float, high: float, points: int) -> tuple[float, ...]:
    """`points` weights that stand for `[low, high]` sampled log-uniformly.

    The centres of `points` equal bins of the log range, to two significant
    digits: [0.01, 1] with 2 points gives 0.032 and 0.32.
    """
    logs = np.linspace(math.log10(low), math.log10(high), 2 * points + 1)[1::2]
    return tuple(float(f"{10 ** v:.2g}") for v in logs)


def discretise(space: TapSpace, weights: tuple[float, ...]) -> TapSpace:
    """The same tap space, its weights on a grid."""
    return TapSpace(space.layers, space.weight_range, space.kinds, space.schedules,
                    space.head_units, space.hint_layers, space.max_taps, weight_grid=weights)


def table_seeds(space: SearchSpace, count: int) -> list[int]:
    """The table's seeds: none of them is the search's or its baseline's own."""
    return [space.seed * 1000 + 7 * i for i in range(1, count + 1)]


class Recorder:
    """Trains a space's configurations and writes its table.

    Args:
        space: The search space (a loaded `SearchSpace`).
        out: The table's folder.
        seeds: Integer, the seeds per configuration (at least 3).
        weights: The weight grid, or `None` for `grid_points` centres.
        grid_points: Integer, the size of the default grid.
        max_epochs: Optional integer, the full budget (default: the space's).
        chains: Integer, how many (configuration, seed) pairs get the chain
            measurement.
    """

    def __init__(self, space: SearchSpace, out: Path, seeds: int = 3,
                 weights: tuple[float, ...] | None = None, grid_points: int = 2,
                 max_epochs: int | None = None, chains: int = 24) -> None:
        if seeds < 3:
            raise ValueError(f"--seeds must be at least 3; got {seeds}")
        self.space = with_overrides(space, max_epochs=max_epochs)
        self.out = Path(out)
        self.work = Path(tempfile.mkdtemp(prefix="replay-record-"))
        self.search = Search(self.space, self.work / "run")
        hm = self.search.hypermodel
        low, high = hm.space.weight_range
        self.weights = tuple(weights) if weights else weight_grid(low, high, grid_points)
        self.tapspace = discretise(hm.space, self.weights)
        self.configs = self.tapspace.configurations()
        self.seeds = table_seeds(self.space, seeds)
        self.twins = {seed: hm.seeded(seed, paired=True) for seed in self.seeds}
        self.chains = chains

    @property
    def max_epochs(self) -> int:
        return self.space.hyperband.max_epochs

    def plan(self) -> str:
        """One line: what recording trains."""
        trainings = len(self.configs) * len(self.seeds)
        return (f"{self.space.name}: {len(self.configs)} configurations (weights "
                f"{', '.join(f'{w:g}' for w in self.weights)}) x {len(self.seeds)} seeds x "
                f"{self.max_epochs} epochs = {trainings} trainings, "
                f"{trainings * self.max_epochs} epochs; + {self.chains} promotion chains")

    def run(self, progress: Any = None) -> Path:
        """Trains what is missing and writes the table; returns its folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        partial = self.out / PARTIAL
        if (self.out / META).is_file():  # extending: the same configurations, by id
            recorded = [c["values"] for c in json.loads((self.out / META).read_text())["configs"]]
            if recorded != self.configs:
                raise ValueError(f"{self.out} holds another space's table")
        if not partial.is_file():  # a finished table's rows are kept, and extended
            old = (pd.read_csv(self.out / CURVES) if (self.out / CURVES).is_file()
                   else pd.DataFrame(columns=COLUMNS))
            with atomic_open(partial) as stream:
                old.to_csv(stream, index=False)
        rows = pd.read_csv(partial)
        done = set(zip(rows["config"], rows["seed"]))
        todo = [(c, s) for c in range(len(self.configs)) for s in self.seeds
                if (c, s) not in done]
        if todo:  # traced once, untimed: a training's seconds are the trial's own
            self.train(0, self.seeds[0], epochs=1)
        started = time.perf_counter()
        with open(partial, "a") as stream:
            for n, (config, seed) in enumerate(todo, start=1):
                rows = self.train(config, seed)
                pd.DataFrame(rows, columns=COLUMNS).to_csv(stream, header=False, index=False)
                stream.flush()
                if progress:
                    progress(n, len(todo), time.perf_counter() - started)
        started = time.perf_counter()
        chains = self.measure_chains()
        self.write(pd.read_csv(partial), chains, time.perf_counter() - started)
        partial.unlink()
        return self.out

    def train(self, config: int, seed: int, epochs: int | None = None) -> list[list[Any]]:
        """Trains one configuration on one seed for the full budget; its rows."""
        twin = self.twins[seed]
        hp = twin.hyperparameters(self.configs[config])
        log = _EpochLog(twin.objective.name)
        try:
            twin.fit(hp, twin.build(hp), *self._data(), epochs=epochs or self.max_epochs,
                     verbose=0, callbacks=[log])
        except kt.errors.FailedTrialError:  # the loss diverged (NaN or infinite)
            log.diverged()
        return [[config, seed, *row] for row in log.rows]

    def measure_chains(self) -> list[dict[str, Any]]:
        """Trains a sample of pairs as the most aggressive bracket's promotion chain."""
        rounds = hyperband_brackets(self.max_epochs, self.space.hyperband.factor)[-1]
        ends = [epochs for _, epochs in rounds]
        if len(ends) < 2 or not self.chains:
            return []
        rng = random.Random(self.space.seed)
        pairs = rng.sample([(c, s) for c in range(len(self.configs)) for s in self.seeds],
                           min(self.chains, len(self.configs) * len(self.seeds)))
        found = []
        for config, seed in pairs:
            twin = self.twins[seed]
            hp = twin.hyperparameters(self.configs[config])
            objective = twin.objective
            parent, start, scores = None, 0, []
            with tempfile.TemporaryDirectory() as folder:
                for i, end in enumerate(ends):
                    model = twin.build(hp)
                    if parent:  # its weights, and a fresh optimizer (as a promotion)
                        checkpoints.read(model, parent)
                    path = str(Path(folder) / f"round{i}.weights.h5")
                    try:
                        history = twin.fit(hp, model, *self._data(), epochs=end,
                                           initial_epoch=start, verbose=0,
                                           callbacks=[SaveBestEpoch(objective, path)])
                    except kt.errors.FailedTrialError:  # diverged: the chain ends
                        scores.append(None)
                        break
                    values = history.history[objective.name]
                    scores.append(float(max(values) if objective.direction == "max"
                                        else min(values)))
                    parent, start = path, end
            found.append({"config": config, "seed": seed, "ends": ends[:len(scores)],
                          "scores": scores})
        return found

    def write(self, frame: pd.DataFrame, chains: list[dict], chain_seconds: float) -> None:
        frame = frame.sort_values(["config", "seed", "epoch"])
        objective = self.search.hypermodel.objective
        data = self.search.data
        meta = {
            "name": self.space.name,
            "space": dump_space(self.space),
            "objective": objective.name,
            "direction": objective.direction,
            "chance": chance_score(self.search.hypermodel.task, objective.name,
                                   (data.x_val, data.labels("val"))),
            "examples": {"train": len(data.y_train), "val": len(data.y_val),
                         "test": len(data.y_test)},
            "max_epochs": self.max_epochs,
            "factor": self.space.hyperband.factor,
            "seeds": self.seeds,
            "paired": True,
            "tapspace": {
                "layers": self.tapspace.layers, "weight_range": self.tapspace.weight_range,
                "weight_grid": self.tapspace.weight_grid, "kinds": self.tapspace.kinds,
                "schedules": self.tapspace.schedules, "head_units": self.tapspace.head_units,
                "hint_layers": self.tapspace.hint_layers, "max_taps": self.tapspace.max_taps,
            },
            "configs": [{"id": i, "taps": format_taps(active_taps(values)), "values": values}
                        for i, values in enumerate(self.configs)],
            "chains": chains,
            # The trainings' own seconds, summed (a resumed recording's too).
            "record": {"seconds": round(float(
                frame.groupby(["config", "seed"])["seconds"].max().sum()), 1),
                "trainings": int(frame.groupby(["config", "seed"]).ngroups),
                "chain_seconds": round(chain_seconds, 1),
                "keras": keras.__version__, "backend": keras.backend.backend()},
        }
        with atomic_open(self.out / CURVES, "wb") as stream:
            frame.to_csv(stream, index=False, compression={"method": "gzip", "mtime": 0},
                         float_format="%.6g")
        save_json(self.out / META, meta)

    def _data(self) -> tuple[Any, ...]:
        data = self.search.data
        return data.x_train, data.labels("train"), (data.x_val, data.labels("val"))


class _EpochLog(keras.callbacks.Callback):
    """Each epoch's objective, losses and cumulative seconds, as the trial logged them."""

    def __init__(self, objective: str) -> None:
        super().__init__()
        self.objective = objective
        self.rows: list[list[Any]] = []
        self.started = time.perf_counter()
        self.epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.epoch = epoch + 1
        self.rows.append([self.epoch, logs.get(self.objective), logs.get("loss"),
                          logs.get("val_loss"), round(time.perf_counter() - self.started, 3), 0])

    def diverged(self) -> None:
        self.rows.append([self.epoch + 1, None, None, None,
                          round(time.perf_counter() - self.started, 3), 1])

