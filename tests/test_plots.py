import subprocess
import sys

import matplotlib.image
import pandas as pd
import pytest

from auxsearch.errors import RunDirError
from auxsearch.plots import plot_run
from auxsearch.rundir import RunDir

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


def _leaderboard(trials=TRIALS):
    rows, rank = [], 0
    baseline = next((t[2] for t in trials if not t[4] and t[1] == "COMPLETED"), None)
    for config, status, score, full, taps in trials:
        rank += status == "COMPLETED"
        row = {"rank": rank if status == "COMPLETED" else None, "config": config,
               "status": status, "objective": "val_main_accuracy", "score": score,
               "full_budget": full,
               "delta_vs_baseline": None if score is None or baseline is None
               else score - baseline,
               "n_taps": len(taps),
               "taps": ";".join(f"{k}:{v}" for k, v in taps.items())}
        for layer in LAYERS:
            row[f"tap/{layer}"] = layer in taps
            row[f"weight/{layer}"] = taps.get(layer)
        row["epochs"] = 9
        rows.append(row)
    columns = None if rows else ["rank", "config", "status", "objective", "score",
                                 "full_budget", "delta_vs_baseline", "n_taps", "taps",
                                 *[f"{k}/{layer}" for layer in LAYERS for k in ("tap", "weight")]]
    return pd.DataFrame(rows, columns=columns)


def _confirmed():
    return pd.DataFrame([
        {"config": "0000", "taps": "", "n_taps": 0, "baseline": True, "seeds": 5,
         "metric": "test_main_accuracy", "mean": 0.948, "std": 0.004, "ci_low": 0.943,
         "ci_high": 0.953, "delta_vs_baseline": 0.0, "p_value": None, "significant": False},
        {"config": "0003", "taps": "conv2:0.31;conv3:0.05", "n_taps": 2, "baseline": False,
         "seeds": 5, "metric": "test_main_accuracy", "mean": 0.959, "std": 0.003,
         "ci_low": 0.955, "ci_high": 0.963, "delta_vs_baseline": 0.011, "p_value": 0.004,
         "significant": True},
        {"config": "0007", "taps": "conv3:0.12", "n_taps": 1, "baseline": False, "seeds": 5,
         "metric": "test_main_accuracy", "mean": 0.950, "std": 0.006, "ci_low": 0.943,
         "ci_high": 0.957, "delta_vs_baseline": 0.002, "p_value": 0.6,
         "significant": False},
    ])


def _run(tmp_path, board, confirmed=None):
    run = RunDir(tmp_path)
    board.to_csv(run.leaderboard, index=False)
    if confirmed is not None:
        confirmed.to_csv(run.confirmed, index=False)
    return tmp_path


def _check_png(path):
    assert path.read_bytes().startswith(b"\x89PNG")
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > height > 300


def test_writes_a_png_beside_the_leaderboard(tmp_path):
    run = _run(tmp_path, _leaderboard())
    (run / "leaderboard.png").write_bytes(b"an older figure")
    path = plot_run(run)
    assert path == tmp_path / "leaderboard.png"
    _check_png(path)
    # Nothing left behind by the atomic write.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaderboard.csv", "leaderboard.png"]


def test_overlays_confirmed_results(tmp_path):
    run = _run(tmp_path, _leaderboard(), _confirmed())
    path = plot_run(str(run), out=tmp_path / "figure.png")
    assert path == tmp_path / "figure.png"
    _check_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "confirmed.csv", "figure.png", "leaderboard.csv"]


def test_header_only_leaderboard_still_gives_a_figure(tmp_path):
    _check_png(plot_run(_run(tmp_path, _leaderboard([]))))


@pytest.mark.parametrize("trials", [
    [t for t in TRIALS if t[4]],  # no baseline row
    [(c, s, 0.9 if s == "COMPLETED" else None, f, t) for c, s, _, f, t in TRIALS],  # ties
    [t for t in TRIALS if not t[4]],  # only the baseline: no taps to map
    [(c, s, v, False, t) for c, s, v, _, t in TRIALS],  # none at the full budget
    [(c, s, v and 1 - v, f, t) for c, s, v, f, t in TRIALS],  # lower is better
])
def test_odd_leaderboards_still_give_a_figure(tmp_path, trials):
    _check_png(plot_run(_run(tmp_path, _leaderboard(trials))))


def test_missing_leaderboard_is_a_one_line_error(tmp_path):
    with pytest.raises(RunDirError, match="no leaderboard.csv; run a search first"):
        plot_run(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, auxsearch.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
