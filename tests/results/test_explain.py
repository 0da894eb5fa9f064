import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from auxsearch.core.errors import RunDirError
from auxsearch.core.rundir import RunDir
from auxsearch.results.effects import HELPS, TOO_FEW
from auxsearch.results.explain import effects_of, explain, run_observations, table_observations
from auxsearch.results.tables import trials as trials_table
from tests.conftest import TINY_SPACE

LAYERS = ["conv1", "conv2", "conv3", "conv4"]
CHANCE = 0.1


def save_search(root, trials, layers=LAYERS, slots=None, space=TINY_SPACE):
    """A run directory as a search leaves it, without training.

    `trials`: `(status, score, {layer: weight}, epochs)`; with `slots`, the
    space has that many `tap/slot<i>` choices instead of a switch per layer.
    """
    run_dir = RunDir(root)
    if space is not None:
        root.mkdir(parents=True, exist_ok=True)
        run_dir.space.write_text(space)
    if slots:
        hps = [{"class_name": "Choice", "config": {"name": f"tap/slot{i}",
                                                    "values": ["none", *layers]}}
               for i in range(1, slots + 1)]
    else:
        hps = [{"class_name": "Boolean", "config": {"name": f"tap/{layer}"}} for layer in layers]
    hps += [{"class_name": "Float", "config": {"name": f"weight/{slot}"}}
            for slot in ([f"slot{i}" for i in range(1, slots + 1)] if slots else layers)]
    for i, (status, score, taps, epochs) in enumerate(trials):
        values = {"tuner/epochs": epochs, "tuner/initial_epoch": 0}
        if slots:
            chosen = list(taps.items())
            for s in range(1, slots + 1):
                layer, weight = chosen[s - 1] if s <= len(chosen) else ("none", None)
                values[f"tap/slot{s}"] = layer
                if weight is not None:
                    values[f"weight/slot{s}"] = weight
        else:
            for layer in layers:
                values[f"tap/{layer}"] = layer in taps
                if layer in taps:
                    values[f"weight/{layer}"] = taps[layer]
        metrics = {}
        if status == "COMPLETED":
            metrics = {name: {"direction": "max", "observations": [{"value": [v], "step": 0}]}
                       for name, v in {"val_main_accuracy": score,
                                       "chance_score": CHANCE}.items()}
        state = {"trial_id": f"{i:04d}", "status": status, "score": score,
                 "hyperparameters": {"space": hps, "values": values},
                 "metrics": {"metrics": metrics}}
        folder = run_dir.trial_dir(f"{i:04d}")
        folder.mkdir(parents=True)
        (folder / "trial.json").write_text(json.dumps(state))
    return root


def random_trials(n, seed=0, layers=LAYERS, effect=("conv3", 0.1), max_taps=None):
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(n):
        if max_taps:
            on = list(rng.choice(layers, max_taps, replace=False))
        else:
            on = [layer for layer in layers if rng.random() < 0.5]
        taps = {str(layer): float(np.exp(rng.uniform(-4.6, 0))) for layer in on}
        score = 0.8 + effect[1] * (effect[0] in taps) + rng.normal(0, 0.01)
        trials.append(("COMPLETED", float(score), taps, 9))
    return trials


def test_explain_writes_effects_in_depth_order(tmp_path):
    # The space lists the layers in the model's order, not by name.
    order = ["conv3", "conv1", "conv4", "conv2"]
    run = save_search(tmp_path / "run", random_trials(30, layers=order), layers=order)
    table = explain(run)
    assert list(table["layer"]) == order
    assert table.set_index("layer").at["conv3", "verdict"] == HELPS
    assert table.attrs["verdict"].startswith("At 9 epochs, the highest budget trained")
    written = pd.read_csv(RunDir(run).effects)
    assert list(written["layer"]) == order and list(written.columns) == list(table.columns)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "effects.csv", "search", "space.toml"]  # nothing left behind by the atomic write


def test_slot_spaces_read_their_layers_from_the_choices(tmp_path):
    run = save_search(tmp_path / "run", random_trials(40, max_taps=2), slots=2)
    table = effects_of(run, permutations=0)
    assert list(table["layer"]) == LAYERS
    assert (table["configs_on"].sum() == 2 * table.attrs["configs"])
    assert table.set_index("layer").at["conv3", "effect"] > 0.05


