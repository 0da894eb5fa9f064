"""In-memory oracles: Keras Tuner's logic, no files, no printing."""

from __future__ import annotations

import random

import keras_tuner as kt
import pytest

from auxsearch.core.tapspace import TapSpace
from auxsearch.kt.memory import in_memory
from tests.oracles import set_project_dir


def _drive(oracle: kt.Oracle, space: TapSpace) -> list[dict]:
    hp = kt.HyperParameters()
    space.declare(hp)
    oracle.update_space(hp)
    scores, seen = random.Random(3), []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            return seen
        seen.append(dict(trial.hyperparameters.values))
        oracle.update_trial(trial.trial_id, {"score": scores.random()})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)


@pytest.mark.parametrize("max_taps", [None, 2])
def test_an_in_memory_oracle_proposes_what_keras_tuners_own_does(tmp_path, capsys, max_taps):
    space = TapSpace(["a", "b", "c", "d"], weight_grid=(0.03, 0.3), max_taps=max_taps)
    settings = dict(objective=kt.Objective("score", "max"), max_epochs=9, factor=3, seed=7)
    own = kt.oracles.HyperbandOracle(**settings)
    set_project_dir(own, tmp_path, "own")
    expected = _drive(own, space)
    capsys.readouterr()
    seen = _drive(in_memory(kt.oracles.HyperbandOracle)(**settings), space)
    assert seen == expected and len(seen) == 23
    assert capsys.readouterr().out == ""  # Keras Tuner's trial tables are not printed


def test_an_in_memory_oracle_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    oracle = in_memory(kt.oracles.HyperbandOracle)(kt.Objective("score", "max"), max_epochs=3,
                                                   seed=1)
    assert len(_drive(oracle, TapSpace(["a", "b"], weight_grid=(0.1,)))) > 1
    assert list(tmp_path.iterdir()) == []
    copy = oracle.trials["0000"].hyperparameters.copy()
    copy.values["tap/a"] = "changed"
    assert oracle.trials["0000"].hyperparameters.values.get("tap/a") != "changed"
