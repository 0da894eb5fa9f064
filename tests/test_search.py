import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from auxsearch.leaderboards import FILENAME
from auxsearch.search import Search, run_search
from auxsearch.space import load_space, objective_of


def test_run_search_writes_a_ranked_leaderboard_with_the_baseline(tiny_space, tmp_path):
    space = load_space(tiny_space)
    seen = []
    result = run_search(space, tmp_path / "run", on_trial_end=lambda t, o: seen.append(t.trial_id))
    board = result.leaderboard
    assert result.leaderboard_path == tmp_path / "run" / FILENAME
    assert len(board) == Search(space, tmp_path).planned[0] == len(seen) == 2
    assert set(board["status"]) == {"COMPLETED"}
    assert list(board["rank"]) == [1, 2]
    assert board["score"].is_monotonic_decreasing
    baseline = board[board["n_taps"] == 0]
    assert len(baseline) == 1 and baseline["epochs"].item() == 2
    assert baseline["full_budget"].item() and baseline["delta_vs_baseline"].item() == 0
    tapped = board[board["n_taps"] > 0].iloc[0]
    for layer in tapped["taps"].split(";"):
        name = layer.split(":")[0]
        assert 0 <= tapped[f"val_aux_{name}_accuracy"] <= 1
    assert load_space(tmp_path / "run" / "space.toml") == space
    assert len(result.trials) == 2 and set(result.trials["config"]) == set(board["config"])
    on_disk = pd.read_csv(result.leaderboard_path, dtype={"config": str})
    assert list(on_disk["config"]) == list(board["config"])

    # Running again resumes the finished search: no trial is redone.
    again = run_search(space, tmp_path / "run")
    assert list(again.leaderboard["config"]) == list(board["config"])
    assert list(again.leaderboard["score"]) == list(board["score"])


def test_hypermodel_follows_the_space(tiny_space):
    search = Search(load_space(tiny_space), "unused")
    hypermodel = search.hypermodel
    assert search.planned == (2, 4) and not search.run_dir.exists()
    assert [tap.name for tap in hypermodel.taps] == ["conv2", "conv5"]
    assert hypermodel.num_classes == 10 and hypermodel.batch_size == 128
    assert hypermodel.seed == 3


def test_a_run_directory_of_another_space_is_refused(tiny_run):
    from auxsearch.errors import AuxSearchError
    from auxsearch.search import open_run

    search = open_run(tiny_run)
    before = {p: p.read_bytes() for p in tiny_run.rglob("*") if p.is_file()}
    changed = dataclasses.replace(search.space, seed=9, hyperband=dataclasses.replace(
        search.space.hyperband, max_epochs=4))
    with pytest.raises(AuxSearchError, match=r"holds a search of another space "
                       r"\(hyperband.max_epochs: 2 -> 4; seed: 3 -> 9\); use --overwrite"):
        Search(changed, tiny_run).run()
    assert {p: p.read_bytes() for p in tiny_run.rglob("*") if p.is_file()} == before


REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "search_spaces").glob("*.toml"))


def test_every_example_space_is_tested():
    assert {path.stem for path in EXAMPLES} >= {
        "digits_cnn", "residual_penalty", "keras_file", "tabular_binary",
        "diabetes_regression", "digits_hints"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_space_searches(path, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # where `search_spaces.models.tabular` imports from
    space = load_space(path)
    space = dataclasses.replace(space, hyperband=dataclasses.replace(
        space.hyperband, max_epochs=2))  # 2 trials: the baseline and one configuration
    result = run_search(space, tmp_path / "run")
    board = result.leaderboard
    assert list(board["status"]) == ["COMPLETED", "COMPLETED"]
    assert sorted(board["n_taps"])[0] == 0 and sorted(board["n_taps"])[1] > 0
    name, direction = objective_of(space)
    assert set(board["objective"]) == {name} and board["score"].notna().all()
    ordered = board["score"].is_monotonic_decreasing if direction == "max" \
        else board["score"].is_monotonic_increasing
    assert ordered
