import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from auxsearch.core.errors import RunDirError
from auxsearch.core.rundir import RunDir, new_run_id
from auxsearch.core.space import dump_space, parse_space
from tests.conftest import TINY_SPACE


def _trial(run_dir, trial_id, score, status="COMPLETED"):
    folder = run_dir.trial_dir(trial_id)
    folder.mkdir(parents=True)
    state = {"trial_id": trial_id, "status": status, "score": score}
    (folder / "trial.json").write_text(json.dumps(state))  # NaN as Keras Tuner writes it


def test_every_path_of_a_run_directory(tmp_path):
    run_dir = RunDir(tmp_path)
    assert run_dir.root == tmp_path and Path(run_dir) == tmp_path and str(run_dir) == str(tmp_path)
    assert run_dir.space == tmp_path / "space.toml"
    assert (run_dir.leaderboard, run_dir.trials) == (tmp_path / "leaderboard.csv",
                                             tmp_path / "trials.csv")
    assert run_dir.confirmed == tmp_path / "confirmed.csv"
    assert run_dir.plot == tmp_path / "leaderboard.png"
    assert run_dir.logs == tmp_path / "logs"
    assert run_dir.project == tmp_path / "search" and run_dir.project_name == "search"
    assert run_dir.oracle == tmp_path / "search" / "oracle.json"
    assert run_dir.trial_dir("0003") == tmp_path / "search" / "trial_0003"
    trial = tmp_path / "search" / "trial_0003"
    assert run_dir.checkpoint("0003") == trial / "checkpoint.weights.h5"
    assert RunDir(run_dir) == run_dir and RunDir(str(tmp_path)) == run_dir
    assert not list(tmp_path.iterdir())  # asking creates nothing


def test_a_bare_keras_tuner_project_is_its_own_project(tmp_path):
    (tmp_path / "oracle.json").write_text(json.dumps({"max_epochs": 9}))
    run_dir = RunDir(tmp_path)
    assert run_dir.project == tmp_path and run_dir.trial_dir("0001") == tmp_path / "trial_0001"
    assert run_dir.max_epochs() == 9


def test_trial_states_in_trial_order_with_nan_scores(tmp_path):
    run_dir = RunDir(tmp_path)
    assert run_dir.trial_states() == [] and run_dir.max_epochs() is None
    _trial(run_dir, "0001", float("nan"), "FAILED")
    _trial(run_dir, "0000", 0.9)
    run_dir.oracle.write_text(json.dumps({"max_epochs": 3}))
    states = run_dir.trial_states()
    assert [s["trial_id"] for s in states] == ["0000", "0001"]
    assert states[0]["score"] == 0.9 and math.isnan(states[1]["score"])
    assert run_dir.trial_state("0000") == states[0]
    assert run_dir.max_epochs() == 3
    with pytest.raises(RunDirError, match=r"trial_0007.trial.json: no such trial state"):
        run_dir.trial_state("0007")


def test_only_a_directory_with_a_space_is_a_run_directory(tmp_path):
    run_dir = RunDir(tmp_path / "nope")
    assert not run_dir.exists()
    with pytest.raises(RunDirError, match=r"nope: not a run directory of a search "
                       r"\(no space.toml\)$") as info:
        run_dir.require()
    assert not info.value.discardable and "--" not in str(info.value)
    run_dir.root.mkdir()
    run_dir.space.write_text(TINY_SPACE)
    assert run_dir.exists() and run_dir.require() is run_dir


def test_resuming_needs_the_same_space(tmp_path):
    space = parse_space(TINY_SPACE, name="tiny")
    run_dir = RunDir(tmp_path)
    run_dir.check_resumable(space)  # nothing searched here yet
    run_dir.space.write_text(TINY_SPACE)  # keys left out mean their defaults
    run_dir.check_resumable(space)
    run_dir.space.write_text(dump_space(space))
    run_dir.check_resumable(space)
    other = dataclasses.replace(space, seed=9, hyperband=dataclasses.replace(
        space.hyperband, max_epochs=4))
    with pytest.raises(RunDirError, match=r"holds a search of another space "
                       r"\(hyperband.max_epochs: 2 -> 4; seed: 3 -> 9\)$") as info:
        run_dir.check_resumable(other)
    assert info.value.discardable and "--overwrite" not in str(info.value)
    # How many trials train at once changes no result: a run resumes with another.
    run_dir.check_resumable(dataclasses.replace(space, training=dataclasses.replace(
        space.training, pack="auto")))


