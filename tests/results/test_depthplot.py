import pandas as pd
import pytest

from auxsearch.core.rundir import RunDir
from auxsearch.results.depthplot import good_configurations, layer_order
from tests.results.conftest import axes, board, draw, save_space, write_run

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


def _layers(fig):
    """The layer names under the depth panel, in the order drawn."""
    return [t.get_text() for t in axes(fig)["weights"].get_xticklabels() if t.get_text()]


def _bars(fig, label):
    """The heights of the depth panel's bars whose legend label starts with `label`."""
    bars = [c for c in axes(fig)["depth"].containers if c.get_label().startswith(label)]
    return [round(bar.get_height(), 3) for bar in bars[0]]


def test_layer_axis_follows_the_model_not_frequency(tmp_path):
    fig = draw(write_run(tmp_path, board(DEPTH_TRIALS, MODEL)))
    assert _layers(fig) == MODEL  # the leaderboard's columns: the space's order
    # The good ones: the three above the baseline; every one of them taps `head`.
    assert _bars(fig, "good") == [0.333, 0, 0.333, 1]
    assert _bars(fig, "all") == [0.2, 0.2, 0.2, 1]


def test_layer_order_comes_from_the_saved_space(tmp_path):
    run = write_run(tmp_path, board(DEPTH_TRIALS, sorted(MODEL)))
    save_space(run, [(f"{field}/{layer}", kind, None) for layer in MODEL
                     for field, kind in (("tap", "Boolean"), ("weight", "Float"))])
    assert layer_order(RunDir(run), board(DEPTH_TRIALS, sorted(MODEL))) == MODEL
    assert _layers(draw(run)) == MODEL


def _slots_board(layers_of):
    """A `max_taps = 2` leaderboard: `tap/slot<i>` hold layer names."""
    rows = []
    for rank, (config, score, layers) in enumerate(layers_of, 1):
        row = {"rank": rank, "config": config, "status": "COMPLETED",
               "objective": "val_main_accuracy", "score": score, "full_budget": True,
               "delta_vs_baseline": score - 0.9, "noise": None, "n_taps": len(layers),
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
    run = write_run(tmp_path, _slots_board(SLOTS))
    # Without saved trials, by name ...
    assert _layers(draw(run)) == ["a1", "b3", "c2"]
    # ... with them, the order of the slot's choice after "none".
    save_space(run, [("tap/slot1", "Choice", ["none", "c2", "b3", "a1"]),
                     ("weight/slot1", "Float", None),
                     ("tap/slot2", "Choice", ["none", "c2", "b3", "a1"])])
    fig = draw(run)
    assert _layers(fig) == ["c2", "b3", "a1"]
    assert _bars(fig, "good") == [0.5, 0, 1]


def test_many_layers_show_only_the_tapped_ones_in_order(tmp_path):
    layers = [f"conv{i}" for i in range(1, 151)]
    trials = [("0001", "COMPLETED", 0.96, True, {"conv120": 0.3, "conv7": 0.05}),
              ("0002", "COMPLETED", 0.95, True, {"conv33": 0.1}),
              ("0000", "COMPLETED", 0.93, True, {}),
              ("0003", "COMPLETED", 0.90, True, {"conv2": 0.2})]
    fig = draw(write_run(tmp_path, board(trials, layers)))
    assert _layers(fig) == ["conv7", "conv33", "conv120"]  # conv2's config is not good
    assert "3 of 150 layers shown" in axes(fig)["depth"].get_title()


def test_twenty_layers_all_show_in_order(tmp_path):
    layers = [f"conv{i}" for i in range(1, 21)]
    trials = [(f"{i:04d}", "COMPLETED", 0.99 - i / 100, True,
               {} if i == 3 else {layers[(7 * i) % 20]: 0.1, layers[(3 * i) % 20]: 0.5})
              for i in range(12)]
    fig = draw(write_run(tmp_path, board(trials, layers)))
    assert _layers(fig) == layers


def _others(deltas, noise):
    return pd.DataFrame({"config": [f"{i:04d}" for i in range(len(deltas))],
                         "delta_vs_baseline": deltas, "noise": noise})


@pytest.mark.parametrize("higher, deltas, noise, configs, which", [
    (True, [0.02, 0.01, -0.01], ["beyond", "within", "within"], ["0000"],
     "the 1 beyond the baseline's seed noise"),
    (True, [0.02, 0.01, -0.01], [None] * 3, ["0000", "0001"], "the top 2 above the baseline"),
    (False, [0.02, 0.01, -0.01], [None] * 3, ["0002"], "the top 1 above the baseline"),
    (True, [-0.01, -0.02, -0.03], [None] * 3, ["0000", "0001", "0002"], "the top 3"),
])
def test_good_configurations_beyond_noise_else_above_the_baseline_else_the_top(
        higher, deltas, noise, configs, which):
    good, words = good_configurations(_others(deltas, noise), higher)
    assert list(good["config"]) == configs and words == which
