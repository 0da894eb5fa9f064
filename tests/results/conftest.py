"""What the results tests share: saved trial states and hand-written run files."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from auxsearch.core.rundir import RunDir


def save_trial(project, trial_id, status, score, taps, epochs=3, initial=0, parent=None,
               message=None, curve=(), chance=None):
    """Saves a trial state as Keras Tuner would, with the metrics a trial reports."""
    values = {}
    for layer in ["c1", "c2"]:
        values[f"tap/{layer}"] = layer in taps
        if layer in taps:
            values[f"weight/{layer}"] = taps[layer]
    values.update({"tuner/epochs": epochs, "tuner/initial_epoch": initial,
                   "tuner/bracket": 1, "tuner/round": 1 if parent else 0})
    if parent:
        values["tuner/trial_id"] = parent
    space = []
    for layer in ["c1", "c2"]:
        space.append({"class_name": "Boolean", "config": {"name": f"tap/{layer}"}})
        space.append({"class_name": "Float", "config": {"name": f"weight/{layer}"}})
    metrics = {}
    if status == "COMPLETED":
        observed = {"val_main_accuracy": score, "val_main_loss": 1 - score, "val_loss": 9.0,
                    "epochs_trained": epochs - initial, "trial_seconds": 2.5}
        observed.update({f"val_aux_{layer}_accuracy": 0.5 for layer in taps})
        observed.update({f"at_epoch/{initial + i + 1}": v for i, v in enumerate(curve)})
        if chance is not None:
            observed["chance_score"] = chance
        metrics = {name: {"direction": "min", "observations": [{"value": [v], "step": 1}]}
                   for name, v in observed.items()}
    state = {"trial_id": trial_id, "status": status, "score": score,
             "hyperparameters": {"space": space, "values": values},
             "metrics": {"metrics": metrics}, "message": message}
    folder = project / f"trial_{trial_id}"
    folder.mkdir(parents=True)
    (folder / "trial.json").write_text(json.dumps(state))


@pytest.fixture
def run_dir(tmp_path):
    """A search of five trials: a promoted configuration, the baseline, a failure."""
    project = tmp_path / "search"
    save_trial(project, "0000", "COMPLETED", 0.90, {"c1": 0.31, "c2": 0.054}, epochs=1)
    save_trial(project, "0001", "FAILED", float("nan"), {"c2": 0.2}, epochs=1,
               message="Traceback (most recent call last):\n  ...\nValueError: boom")
    save_trial(project, "0002", "COMPLETED", 0.95, {}, epochs=3, curve=(0.5, 0.95, 0.9))
    save_trial(project, "0003", "COMPLETED", 0.96, {"c1": 0.31, "c2": 0.054}, epochs=3,
               initial=1, parent="0000")
    save_trial(project, "0004", "COMPLETED", 0.80, {"c2": 0.5}, epochs=1)
    return tmp_path


# --- Plots: leaderboard.csv and confirmed.csv as the search and `confirm` write them.

LAYERS = ["conv1", "conv2", "conv3"]
# config, status, score, full budget, {layer: weight}
TRIALS = [
    ("0003", "COMPLETED", 0.962, True, {"conv2": 0.31, "conv3": 0.05}),
    ("0007", "COMPLETED", 0.958, True, {"conv3": 0.12}),
    ("0001", "COMPLETED", 0.955, True, {"conv1": 0.02, "conv2": 0.4, "conv3": 0.9}),
    ("0000", "COMPLETED", 0.951, True, {}),
    ("0005", "COMPLETED", 0.947, True, {"conv1": 0.6}),
    ("0009", "COMPLETED", 0.931, True, {"conv1": 0.003, "conv2": 0.08}),
    ("0002", "COMPLETED", 0.912, False, {"conv2": 0.2}),
    ("0004", "FAILED", None, False, {"conv1": 0.5}),
]


def board(trials=TRIALS, layers=LAYERS, noise=False):
    """A leaderboard; with `noise`, the scores above 0.956 are beyond the seed noise."""
    rows, rank = [], 0
    baseline = next((t[2] for t in trials if not t[4] and t[1] == "COMPLETED"), None)
    for config, status, score, full, taps in trials:
        rank += status == "COMPLETED"
        row = {"rank": rank if status == "COMPLETED" else None, "config": config,
               "status": status, "objective": "val_main_accuracy", "score": score,
               "full_budget": full,
               "delta_vs_baseline": None if score is None or baseline is None
               else score - baseline,
               "noise": (("beyond" if score and score > 0.956 else "within") if full else None)
               if noise else None,
               "n_taps": len(taps),
               "taps": ";".join(f"{k}:{v}" for k, v in taps.items())}
        for layer in layers:
            row[f"tap/{layer}"] = layer in taps
            row[f"weight/{layer}"] = taps.get(layer)
        row["epochs"] = 9
        rows.append(row)
    columns = None if rows else ["rank", "config", "status", "objective", "score",
                                 "full_budget", "delta_vs_baseline", "noise", "n_taps", "taps",
                                 *[f"{k}/{layer}" for layer in layers for k in ("tap", "weight")]]
    return pd.DataFrame(rows, columns=columns)


def confirmed(baseline_trained="3/3"):
    """`confirmed.csv` as `confirm` writes it: paired seeds, verdicts."""
    rows = [("0000", "", 0, True, 0.70, 0.05, 0.95, baseline_trained, ""),
            ("0003", "conv2:0.31;conv3:0.05", 2, False, 0.93, 0.91, 0.95, "3/3", "better"),
            ("0007", "conv3:0.12", 1, False, 0.69, 0.40, 0.93, "2/3", "no detectable difference"),
            ("0001", "conv1:0.02;conv2:0.4;conv3:0.9", 3, False, 0.60, 0.55, 0.64, "3/3",
             "worse")]
    return pd.DataFrame([
        {"config": c, "taps": t, "n_taps": n, "metric": "test_main_accuracy", "baseline": b,
         "seeds": 3, "mean": m, "std": 0.1, "ci_low": lo, "ci_high": hi, "trained": k,
         "delta_vs_baseline": m - 0.70, "delta_low": None, "delta_high": None,
         "p_value": None if b else 0.01, "significant": v in ("better", "worse"),
         "verdict": v, "line": f"{c}: {v}"}
        for c, t, n, b, m, lo, hi, k, v in rows])


def write_run(tmp_path, leaderboard, confirmed=None, baseline_seeds=None):
    """Writes a run's files; `baseline_seeds`: the baseline's scores on its extra seeds."""
    run_dir = RunDir(tmp_path)
    leaderboard.to_csv(run_dir.leaderboard, index=False)
    if confirmed is not None:
        confirmed.to_csv(run_dir.confirmed, index=False)
    if baseline_seeds is not None:
        pd.DataFrame({"seed": range(1, len(baseline_seeds) + 1),
                      "score": baseline_seeds}).to_csv(run_dir.baseline_seeds, index=False)
    return tmp_path


def save_space(run_dir, space):
    """Saves one trial state whose search space holds `space` (name, class, values)."""
    path = RunDir(run_dir).trial_dir("0000") / "trial.json"
    path.parent.mkdir(parents=True)
    hps = [{"class_name": kind, "config": {"name": name, "values": values, "conditions": []}}
           for name, kind, values in space]
    path.write_text(json.dumps({"trial_id": "0000", "hyperparameters": {"space": hps}}))


def axes(fig):
    """The figure's axes by label: scores, depth, weights."""
    return {ax.get_label(): ax for ax in fig.axes}


def draw(run_dir):
    """The run's figure, as `plot_run` draws it (not rendered: `plot_run`'s test renders)."""
    from auxsearch.results.plots import figure

    return figure(run_dir)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    if "matplotlib.pyplot" in sys.modules:  # no test imports it just to close it
        import matplotlib.pyplot as plt

        plt.close("all")