def test_an_unreadable_space_cannot_be_resumed(tmp_path):
    run_dir = RunDir(tmp_path)
    run_dir.space.write_text("name = [\n")
    with pytest.raises(RunDirError, match="holds a search this version cannot resume "
                       r"\(.*invalid TOML") as info:
        run_dir.check_resumable(parse_space(TINY_SPACE, name="tiny"))
    assert info.value.discardable and "--" not in str(info.value)


def _committed(run_dir):
    """Another search's tables, as a fresh clone holds them: no manifest, no project."""
    run_dir.root.mkdir(parents=True, exist_ok=True)
    run_dir.race.write_text("config,seed,score\n0006,10001,0.9638888835906982\n")
    run_dir.baseline_seeds.write_text("seed,score\n10001,0.9666666388511658\n")
    run_dir.confirmed.write_text("config,mean\n0006,0.96\n")
    run_dir.effects.write_text("layer,effect\nconv1,0.008\n")
    run_dir.leaderboard.write_text("rank,config\n1,0006\n")
    run_dir.plot.write_bytes(b"png")
    run_dir.confirm_scores.mkdir()
    (run_dir.confirm_scores / "0006_seed1001_x.npz").write_bytes(b"npz")


def test_a_run_id_ties_the_tables_to_their_search(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    assert (run_dir.manifest, run_dir.confirm_scores) == (run_dir.root / "run.json",
                                                  run_dir.root / "confirm_scores")
    assert run_dir.run_id() is run_dir.files_id() is run_dir.search_id() is None
    _committed(run_dir)
    # Tables alone (a committed run) are read as they are: no project says otherwise.
    assert run_dir.owns_files() and run_dir.race_scores() == {"0006": {10001: 0.9638888835906982}}
    assert run_dir.baseline_scores() == {10001: 0.9666666388511658}
    # A new search starts here: the other search's tables go, unread; the space stays.
    run_dir.space.write_text(TINY_SPACE)
    assert run_dir.claim("abc") == ["leaderboard.csv", "race.csv", "baseline_seeds.csv",
                                "confirmed.csv", "confirm_scores", "effects.csv",
                                "leaderboard.png"]
    assert sorted(p.name for p in run_dir.root.iterdir()) == ["run.json", "space.toml"]
    assert run_dir.files_id() == run_dir.run_id() == "abc" and run_dir.search_id() is None
    run_dir.name_search("abc")
    assert run_dir.search_id() == "abc" and (run_dir.project / "run.json").is_file()
    # Its own tables are kept on a resume, and read.
    run_dir.race.write_text("config,seed,score\n0001,10003,0.5\n")
    assert run_dir.claim("abc") == [] and run_dir.race.is_file()
    assert run_dir.owns_files() and run_dir.race_scores() == {"0001": {10003: 0.5}}


def test_tables_of_another_search_beside_a_project_are_not_read(tmp_path):
    # The project's search is not the one that wrote the tables (e.g. a pull
    # replaced them with a committed run's): its race and noise floor read as none.
    run_dir = RunDir(tmp_path)
    run_dir.name_search("mine")
    _committed(run_dir)
    assert not run_dir.owns_files()
    assert run_dir.race_scores() == {} and run_dir.baseline_scores() == {}
    run_dir.manifest.write_text(json.dumps({"run_id": "theirs"}))
    assert run_dir.files_id() == "theirs" and run_dir.run_id() == "mine"
    assert not run_dir.owns_files()
    assert "race.csv" in run_dir.claim("mine")
    assert run_dir.owns_files() and run_dir.race_scores() == {}


def test_an_unreadable_manifest_names_no_run(tmp_path):
    run_dir = RunDir(tmp_path)
    for text in ("{", "[1]", json.dumps({"run_id": 3}), json.dumps({"run_id": ""})):
        run_dir.manifest.write_text(text)
        assert run_dir.files_id() is None
    assert len(new_run_id()) == 16 and new_run_id() != new_run_id()


@pytest.mark.e2e
def test_importing_the_module_imports_no_keras():
    code = ("import sys, auxsearch.core.rundir; "
            "print([m for m in ('keras', 'tensorflow', 'keras_tuner') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
