import keras_tuner as kt
import pandas as pd
import pytest

from auxsearch.core.rundir import RunDir
from auxsearch.results.rows import (
    baseline_rows,
    finished,
    flag_chance,
    is_true,
    read_table,
    row_values,
    tapped_rows,
    trial_epochs,
    trial_metrics,
    trial_row,
)
from auxsearch.results.tables import leaderboard
from auxsearch.results.write import write_leaderboards

_OBJECTIVE = kt.Objective("val_main_accuracy", "max")


def _state(**changes):
    state = {"trial_id": "0007", "status": "FAILED", "score": None,
             "hyperparameters": {"values": {"tap/c1": True, "weight/c1": 0.25,
                                            "tuner/epochs": 3, "tuner/initial_epoch": 1}},
             "metrics": {"metrics": {}}, "message": None}
    return {**state, **changes}


def test_row_values_read_a_table_in_memory_and_its_csv_alike(run_dir):
    board = leaderboard(run_dir)
    write_leaderboards(run_dir)
    on_disk = pd.read_csv(RunDir(run_dir).leaderboard, dtype={"config": str})
    for memory, csv in zip(board.to_dict("records"), on_disk.to_dict("records")):
        assert row_values(memory) == row_values(csv)
    assert row_values(board.iloc[0]) == {"tap/c1": True, "weight/c1": 0.31,
                                         "tap/c2": True, "weight/c2": 0.054}
    assert row_values(board.iloc[1]) == {"tap/c1": False, "tap/c2": False}


def test_trial_epochs_are_those_a_trial_trained_itself():
    assert trial_epochs({"tuner/epochs": 9, "tuner/initial_epoch": 3}) == 6
    assert trial_epochs({}) == 0


def test_a_trial_that_failed_before_it_trained_has_a_row_without_metrics():
    message = "Traceback (most recent call last):\n  File ...\n  ValueError: boom  \n\n"
    row = trial_row(_state(message=message), _OBJECTIVE)
    assert row["message"] == "ValueError: boom"
    assert row["score"] is None and row["epochs"] is None and row["wall_seconds"] is None
    assert row["taps"] == "c1:0.25" and row["total_epochs"] == 3
    assert trial_metrics(_state()) == {} and trial_metrics(_state(metrics=None)) == {}


@pytest.mark.parametrize("score, flag", [
    (0.105, "at chance level: 0.105 vs 0.1 for a constant prediction"),
    (0.9, None),
])
def test_a_score_no_better_than_chance_is_flagged(score, flag):
    metrics = {"chance_score": {"observations": [{"value": [0.1]}]}}
    state = _state(status="COMPLETED", score=score, metrics={"metrics": metrics})
    assert trial_row(state, _OBJECTIVE)["flag"] == flag
    # The flag is how a trials.csv keeps the chance score: it reads back.
    assert flag_chance(flag) == (0.1 if flag else None)


@pytest.mark.parametrize("cell", [None, float("nan"), "", "diverged", "at chance level: 0.1"])
def test_a_cell_that_names_no_chance_score_reads_as_none(cell):
    assert flag_chance(cell) is None


def test_finished_rows_read_alike_in_memory_and_from_the_csv(tmp_path):
    # Completed at the full budget only; a CSV with a gap reads `full_budget` as text.
    board = pd.DataFrame({"config": ["0001", "0002", "0003", "0004"],
                          "status": ["COMPLETED", "COMPLETED", "RUNNING", "COMPLETED"],
                          "full_budget": [True, False, True, None], "n_taps": [1, 0, 0, 0]})
    board.to_csv(tmp_path / "board.csv", index=False)
    for table in (board, read_table(tmp_path / "board.csv")):
        assert list(finished(table)["config"]) == ["0001"]
        assert list(baseline_rows(table)["config"]) == ["0002", "0003", "0004"]
        assert list(tapped_rows(table)["config"]) == ["0001"]
        assert baseline_rows(finished(table)).empty


@pytest.mark.parametrize("cell, value", [
    (True, True), ("True", True), (" true ", True), (1, True), (1.0, True),
    (False, False), ("False", False), (0, False), (None, False), (float("nan"), False),
])
def test_a_boolean_cell_reads_from_memory_and_from_csv_text(cell, value):
    assert is_true(cell) is value
