import json
import subprocess
import sys

import matplotlib.image
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from auxsearch.errors import RunDirError
from auxsearch.plots import figure, plot_run
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


def _leaderboard(trials=TRIALS, layers=LAYERS, noise=False):
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
        if noise:
            row["noise"] = ("beyond" if score and score > 0.956 else "within") if full else None
        for layer in layers:
            row[f"tap/{layer}"] = layer in taps
            row[f"weight/{layer}"] = taps.get(layer)
        row["epochs"] = 9
        rows.append(row)
    columns = None if rows else ["rank", "config", "status", "objective", "score",
                                 "full_budget", "delta_vs_baseline", "n_taps", "taps",
                                 *[f"{k}/{layer}" for layer in layers for k in ("tap", "weight")]]
    return pd.DataFrame(rows, columns=columns)


def _old_confirmed():  # as confirm wrote it before paired seeds (Welch's t-test)
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


def _confirmed(baseline_trained="3/3"):
    """`confirmed.csv` as `confirm` writes it now: paired seeds, verdicts."""
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


def _axes(fig):
    return {ax.get_label(): ax for ax in fig.axes}


def _layers(fig):
    """The layer names under the depth panel, in the order drawn."""
    return [t.get_text() for t in _axes(fig)["weights"].get_xticklabels() if t.get_text()]


def _bars(fig, label):
    """The heights of the depth panel's bars whose legend label starts with `label`."""
    bars = [c for c in _axes(fig)["depth"].containers if c.get_label().startswith(label)]
    return [round(bar.get_height(), 3) for bar in bars[0]]


def _draw(run):
    fig = figure(run)
    fig.canvas.draw()  # lays out the labels and legends, as a PNG would
    return fig


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _trial_space(run, space):
    """Saves one trial state whose search space holds `space` (name, class, values)."""
    path = RunDir(run).trial_dir("0000") / "trial.json"
    path.parent.mkdir(parents=True)
    hps = [{"class_name": kind, "config": {"name": name, "values": values, "conditions": []}}
           for name, kind, values in space]
    path.write_text(json.dumps({"trial_id": "0000", "hyperparameters": {"space": hps}}))


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


@pytest.mark.parametrize("confirmed", [_confirmed, _old_confirmed])
def test_overlays_confirmed_results(tmp_path, confirmed):
    run = _run(tmp_path, _leaderboard(), confirmed())
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


# A model whose order is neither alphabetical nor by name: `head` is tapped most.
MODEL = ["stem", "block2", "block10", "head"]
DEPTH_TRIALS = [
    ("0001", "COMPLETED", 0.96, True, {"head": 0.3, "block10": 0.05}),
    ("0002", "COMPLETED", 0.95, True, {"head": 0.1, "stem": 0.02}),
    ("0003", "COMPLETED", 0.94, True, {"head": 0.5}),
    ("0000", "COMPLETED", 0.93, True, {}),
    ("0004", "COMPLETED", 0.90, True, {"head": 0.2, "block2": 0.7}),
    ("0005", "COMPLETED", 0.50, False, {"head": 0.9}),
]


def test_layer_axis_follows_the_model_not_frequency(tmp_path):
    fig = _draw(_run(tmp_path, _leaderboard(DEPTH_TRIALS, MODEL)))
    assert _layers(fig) == MODEL  # the leaderboard's columns: the space's order
    # The good ones: the three above the baseline; every one of them taps `head`.
    assert _bars(fig, "good") == [0.333, 0, 0.333, 1]
    assert _bars(fig, "all") == [0.2, 0.2, 0.2, 1]


def test_layer_order_comes_from_the_saved_space(tmp_path):
    run = _run(tmp_path, _leaderboard(DEPTH_TRIALS, sorted(MODEL)))
    _trial_space(run, [(f"{field}/{layer}", kind, None) for layer in MODEL
                       for field, kind in (("tap", "Boolean"), ("weight", "Float"))])
    assert _layers(_draw(run)) == MODEL


def test_real_run_plots_its_candidates_in_order(tiny_run):
    fig = _draw(tiny_run)
    assert _layers(fig) == ["conv2", "conv5"]
    _check_png(plot_run(tiny_run))


def _slots_board(layers_of):
    """A `max_taps = 2` leaderboard: `tap/slot<i>` hold layer names."""
    rows = []
    for rank, (config, score, layers) in enumerate(layers_of, 1):
        row = {"rank": rank, "config": config, "status": "COMPLETED",
               "objective": "val_main_accuracy", "score": score, "full_budget": True,
               "delta_vs_baseline": score - 0.9, "n_taps": len(layers),
               "taps": ";".join(f"{layer}:0.1" for layer in layers)}
        for slot in (1, 2):
            layer = layers[slot - 1] if slot <= len(layers) else "none"
            row[f"tap/slot{slot}"] = layer
            row[f"weight/slot{slot}"] = 0.1 * slot if layer != "none" else None
        rows.append(row)
    return pd.DataFrame(rows)


SLOTS = [("0001", 0.95, ["c2", "a1"]), ("0002", 0.94, ["a1"]), ("0000", 0.9, []),
         ("0003", 0.8, ["b3", "c2"])]


