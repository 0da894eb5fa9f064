import json
import math

import keras_tuner as kt
import pandas as pd
import pytest

from auxsearch.core.rundir import RunDir
from auxsearch.results.tables import (
    leaderboard,
    metric_range,
    run_objective,
    saved_leaderboard,
    trials,
)
from auxsearch.results.write import write_leaderboards
from tests.results.conftest import save_trial


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


def test_noise_is_marked_at_the_full_budget_only(run_dir):
    assert leaderboard(run_dir)["noise"].isna().all()  # one baseline score: no floor
    # With the search's own 0.95: mean 0.95, sd 0.001; 0.96 is beyond, the baseline within.
    pd.DataFrame({"seed": [1, 2], "score": [0.949, 0.951]}).to_csv(
        RunDir(run_dir).baseline_seeds, index=False)
    table = leaderboard(run_dir).set_index("config")
    assert table.loc["0000", "noise"] == "beyond" and table.loc["0002", "noise"] == "within"
    assert pd.isna(table.loc["0004", "noise"]) and pd.isna(table.loc["0001", "noise"])


def test_a_configuration_at_chance_level_is_flagged_and_ranked_below(tmp_path):
    project = tmp_path / "search"
    save_trial(project, "0000", "COMPLETED", 0.90, {}, chance=0.1)
    save_trial(project, "0001", "COMPLETED", 0.105, {"c1": 0.9}, chance=0.1)  # diverged
    save_trial(project, "0002", "COMPLETED", 0.80, {"c2": 0.1}, chance=0.1)
    board = leaderboard(tmp_path, kt.Objective("val_main_accuracy", "max"))
    assert list(board["config"]) == ["0000", "0002", "0001"]
    assert board["flag"].iloc[:2].isna().all()
    assert board["flag"].iloc[2] == "at chance level: 0.105 vs 0.1 for a constant prediction"


def test_a_search_whose_trials_all_failed_has_only_unranked_rows(tmp_path):
    # Trials that failed before they trained report no metrics at all.
    project = tmp_path / "search"
    for trial_id in ("0000", "0001", "0002"):
        save_trial(project, trial_id, "FAILED", float("nan"), {"c1": 0.5},
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
    assert metric_range(run_objective(project)) == (0.0, 1.0)  # accuracy's
    pd.testing.assert_frame_equal(leaderboard(project), leaderboard(run_dir))
    assert list(trials(project)["trial_id"]) == list(trials(run_dir)["trial_id"])


def test_a_committed_run_reads_its_leaderboard_csv(run_dir):
    # A run as committed keeps its CSVs, not the tuner's checkpoints (search/).
    rebuilt = leaderboard(run_dir)
    write_leaderboards(run_dir)
    assert RunDir(run_dir).has_trials()
    pd.testing.assert_frame_equal(saved_leaderboard(run_dir), rebuilt)  # from the trials
    for trial in (run_dir / "search").glob("trial_*"):
        (trial / "trial.json").unlink()
    assert not RunDir(run_dir).has_trials() and leaderboard(run_dir).empty
    read = saved_leaderboard(run_dir)
    assert list(read["config"]) == list(rebuilt["config"])  # ids stay text: "0000"
    assert list(read["taps"]) == list(rebuilt["taps"]) and read["rank"].dtype == "Int64"
    assert read["score"].tolist() == pytest.approx(rebuilt["score"].tolist(), nan_ok=True)
