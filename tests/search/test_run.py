import dataclasses
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from auxsearch.core.errors import ModelError, RunDirError, SearchFailed, SpaceError
from auxsearch.core.rundir import OUTPUTS, RunDir
from auxsearch.core.space import dump_space, load_space, objective_of
from auxsearch.results.ranking import RACE_ORDER
from auxsearch.search.race import paired_seeds
from auxsearch.search.run import Search, run_search, with_overrides
from tests.conftest import CHANGING_BUILDER, NAN_BUILDER


def ranked_by_race(board, direction):
    """Whether full-budget rows that raced come by how the race ended
    ("won", "left", "dropped after 2 seeds"), then by their race mean."""
    sign = -1 if direction == "max" else 1
    keys = [(RACE_ORDER[race.split()[0]], sign * mean)
            for race, mean in zip(board["race"], board["race_mean"])]
    return keys == sorted(keys)


@pytest.mark.e2e
def test_run_search_writes_a_ranked_leaderboard_with_the_baseline(tiny_space, tmp_path):
    space = load_space(tiny_space)
    seen = []
    result = run_search(space, tmp_path / "run", on_trial_end=lambda t, o: seen.append(t.trial_id))
    board = result.leaderboard
    assert result.leaderboard_path == RunDir(tmp_path / "run").leaderboard
    assert len(board) == Search(space, tmp_path).planned[0] == len(seen) == 2
    assert set(board["status"]) == {"COMPLETED"}
    assert list(board["rank"]) == [1, 2]
    assert ranked_by_race(board, "max") and board["race"].iloc[0] == "won"
    baseline = board[board["n_taps"] == 0]
    assert len(baseline) == 1 and baseline["epochs"].item() == 2
    assert baseline["full_budget"].item() and baseline["delta_vs_baseline"].item() == 0
    tapped = board[board["n_taps"] > 0].iloc[0]
    for layer in tapped["taps"].split(";"):
        name = layer.split(":")[0]
        assert 0 <= tapped[f"val_aux_{name}_accuracy"] <= 1
    assert load_space(RunDir(tmp_path / "run").space) == space
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
    assert search.planned == (2, 4) and not search.run_dir.root.exists()
    assert [tap.name for tap in hypermodel.taps] == ["conv2", "conv5"]
    assert hypermodel.trainer.units == 10 and hypermodel.trainer.batch_size() == 128
    assert hypermodel.seed == 3


def test_a_run_directory_of_another_space_is_refused(tiny_run):
    from auxsearch.search.run import open_run

    search = open_run(tiny_run)
    before = {p: p.read_bytes() for p in tiny_run.rglob("*") if p.is_file()}
    changed = with_overrides(search.space, seed=9, max_epochs=4)
    with pytest.raises(RunDirError, match=r"holds a search of another space "
                       r"\(hyperband.max_epochs: 2 -> 4; seed: 3 -> 9\)$") as info:
        Search(changed, tiny_run).run()
    assert info.value.discardable  # the command line says how to discard it
    assert {p: p.read_bytes() for p in tiny_run.rglob("*") if p.is_file()} == before


def test_open_run_needs_a_run_directory(tmp_path):
    from auxsearch.search.run import open_run

    with pytest.raises(RunDirError, match="not a run directory of a search"):
        open_run(tmp_path)


def test_overrides_follow_the_rules_of_their_settings(tiny_space):
    space = load_space(tiny_space)
    assert with_overrides(space) == space
    changed = with_overrides(space, seed=7, max_epochs=5)
    assert (changed.seed, changed.hyperband.max_epochs) == (7, 5)
    assert changed.hyperband.factor == space.hyperband.factor and space.seed == 3
    with pytest.raises(SpaceError, match="^max_epochs must be >= 1; got 0$"):
        with_overrides(space, max_epochs=0)
    with pytest.raises(SpaceError, match="^seed must be >= 0; got -1$"):
        with_overrides(space, seed=-1)


# --- A search that fails ends with its own error, and still writes both CSVs.

def test_a_failed_search_writes_its_csvs_and_raises_its_error(tiny_space, tmp_path,
                                                              monkeypatch):
    def fail(self, tuner, verbose, tensorboard):
        raise SearchFailed("3 trials failed in a row; the last (trial 0002) failed with: boom")

    monkeypatch.setattr(Search, "train_trials", fail)
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(SearchFailed, match="^3 trials failed in a row"):
        run_search(load_space(tiny_space), run_dir)
    assert run_dir.leaderboard.exists() and run_dir.trials.exists()


def test_a_wrapped_configuration_error_is_raised_as_itself(tiny_space, tmp_path, monkeypatch):
    from auxsearch.kt.errors import FatalTrialError

    cause = ModelError("the model builder first built 9 layers, then 10")

    def fail(self, tuner, verbose, tensorboard):
        raise FatalTrialError(cause)

    monkeypatch.setattr(Search, "train_trials", fail)
    with pytest.raises(ModelError) as info:
        run_search(load_space(tiny_space), tmp_path / "run")
    assert info.value is cause
    assert RunDir(tmp_path / "run").trials.exists()




