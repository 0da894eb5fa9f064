import json
import math

import keras_tuner as kt
import pandas as pd
import pytest

from auxsearch.heads import AuxLoss
from auxsearch.leaderboards import (
    FILENAME, TRIALS_FILENAME, format_taps, leaderboard, trials, write_leaderboards)


def _trial(project, trial_id, status, score, taps, epochs=3, initial=0, parent=None,
           message=None, curve=(), chance=None):
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
    project = tmp_path / "search"
    _trial(project, "0000", "COMPLETED", 0.90, {"c1": 0.31, "c2": 0.054}, epochs=1)
    _trial(project, "0001", "FAILED", float("nan"), {"c2": 0.2}, epochs=1,
           message="Traceback (most recent call last):\n  ...\nValueError: boom")
    _trial(project, "0002", "COMPLETED", 0.95, {}, epochs=3, curve=(0.5, 0.95, 0.9))
    _trial(project, "0003", "COMPLETED", 0.96, {"c1": 0.31, "c2": 0.054}, epochs=3,
           initial=1, parent="0000")
    _trial(project, "0004", "COMPLETED", 0.80, {"c2": 0.5}, epochs=1)
    return tmp_path


def test_trials_are_ranked_best_first_with_failures_last(run_dir):
    table = trials(run_dir)
    assert list(table["trial_id"]) == ["0003", "0002", "0000", "0004", "0001"]
    assert list(table["rank"][:4]) == [1, 2, 3, 4] and pd.isna(table["rank"][4])
    failed = table.iloc[4]
    assert failed["status"] == "FAILED" and pd.isna(failed["score"])
    assert failed["message"] == "ValueError: boom"


def test_trial_columns(run_dir):
    table = trials(run_dir)
    assert list(table.columns) == [
        "rank", "trial_id", "config", "status", "objective", "score", "flag", "n_taps", "taps",
        "tap/c1", "weight/c1", "tap/c2", "weight/c2",
        "val_main_accuracy", "val_main_loss", "val_aux_c1_accuracy", "val_aux_c2_accuracy",
        "epochs", "total_epochs", "bracket", "round", "parent_trial", "wall_seconds", "message",
    ]
    top = table.iloc[0]
    assert top["taps"] == "c1:0.31;c2:0.054" and top["n_taps"] == 2
    assert top["parent_trial"] == "0000" and top["epochs"] == 2 and top["total_epochs"] == 3
    assert top["config"] == "0000"
    assert top["objective"] == "val_main_accuracy"
    baseline = table[table["trial_id"] == "0002"].iloc[0]
    assert baseline["n_taps"] == 0 and baseline["taps"] == ""
    assert math.isnan(baseline["val_aux_c1_accuracy"])


def test_min_objective_ranks_lowest_first(run_dir):
    table = trials(run_dir, kt.Objective("val_main_loss", "min"))
    assert list(table["trial_id"][:3]) == ["0004", "0000", "0002"]


def test_leaderboard_has_one_row_per_configuration(run_dir):
    table = leaderboard(run_dir)
    assert list(table["config"]) == ["0000", "0002", "0004", "0001"]
    assert list(table.columns[:10]) == [
        "rank", "config", "status", "objective", "score", "full_budget",
        "delta_vs_baseline", "flag", "n_taps", "taps"]
    assert list(table.columns[-4:]) == ["epochs", "trials", "wall_seconds", "message"]
    promoted = table.iloc[0]
    assert promoted["trials"] == "0000>0003" and promoted["epochs"] == 3
    assert promoted["score"] == 0.96 and promoted["full_budget"]
    assert promoted["wall_seconds"] == 5.0 and promoted["taps"] == "c1:0.31;c2:0.054"
    # Against the baseline's best within the same epochs: 0.95 in 3, 0.5 in 1.
    assert promoted["delta_vs_baseline"] == pytest.approx(0.01)
    partial = table.iloc[2]
    assert not partial["full_budget"] and partial["rank"] == 3
    assert partial["delta_vs_baseline"] == pytest.approx(0.30)
    assert table.iloc[1]["delta_vs_baseline"] == 0 and table.iloc[1]["n_taps"] == 0
    failed = table.iloc[3]
    assert failed["status"] == "FAILED" and pd.isna(failed["rank"])
    assert failed["message"] == "ValueError: boom"


def test_csvs_are_the_same_tables(run_dir):
    paths = write_leaderboards(run_dir)
    assert paths == (run_dir / FILENAME, run_dir / TRIALS_FILENAME)
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []
    for path, table in zip(paths, (leaderboard(run_dir), trials(run_dir))):
        from_csv = pd.read_csv(path, dtype={"trial_id": str, "parent_trial": str,
                                            "config": str, "rank": "Int64"})
        from_csv["taps"] = from_csv["taps"].fillna("")  # CSV cannot tell "" from NA
        table = table.assign(flag=table["flag"].astype(object).where(table["flag"].notna(), float("nan")))
        pd.testing.assert_frame_equal(from_csv, table, check_dtype=False)


def test_no_trials_gives_header_only_tables(tmp_path):
    write_leaderboards(tmp_path)
    text = (tmp_path / TRIALS_FILENAME).read_text().strip()
    assert text.startswith("rank,trial_id,config,status,objective,score,flag,n_taps,taps,")
    assert len(text.splitlines()) == 1
    text = (tmp_path / FILENAME).read_text().strip()
    assert text.startswith("rank,config,status,objective,score,full_budget,")
    assert len(text.splitlines()) == 1


def test_format_taps():
    taps = {"conv2": AuxLoss("conv2", 0.3141),
            "conv5": AuxLoss("conv5", 0.0512, "penalty", "linear_decay"),
            "conv6": AuxLoss("conv6", 0.2, units=32)}
    assert format_taps(taps) == "conv2:0.31;conv5:0.051:penalty:linear_decay;conv6:0.2:h32"
    assert format_taps({}) == ""


def test_a_configuration_at_chance_level_is_flagged_and_ranked_below(tmp_path):
    project = tmp_path / "search"
    _trial(project, "0000", "COMPLETED", 0.90, {}, chance=0.1)
    _trial(project, "0001", "COMPLETED", 0.105, {"c1": 0.9}, chance=0.1)  # diverged
    _trial(project, "0002", "COMPLETED", 0.80, {"c2": 0.1}, chance=0.1)
    board = leaderboard(tmp_path, kt.Objective("val_main_accuracy", "max"))
    assert list(board["config"]) == ["0000", "0002", "0001"]
    assert board["flag"].iloc[:2].isna().all()
    assert board["flag"].iloc[2] == "at chance level: 0.105 vs 0.1 for a constant prediction"
