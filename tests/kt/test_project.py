"""A project's files: state files are replaced atomically, where Keras Tuner keeps them."""

from __future__ import annotations

import json
import os

import keras_tuner as kt

from auxsearch.kt import project
from auxsearch.kt.oracle import HyperbandOracleBase
from auxsearch.kt.project import save_trial_state
from tests.oracles import set_project_dir


def _oracle(tmp_path) -> HyperbandOracleBase:
    hp = kt.HyperParameters()
    hp.Boolean("tap/a")
    oracle = HyperbandOracleBase(kt.Objective("score", "max"), max_epochs=9, factor=3,
                                 hyperparameters=hp, seed=1)
    set_project_dir(oracle, tmp_path, "p")
    return oracle


def test_the_oracles_state_files_are_written_atomically(tmp_path, monkeypatch):
    written = []
    real = project.save_json
    monkeypatch.setattr(project, "save_json",
                        lambda path, obj: written.append(os.path.basename(path)) or real(path, obj))
    oracle = _oracle(tmp_path)
    oracle.create_trial("tuner0")
    assert {"oracle.json", "trial.json"} <= set(written)
    assert not list(tmp_path.rglob(".*.json"))  # no temporary file left behind


def test_a_trials_state_is_saved_in_its_own_folder(tmp_path):
    oracle = _oracle(tmp_path)
    trial = oracle.create_trial("tuner0")
    trial.message = "kept"
    save_trial_state(oracle, trial)
    saved = json.loads((tmp_path / "p" / f"trial_{trial.trial_id}" / "trial.json").read_text())
    assert saved["trial_id"] == trial.trial_id and saved["message"] == "kept"