def failing_space(tmp_path, monkeypatch, tiny_space, kind):
    """A space whose builder breaks its contract in trial 2, or fails every trial."""
    monkeypatch.chdir(tmp_path)  # the builder imports from here
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module = f"auxsearch_test_{kind}_builder"
    monkeypatch.delitem(sys.modules, module, raising=False)
    (tmp_path / f"{module}.py").write_text(CHANGING_BUILDER if kind == "changing" else NAN_BUILDER)
    monkeypatch.setenv("AUXSEARCH_TEST_RUN", str(tmp_path / "run"))
    text = tiny_space.read_text().replace('builtin = "digits_cnn"', f'builder = "{module}:build"')
    if kind == "nan":  # 6 trials planned: the 3rd failure in a row ends the search
        text = text.replace('["conv2", "conv5"]', '["d1"]').replace("max_epochs = 2",
                                                                  "max_epochs = 3")
    path = tmp_path / f"{kind}.toml"
    path.write_text(text)
    return path


def _statuses(run_dir):
    table = pd.read_csv(run_dir.trials, dtype={"trial_id": str})
    return dict(zip(table["trial_id"], table["status"]))


@pytest.mark.e2e
def test_a_builder_that_breaks_its_contract_ends_the_search_with_its_error(
        tiny_space, tmp_path, monkeypatch):
    space = load_space(failing_space(tmp_path, monkeypatch, tiny_space, "changing"))
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(ModelError, match="first built 9 layers, then 10"):
        run_search(space, run_dir)
    statuses = _statuses(run_dir)
    assert statuses["0000"] == "COMPLETED" and statuses["0001"] != "COMPLETED"
    board = pd.read_csv(run_dir.leaderboard, dtype={"config": str})
    assert len(board) == 2 and board["rank"].notna().sum() == 1


@pytest.mark.e2e
def test_a_search_whose_trials_all_fail_ends_with_search_failed(tiny_space, tmp_path,
                                                                monkeypatch):
    space = load_space(failing_space(tmp_path, monkeypatch, tiny_space, "nan"))
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(SearchFailed, match="^3 trials failed in a row; .*loss became nan"):
        run_search(space, run_dir)
    assert set(_statuses(run_dir).values()) == {"FAILED"} and len(_statuses(run_dir)) == 3
    board = pd.read_csv(run_dir.leaderboard)
    assert list(board["status"]) == ["FAILED"] * 3 and board["rank"].isna().all()
    assert board["message"].str.contains("loss became nan").all()


REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "search_spaces").glob("*.toml"))


def test_every_example_space_is_tested():
    assert {path.stem for path in EXAMPLES} >= {
        "digits_cnn", "residual_penalty", "keras_file", "tabular_binary",
        "diabetes_regression", "digits_hints"}


@pytest.mark.e2e
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
    assert ranked_by_race(board, direction)


@pytest.mark.e2e
def test_baseline_seeds_are_kept_on_resume_and_discarded_with_the_search(tiny_space, tmp_path):
    space = dataclasses.replace(load_space(tiny_space), hyperband=dataclasses.replace(
        load_space(tiny_space).hyperband, max_epochs=1, baseline_seeds=1))
    run_dir = RunDir(tmp_path / "run")
    search = Search(space, run_dir)
    search.run()
    scores = run_dir.baseline_scores()
    assert len(scores) == 1
    seen = []
    search.run(on_race=lambda *a: seen.append(a))  # resumed: nothing to train again
    assert seen == [] and run_dir.baseline_scores() == scores
    run_dir.baseline_seeds.write_text("seed,score\n" + f"{next(iter(scores))},0.5\n")
    search.run(overwrite=True, on_race=lambda *a: seen.append(a))
    assert len(seen) == 1 and run_dir.baseline_scores() != {next(iter(scores)): 0.5}


COMMITTED = Path(__file__).parents[2] / "results" / "digits_cnn"  # another machine's run


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


