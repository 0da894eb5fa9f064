"""One measurement per function, each run in a fresh process by `bench`.

Usage: python -m bench.measures NAME [ARGS...]; prints one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras
import keras_tuner as kt

from auxsearch.core.space import load_space
from auxsearch.core.tapspace import AuxLoss
from auxsearch.models.taps import find_taps
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.search.run import Search
from bench.workloads import TWO_TAPS, space_file


def search(run_dir: str, max_epochs: str = "", workload: str = "default") -> dict:
    """auxsearch's search of a workload, timed like the reference: tuner and search.

    The same trials as the reference: without the baseline's extra seeds (the
    noise floor, which the reference has no counterpart of) and the race,
    with the preflight.

    Args:
        run_dir: The run directory.
        max_epochs: Hyperband's max_epochs; empty: the workload's.
        workload: `default` (the default space) or `segmentation`.
    """
    import dataclasses

    space = _space(workload)
    band = dataclasses.replace(space.hyperband, baseline_seeds=0, race_seeds=0)
    if max_epochs:
        band = dataclasses.replace(band, max_epochs=int(max_epochs))
    space = dataclasses.replace(space, hyperband=band)
    prepared = Search(space, run_dir)
    rss: list[float] = []
    started = time.perf_counter()
    result = prepared.run(overwrite=True, on_trial_end=lambda trial, oracle: rss.append(_rss()))
    wall = time.perf_counter() - started
    trials = result.trials
    return {"wall_seconds": wall, "trials": len(trials),
            "epochs": int(trials["epochs"].sum()), "best": float(trials["score"].max()),
            "rss_mb": rss}


def steps(reps: str = "5", workload: str = "default") -> dict:
    """Steady-state seconds per training step with 0, 2 and all taps active,
    and for the plain model (no heads at all) on the same data pipeline; and
    per epoch of training and validation with 2 taps, as trials run them.

    The 2 taps are the workload's `bench.workloads.TWO_TAPS`: for the
    segmentation example, dense heads at 1/2 and 1/4 of the input's
    resolution, resized to the mask's.
    """
    import tensorflow as tf

    prepared = Search(_space(workload), tempfile.mkdtemp())
    hm, data = prepared.hypermodel, prepared.data
    n_steps = -(-len(data.x_train) // hm.trainer.batch_size())
    configs = {"0": [], "2": TWO_TAPS[workload]}
    if not hm.space.max_taps:  # with slots, at most max_taps
        configs["all"] = [t.name for t in hm.taps]
    plain = hm.build_model()
    plain.compile(keras.optimizers.Adam(hm.trainer.assembly.learning_rate),
                  "sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=hm.trainer.assembly.steps_per_execution)
    plain_data = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train)).shuffle(
        len(data.x_train), seed=1).batch(hm.trainer.batch_size())
    times: dict[str, list[float]] = {name: [] for name in [*configs, "plain"]}
    for _ in range(int(reps) + 1):  # round 0 traces
        for name, taps in configs.items():
            hp = _taps(hm, taps)
            times[name] += _epoch_times(hm, hp, hm.build(hp), data, 1, validation=False)
        started = time.perf_counter()
        plain.fit(plain_data, epochs=1, verbose=0, shuffle=False)
        times["plain"].append(time.perf_counter() - started)
    hp = _taps(hm, configs["2"])
    # The first epoch with validation traces the evaluation step.
    epochs = _epoch_times(hm, hp, hm.build(hp), data, int(reps) + 1, validation=True)[1:]
    return {"step_seconds": {name: statistics.median(values[1:]) / n_steps
                             for name, values in times.items()},
            "epoch_seconds": statistics.median(epochs)}


def graph() -> dict:
    """Tap discovery and a trial-model build on a 150+-layer model."""
    def builder():
        return keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10)

    model = builder()
    started = time.perf_counter()
    candidates = find_taps(model)
    discovery = time.perf_counter() - started
    hm = AuxLossHyperModel(builder, ["block_*_add"])
    hp = _taps(hm, [hm.taps[0].name, hm.taps[-1].name])
    first = hm.build(hp)
    hm.trainer.models.trained(first)  # as after a trial's fit(): the next build reuses it
    started = time.perf_counter()
    again = hm.build(hp)
    build = time.perf_counter() - started
    assert again is first
    return {"model": "MobileNetV2(weights=None), 32x32x3", "layers": len(model.layers),
            "candidates": len(candidates), "taps": len(hm.taps),
            "discovery_seconds": discovery, "build_seconds": build}


def memory(trials: str = "30") -> dict:
    """Resident memory after each trial of a search of `trials` trials."""
    import dataclasses

    space = load_space()
    # max_epochs=3: 6 trials per Hyperband iteration.
    per_iteration, max_epochs = 6, 3
    iterations = -(-int(trials) // per_iteration)
    space = dataclasses.replace(space, hyperband=dataclasses.replace(
        space.hyperband, max_epochs=max_epochs, hyperband_iterations=iterations))
    rss = []
    Search(space, tempfile.mkdtemp()).run(on_trial_end=lambda trial, oracle: rss.append(_rss()))
    return {"trials": len(rss), "rss_mb": rss}


def _space(workload: str):
    """The workload's space (`bench.workloads`), its files in a new temporary folder."""
    return load_space(space_file(workload, Path(tempfile.mkdtemp(prefix="bench-space-"))))


def _taps(hm: AuxLossHyperModel, layers: list[str]) -> kt.HyperParameters:
    """The configuration that taps `layers` with heads of weight 0.3 (switches or slots)."""
    return hm.hyperparameters(hm.space.values_of([AuxLoss(layer, 0.3) for layer in layers]))


def _epoch_times(hm, hp, model, data, reps: int, validation: bool) -> list[float]:
    """Seconds of each epoch of a fit of `reps` epochs (all of them)."""
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.started)

    validation_data = (data.x_val, data.y_val) if validation else None
    hm.fit(hp, model, data.x_train, data.y_train, validation_data=validation_data,
           epochs=reps, verbose=0, callbacks=[Clock()])
    return times


def _rss() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    name, *args = sys.argv[1:]
    print(json.dumps(globals()[name](*args)))