def test_slots_follow_the_choice_of_layers(tmp_path):
    run = _run(tmp_path, _slots_board(SLOTS))
    # Without saved trials, by name ...
    assert _layers(_draw(run)) == ["a1", "b3", "c2"]
    # ... with them, the order of the slot's choice after "none".
    _trial_space(run, [("tap/slot1", "Choice", ["none", "c2", "b3", "a1"]),
                       ("weight/slot1", "Float", None),
                       ("tap/slot2", "Choice", ["none", "c2", "b3", "a1"])])
    fig = _draw(run)
    assert _layers(fig) == ["c2", "b3", "a1"]
    assert _bars(fig, "good") == [0.5, 0, 1]


def test_many_layers_show_only_the_tapped_ones_in_order(tmp_path):
    layers = [f"conv{i}" for i in range(1, 151)]
    trials = [("0001", "COMPLETED", 0.96, True, {"conv120": 0.3, "conv7": 0.05}),
              ("0002", "COMPLETED", 0.95, True, {"conv33": 0.1}),
              ("0000", "COMPLETED", 0.93, True, {}),
              ("0003", "COMPLETED", 0.90, True, {"conv2": 0.2})]
    fig = _draw(_run(tmp_path, _leaderboard(trials, layers)))
    assert _layers(fig) == ["conv7", "conv33", "conv120"]  # conv2's config is not good
    assert "3 of 150 layers shown" in _axes(fig)["depth"].get_title()


def test_twenty_layers_all_show_in_order(tmp_path):
    layers = [f"conv{i}" for i in range(1, 21)]
    trials = [(f"{i:04d}", "COMPLETED", 0.99 - i / 100, True,
               {} if i == 3 else {layers[(7 * i) % 20]: 0.1, layers[(3 * i) % 20]: 0.5})
              for i in range(12)]
    fig = _draw(_run(tmp_path, _leaderboard(trials, layers)))
    assert _layers(fig) == layers


def test_accuracy_axis_stays_inside_0_1(tmp_path):
    # An old file's t interval, -0.82 to 1.53 on a bimodal baseline, as in the issue.
    old = _old_confirmed()
    old.loc[0, ["mean", "ci_low", "ci_high"]] = [0.36, -0.82, 1.53]
    fig = _draw(_run(tmp_path, _leaderboard(), old))
    low, high = _axes(fig)["scores"].get_xlim()
    assert 0 <= low < 0.36 and 0.96 < high <= 1


def test_errors_axis_starts_at_0(tmp_path):
    trials = [(c, s, v and 10 * (1 - v), f, t) for c, s, v, f, t in TRIALS]  # MAE-like
    old = _old_confirmed()
    old["mean"], old["ci_low"], old["ci_high"] = [0.5, 0.4, 0.6], [-0.3, 0.3, 0.4], [1.3, 0.5, 0.8]
    board = _leaderboard(trials).assign(objective="val_main_mae")
    low, _ = _axes(_draw(_run(tmp_path, board, old)))["scores"].get_xlim()
    assert low == 0


def test_verdicts_and_training_failures_are_marked(tmp_path):
    fig = _draw(_run(tmp_path, _leaderboard(), _confirmed(baseline_trained="1/3")))
    scores = _axes(fig)["scores"]
    labels = [t.get_text() for t in scores.get_yticklabels()]
    assert labels[0] == "conv2:0.31;conv3:0.05\nbetter, trained 3/3"
    assert "conv3:0.12\nno detectable difference, trained 2/3" in labels
    assert "baseline (no taps)\ntrained 1/3" in labels
    legend = [t.get_text() for t in scores.get_legend().get_texts()]
    assert {"confirmed: better", "confirmed: worse", "confirmed: no detectable difference",
            "confirmed: the baseline"} <= set(legend)
    assert not any("Welch" in text or "significant" in text for text in legend)


def test_trained_counts_only_where_some_seed_failed(tmp_path):
    confirmed = _confirmed().assign(trained="3/3")
    fig = _draw(_run(tmp_path, _leaderboard(), confirmed))
    labels = [t.get_text() for t in _axes(fig)["scores"].get_yticklabels()]
    assert not any("trained" in label for label in labels)
    assert labels[0] == "conv2:0.31;conv3:0.05\nbetter"


def test_old_files_get_verdicts_from_significance(tmp_path):
    fig = _draw(_run(tmp_path, _leaderboard(), _old_confirmed()))
    labels = [t.get_text() for t in _axes(fig)["scores"].get_yticklabels()]
    assert labels[0] == "conv2:0.31;conv3:0.05\nbetter"
    assert "conv3:0.12\nno detectable difference" in labels


def test_seed_noise_is_marked(tmp_path):
    run = _run(tmp_path, _leaderboard(noise=True))
    pd.DataFrame({"seed": [1, 2], "score": [0.949, 0.953]}).to_csv(
        RunDir(run).baseline_seeds, index=False)
    fig = _draw(run)
    scores = _axes(fig)["scores"]
    hatched = [bar.get_hatch() for bar in scores.containers[0]]
    # 0003 and 0007 are beyond the noise; 0001, 0005, 0009 within; the baseline is not marked.
    assert hatched == [None, None, "//", None, "//", "//"]
    legend = [t.get_text() for t in scores.get_legend().get_texts()]
    assert "within the baseline's seed noise" in legend
    assert "baseline over 3 seeds: mean ± 2 sd" in legend
    # The good configurations are those beyond the noise.
    assert any(c.get_label() == "good: the 2 beyond the baseline's seed noise"
               for c in _axes(fig)["depth"].containers)