@pytest.mark.e2e
def test_a_run_where_another_search_left_its_tables_starts_clean(tiny_space, tmp_path, caplog):
    # A fresh clone: the committed run's tables and plot, no project (search/).
    space = load_space(tiny_space)
    run_dir = RunDir(tmp_path / "run")
    shutil.copytree(COMMITTED, run_dir.root)
    run_dir.space.write_text(dump_space(space))  # the same space, searched elsewhere
    theirs = {name: (COMMITTED / name).read_bytes() for name in
              ("race.csv", "baseline_seeds.csv", "leaderboard.csv", "trials.csv")}
    foreign = (set(pd.read_csv(run_dir.race)["score"])
               | set(pd.read_csv(run_dir.baseline_seeds)["score"]))
    raced = []
    result = Search(space, run_dir).run(on_race=lambda *a: raced.append(a))
    committed = [name for name in OUTPUTS if (COMMITTED / name).exists()]
    assert {"race.csv", "baseline_seeds.csv", "confirmed.csv"} <= set(committed)
    line = (f"{run_dir.root} held another search's {', '.join(committed)}: removed unread, "
            "this run writes its own")
    assert _warnings(caplog) == [line]
    assert not run_dir.confirmed.exists() and not run_dir.effects.exists()
    assert all((run_dir.root / name).read_bytes() != text for name, text in theirs.items())
    assert run_dir.files_id() == run_dir.search_id() is not None
    # The race ran here, on this search's configurations and seeds, and nothing else.
    race = pd.read_csv(run_dir.race, dtype={"config": str})
    seeds = paired_seeds(space)
    assert len(raced) == len(race) == 4 and set(race["seed"]) == set(seeds)
    assert set(race["config"]) == set(result.leaderboard["config"])
    assert sorted(run_dir.baseline_scores()) == seeds
    assert not foreign & (set(race["score"]) | set(run_dir.baseline_scores().values()))
    assert result.leaderboard["race_seeds"].tolist() == [2, 2]

    # Its own run, resumed: its race is kept, nothing trains again, nothing is removed.
    caplog.clear()
    again = Search(space, run_dir).run(on_race=lambda *a: raced.append(a))
    assert len(raced) == 4 and _warnings(caplog) == []
    pd.testing.assert_frame_equal(pd.read_csv(run_dir.race, dtype={"config": str}), race)
    assert list(again.leaderboard["race_mean"]) == list(result.leaderboard["race_mean"])


def test_a_search_claims_its_run_directory(tiny_run, caplog):
    run_dir = RunDir(tiny_run)
    mine = run_dir.search_id()
    assert mine and run_dir.files_id() == mine  # the search wrote both
    search = Search(load_space(run_dir.space), run_dir)
    assert search.claim() == mine and _warnings(caplog) == [] and run_dir.race.is_file()
    # Tables another search wrote beside this project are removed, in one line.
    run_dir.manifest.write_text('{"run_id": "theirs"}')
    search = Search(load_space(run_dir.space), run_dir)
    assert search.claim() == mine and run_dir.files_id() == mine
    assert len(_warnings(caplog)) == 1 and "race.csv" in _warnings(caplog)[0]
    assert not run_dir.race.exists() and not run_dir.leaderboard.exists()
    assert search.claim() == mine and len(_warnings(caplog)) == 1  # nothing left to say
    # A discarded search's id goes with it, and so do its tables.
    run_dir.race.write_text("config,seed,score\n0000,10003,0.5\n")
    fresh = search.claim(overwrite=True)
    assert fresh != mine and run_dir.files_id() == fresh and not run_dir.race.exists()
    assert search.claim(overwrite=True) not in (fresh, mine)  # as often as it is discarded


def segmentation_space(tmp_path, monkeypatch, mask_size=16):
    """A tiny segmentation space: 16x16 images, 3 classes, a border labelled 255."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.random((60, 16, 16, 1)).astype("float32")
    y = (x[..., 0] * 3).astype("int32")
    y[:, 0] = 255
    step = 16 // mask_size
    np.savez(tmp_path / "masks.npz", x_train=x, y_train=y[:, ::step, ::step])
    path = tmp_path / "seg.toml"
    path.write_text('name = "seg"\nseed = 1\n\n[model]\nbuilder = "tests.conftest:'
                    'segmentation_builder"\n\n[data]\nfile = "masks.npz"\ntask = "segmentation"\n'
                    'ignore_label = 255\n\n[taps]\ncandidates = ["enc2", "dec1"]\n\n'
                    '[training]\nbatch_size = 16\npack = 2\n\n[hyperband]\nmax_epochs = 2\n')
    return path


@pytest.mark.e2e
def test_a_segmentation_search_ranks_by_mean_iou_confirms_and_exports(tmp_path, monkeypatch):
    import keras
    import numpy as np

    from auxsearch.confirmation.run import confirm
    from auxsearch.search.export import export_model

    space = load_space(segmentation_space(tmp_path, monkeypatch))
    assert objective_of(space) == ("val_main_mean_iou", "max")
    result = run_search(space, tmp_path / "run")
    board = result.leaderboard
    assert board["rank"].notna().all() and board["score"].between(0, 1).all()
    assert "val_main_accuracy" in result.trials.columns
    table = confirm(tmp_path / "run", top=1, seeds=2)
    assert list(table["metric"].unique()) == ["test_main_mean_iou"]
    out = export_model(tmp_path / "run", tmp_path / "mask.keras")
    model = keras.models.load_model(out)  # plain Keras: no auxsearch layer in the main path
    assert model.predict(np.zeros((2, 16, 16, 1)), verbose=0).shape == (2, 16, 16, 3)


@pytest.mark.e2e
def test_a_mask_at_another_resolution_is_refused_before_anything_is_written(tmp_path,
                                                                          monkeypatch):
    from auxsearch.core.errors import DataError

    space = load_space(segmentation_space(tmp_path, monkeypatch, mask_size=8))
    with pytest.raises(DataError, match=r"y_train has masks of shape \(8, 8\), but the model's "
                                        r"output has positions \(16, 16\)"):
        run_search(space, tmp_path / "run")
    assert not (tmp_path / "run").exists()