def test_failed_and_at_chance_trials_have_no_score():
    states = [{"status": "COMPLETED", "score": 0.105,
               "hyperparameters": {"values": {"tuner/epochs": 3, "tap/c1": True,
                                              "weight/c1": 0.2}},
               "metrics": {"metrics": {"chance_score": {"observations": [{"value": [0.1]}]}}}},
              {"status": "FAILED", "score": None,
               "hyperparameters": {"values": {"tuner/epochs": 1, "tap/c1": False}}},
              {"status": "COMPLETED", "score": float("nan"),
               "hyperparameters": {"values": {"tuner/epochs": 1, "tap/c1": False}}},
              {"status": "RUNNING", "hyperparameters": {"values": {}}}]
    observations, chance = run_observations(states, "max")
    assert chance == 0.1 and [o.score for o in observations] == [None, None, None]
    assert [o.budget for o in observations] == [3, 1, 1]
    assert observations[0].losses[0].layer == "c1" and observations[1].losses == ()


def test_too_few_trials_say_so(tmp_path):
    run = save_search(tmp_path / "run", random_trials(3))
    table = explain(run)
    assert set(table["verdict"]) == {TOO_FEW}
    assert table.attrs["verdict"].startswith("Too few trials to tell which layers help")
    assert table["effect_low"].min() >= -1 and table["effect_high"].max() <= 1


def test_a_search_without_trials_yet(tmp_path):
    run = save_search(tmp_path / "run", [])
    table = explain(run)
    assert table.empty and table.attrs["verdict"].startswith("No trials")
    assert RunDir(run).effects.is_file()


def test_not_a_run_directory_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="not a run directory of a search"):
        explain(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_bare_project_is_read_with_the_default_objective(tmp_path):
    save_search(tmp_path, random_trials(12), space=None)
    (tmp_path / "search" / "oracle.json").write_text("{}")  # what makes it a project
    table = effects_of(tmp_path / "search", permutations=0)
    assert table.attrs["configs"] >= 10 and not math.isnan(table["effect"].iloc[2])


def test_a_committed_run_is_read_from_its_trials_csv(tmp_path):
    # A run as committed keeps trials.csv, not the tuner's checkpoints: the
    # same effects, the chance level read from the at-chance flag.
    trials = random_trials(30) + [("COMPLETED", 0.08, {"conv1": 0.5}, 9), ("FAILED", None, {}, 1)]
    run = save_search(tmp_path / "run", trials)
    saved = effects_of(run, permutations=0)
    table = trials_table(run)
    assert table["flag"].notna().sum() == 1
    table.to_csv(RunDir(run).trials, index=False)
    shutil.rmtree(RunDir(run).project)
    read = effects_of(run, permutations=0)
    pd.testing.assert_frame_equal(read, saved)
    assert read.attrs["verdict"] == saved.attrs["verdict"]
    observations, chance = table_observations(table, "max")
    assert chance == CHANCE and len(observations) == 32
    assert [o.score for o in observations[-2:]] == [None, None]


def test_a_slot_space_from_its_trials_csv_orders_layers_by_number(tmp_path):
    layers = [f"conv{i}" for i in (1, 2, 10, 11)]
    run = save_search(tmp_path / "run", random_trials(20, layers=layers, effect=("conv10", 0.1),
                                                      max_taps=2), layers=layers, slots=2)
    trials_table(run).to_csv(RunDir(run).trials, index=False)
    shutil.rmtree(RunDir(run).project)
    assert list(effects_of(run, permutations=0)["layer"]) == layers


def test_the_importance_ranking_is_not_a_finding_while_the_replay_calls_it_unreliable(tmp_path):
    from auxsearch.results import explain as module

    assert module.RANKS_LAYERS is False  # bench.replay explain: Spearman 0.03, 0.14, 0.04 < 0.6
    assert all(v < module.RANKING_SPEARMAN for v in module.MEASURED_SPEARMAN.values())
    table = explain(save_search(tmp_path / "run", random_trials(30)))
    assert table.attrs["importance"] == module.NO_RANKING
    assert "ablates the winner" in module.NO_RANKING and "0.03, 0.14, 0.04" in module.NO_RANKING
    assert table[["effect_low", "effect_high"]].notna().any().all()  # effects keep intervals
