import json
import math

import keras_tuner as kt
import pandas as pd
import pytest

from auxsearch.leaderboards import (
    leaderboard,
    row_values,
    run_objective,
    summary,
    trial_epochs,
    trials,
    write_leaderboards,
)
from auxsearch.rundir import RunDir


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
    assert list(table.columns[:11]) == [
        "rank", "config", "status", "objective", "score", "full_budget",
        "delta_vs_baseline", "noise", "flag", "n_taps", "taps"]
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
    paths = write_leaderboards(RunDir(run_dir))
    assert paths == (RunDir(run_dir).leaderboard, RunDir(run_dir).trials)
    assert [p.name for p in run_dir.iterdir() if p.name.startswith(".")] == []
    for path, table in zip(paths, (leaderboard(run_dir), trials(run_dir))):
        from_csv = pd.read_csv(path, dtype={"trial_id": str, "parent_trial": str,
                                            "config": str, "rank": "Int64"})
        from_csv["taps"] = from_csv["taps"].fillna("")  # CSV cannot tell "" from NA
        for column in ("flag", "noise"):  # text columns: empty cells read back as NaN
            if column in table:
                table[column] = table[column].astype(object).where(table[column].notna(),
                                                                   float("nan"))
        pd.testing.assert_frame_equal(from_csv, table, check_dtype=False)


def test_no_trials_gives_header_only_tables(tmp_path):
    write_leaderboards(tmp_path)
    text = RunDir(tmp_path).trials.read_text().strip()
    assert text.startswith("rank,trial_id,config,status,objective,score,flag,n_taps,taps,")
    assert len(text.splitlines()) == 1
    text = RunDir(tmp_path).leaderboard.read_text().strip()
    assert text.startswith("rank,config,status,objective,score,full_budget,")
    assert len(text.splitlines()) == 1


def test_a_configuration_at_chance_level_is_flagged_and_ranked_below(tmp_path):
    project = tmp_path / "search"
    _trial(project, "0000", "COMPLETED", 0.90, {}, chance=0.1)
    _trial(project, "0001", "COMPLETED", 0.105, {"c1": 0.9}, chance=0.1)  # diverged
    _trial(project, "0002", "COMPLETED", 0.80, {"c2": 0.1}, chance=0.1)
    board = leaderboard(tmp_path, kt.Objective("val_main_accuracy", "max"))
    assert list(board["config"]) == ["0000", "0002", "0001"]
    assert board["flag"].iloc[:2].isna().all()
    assert board["flag"].iloc[2] == "at chance level: 0.105 vs 0.1 for a constant prediction"


def test_a_search_whose_trials_all_failed_has_only_unranked_rows(tmp_path):
    # Trials that failed before they trained report no metrics at all.
    project = tmp_path / "search"
    for trial_id in ("0000", "0001", "0002"):
        _trial(project, trial_id, "FAILED", float("nan"), {"c1": 0.5},
               message="Traceback ...\nFailedTrialError: the loss became nan")
    board, table = leaderboard(tmp_path), trials(tmp_path)
    assert list(board["config"]) == ["0000", "0001", "0002"]  # no empty ranked rows
    assert board["rank"].isna().all() and set(board["status"]) == {"FAILED"}
    assert set(board["message"]) == {"FailedTrialError: the loss became nan"}
    assert table["rank"].isna().all() and table["wall_seconds"].isna().all()
    write_leaderboards(tmp_path)
    on_disk = pd.read_csv(RunDir(tmp_path).leaderboard, dtype={"config": str})
    assert list(on_disk["status"]) == ["FAILED"] * 3


def test_a_bare_keras_tuner_project_reads_like_a_run_directory(run_dir):
    project = run_dir / "search"
    (project / "oracle.json").write_text(json.dumps({"max_epochs": 3}))
    assert run_objective(project).name == "val_main_accuracy"
    pd.testing.assert_frame_equal(leaderboard(project), leaderboard(run_dir))
    assert list(trials(project)["trial_id"]) == list(trials(run_dir)["trial_id"])


def test_row_values_read_a_table_in_memory_and_its_csv_alike(run_dir):
    board = leaderboard(run_dir)
    write_leaderboards(run_dir)
    on_disk = pd.read_csv(RunDir(run_dir).leaderboard, dtype={"config": str})
    for memory, csv in zip(board.to_dict("records"), on_disk.to_dict("records")):
        assert row_values(memory) == row_values(csv)
    assert row_values(board.iloc[0]) == {"tap/c1": True, "weight/c1": 0.31,
                                         "tap/c2": True, "weight/c2": 0.054}
    assert row_values(board.iloc[1]) == {"tap/c1": False, "tap/c2": False}


def test_summary_shows_the_top_rows_and_the_baseline(run_dir):
    text = summary(leaderboard(run_dir), 1).splitlines()
    assert text[0].split() == ["rank", "config", "taps", "score", "delta_vs_baseline",
                               "epochs", "trials"]
    assert "0000>0003" in text[1] and "+0.0100" in text[1]
    assert "(baseline: no taps)" in text[2] and len(text) == 3


def test_trial_epochs_are_those_a_trial_trained_itself():
    assert trial_epochs({"tuner/epochs": 9, "tuner/initial_epoch": 3}) == 6
    assert trial_epochs({}) == 0
