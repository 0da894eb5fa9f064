import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from auxsearch.core.errors import RunDirError
from auxsearch.core.rundir import RunDir
from auxsearch.core.space import dump_space, parse_space
from tests.conftest import TINY_SPACE


def _trial(run, trial_id, score, status="COMPLETED"):
    folder = run.trial_dir(trial_id)
    folder.mkdir(parents=True)
    state = {"trial_id": trial_id, "status": status, "score": score}
    (folder / "trial.json").write_text(json.dumps(state))  # NaN as Keras Tuner writes it


def test_every_path_of_a_run_directory(tmp_path):
    run = RunDir(tmp_path)
    assert run.root == tmp_path and Path(run) == tmp_path and str(run) == str(tmp_path)
    assert run.space == tmp_path / "space.toml"
    assert (run.leaderboard, run.trials) == (tmp_path / "leaderboard.csv",
                                             tmp_path / "trials.csv")
    assert run.confirmed == tmp_path / "confirmed.csv"
    assert run.plot == tmp_path / "leaderboard.png"
    assert run.logs == tmp_path / "logs"
    assert run.project == tmp_path / "search" and run.project_name == "search"
    assert run.oracle == tmp_path / "search" / "oracle.json"
    assert run.trial_dir("0003") == tmp_path / "search" / "trial_0003"
    assert run.checkpoint("0003") == tmp_path / "search" / "trial_0003" / "checkpoint.weights.h5"
    assert RunDir(run) == run and RunDir(str(tmp_path)) == run
    assert not list(tmp_path.iterdir())  # asking creates nothing


def test_a_bare_keras_tuner_project_is_its_own_project(tmp_path):
    (tmp_path / "oracle.json").write_text(json.dumps({"max_epochs": 9}))
    run = RunDir(tmp_path)
    assert run.project == tmp_path and run.trial_dir("0001") == tmp_path / "trial_0001"
    assert run.max_epochs() == 9


def test_trial_states_in_trial_order_with_nan_scores(tmp_path):
    run = RunDir(tmp_path)
    assert run.trial_states() == [] and run.max_epochs() is None
    _trial(run, "0001", float("nan"), "FAILED")
    _trial(run, "0000", 0.9)
    run.oracle.write_text(json.dumps({"max_epochs": 3}))
    states = run.trial_states()
    assert [s["trial_id"] for s in states] == ["0000", "0001"]
    assert states[0]["score"] == 0.9 and math.isnan(states[1]["score"])
    assert run.trial_state("0000") == states[0]
    assert run.max_epochs() == 3
    with pytest.raises(RunDirError, match=r"trial_0007.trial.json: no such trial state"):
        run.trial_state("0007")


def test_only_a_directory_with_a_space_is_a_run_directory(tmp_path):
    run = RunDir(tmp_path / "nope")
    assert not run.exists()
    with pytest.raises(RunDirError, match=r"nope: not a run directory of a search "
                       r"\(no space.toml\)$") as info:
        run.require()
    assert not info.value.discardable and "--" not in str(info.value)
    run.root.mkdir()
    run.space.write_text(TINY_SPACE)
    assert run.exists() and run.require() is run


def test_resuming_needs_the_same_space(tmp_path):
    space = parse_space(TINY_SPACE, name="tiny")
    run = RunDir(tmp_path)
    run.check_resumable(space)  # nothing searched here yet
    run.space.write_text(TINY_SPACE)  # keys left out mean their defaults
    run.check_resumable(space)
    run.space.write_text(dump_space(space))
    run.check_resumable(space)
    other = dataclasses.replace(space, seed=9, hyperband=dataclasses.replace(
        space.hyperband, max_epochs=4))
    with pytest.raises(RunDirError, match=r"holds a search of another space "
                       r"\(hyperband.max_epochs: 2 -> 4; seed: 3 -> 9\)$") as info:
        run.check_resumable(other)
    assert info.value.discardable and "--overwrite" not in str(info.value)
    # How many trials train at once changes no result: a run resumes with another.
    run.check_resumable(dataclasses.replace(space, training=dataclasses.replace(
        space.training, pack="auto")))


def test_an_unreadable_space_cannot_be_resumed(tmp_path):
    run = RunDir(tmp_path)
    run.space.write_text("name = [\n")
    with pytest.raises(RunDirError, match="holds a search this version cannot resume "
                       r"\(.*invalid TOML") as info:
        run.check_resumable(parse_space(TINY_SPACE, name="tiny"))
    assert info.value.discardable and "--" not in str(info.value)


@pytest.mark.e2e
def test_importing_the_module_imports_no_keras():
    code = ("import sys, auxsearch.core.rundir; "
            "print([m for m in ('keras', 'tensorflow', 'keras_tuner') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
