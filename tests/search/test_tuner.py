"""The baseline oracle, driven by hand as keras-tuner's own tests do."""

import os
import threading
from types import SimpleNamespace

import keras_tuner as kt
import pytest

from auxsearch.core.errors import SearchFailed
from auxsearch.core.space import TapSpec, TrainingSpec
from auxsearch.kt.bookkeeping import oracle_lock, running_trials
from auxsearch.search.hypermodel import AuxLossHyperModel
from auxsearch.search.sampler import TapSampler
from auxsearch.search.tuner import (
    BaselineHyperbandOracle,
    Hyperband,
    hyperband_budget,
    observations,
)
from tests.conftest import functional_mlp
from tests.oracles import set_project_dir


def _oracle(tmp_path, max_epochs=9, factor=3, iterations=1, sampler=False):
    hp = kt.HyperParameters()
    hm = AuxLossHyperModel(functional_mlp)
    hm.declare(hp)
    oracle = BaselineHyperbandOracle(
        kt.Objective("score", "max"), max_epochs=max_epochs, factor=factor,
        hyperband_iterations=iterations, hyperparameters=hp, seed=1, config_key=hm.config_key,
        sampler=TapSampler(hm.space, maximize=True) if sampler else None)
    set_project_dir(oracle, tmp_path, "p")
    return oracle


def _run_all(oracle):
    """Plays a whole search, scoring each trial by its total weight."""
    trials = []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            return trials
        values = trial.hyperparameters.values
        score = sum(v for k, v in values.items() if k.startswith("weight/"))
        oracle.update_trial(trial.trial_id, {"score": score})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        trials.append(trial)


def _is_baseline(trial):
    return not any(v for k, v in trial.hyperparameters.values.items() if k.startswith("tap/"))


@pytest.mark.parametrize("max_epochs, factor, iterations",
                         [(9, 3, 1), (3, 3, 1), (10, 3, 2), (2, 3, 1), (1, 3, 1), (27, 3, 1)])
def test_baseline_trains_once_to_the_full_budget(tmp_path, max_epochs, factor, iterations):
    trials = _run_all(_oracle(tmp_path, max_epochs, factor, iterations))
    baselines = [t for t in trials if _is_baseline(t)]
    assert len(baselines) == 1
    values = baselines[0].hyperparameters.values
    assert values["tuner/epochs"] == max_epochs and values["tuner/initial_epoch"] == 0
    assert values["tuner/bracket"] == 0
    assert len(trials) == hyperband_budget(max_epochs, factor, iterations)[0]


def test_baseline_survives_a_reload(tmp_path):
    oracle = _oracle(tmp_path)
    trials = _run_all(oracle)
    state = oracle.get_state()
    assert state["baseline_scheduled"] is True
    fresh = _oracle(tmp_path)
    fresh.set_state(state)
    assert fresh.baseline_scheduled is True
    assert sum(map(_is_baseline, trials)) == 1


def test_the_model_sampler_proposes_new_configurations_after_the_baseline(tmp_path):
    oracle = _oracle(tmp_path, iterations=2, sampler=True)
    trials = _run_all(oracle)
    assert len(trials) == hyperband_budget(9, 3, 2)[0]
    assert sum(map(_is_baseline, trials)) == 1
    first = [t for t in trials if t.hyperparameters.values["tuner/round"] == 0]
    keys = [oracle.config_key(t.hyperparameters.values) for t in first]
    assert len(set(keys)) == len(keys)
    results = observations(oracle)
    assert len(results) == len(trials) and all(r.score is not None for r in results)
    # Weights score here: the model proposes heavier taps than its prior's.
    late = [sum(t.weight for t in r.losses) for r in results[-20:] if r.losses]
    early = [sum(t.weight for t in r.losses) for r in results[:10] if r.losses]
    assert sum(late) / len(late) > sum(early) / len(early)


def test_a_reloaded_model_sampler_proposes_what_it_would_have(tmp_path):
    def first_trials(oracle, count):
        found = []
        for _ in range(count):
            trial = oracle.create_trial("tuner0")
            found.append(dict(trial.hyperparameters.values))
            oracle.update_trial(trial.trial_id, {"score": len(found) % 3})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
        return found

    killed = _oracle(tmp_path, sampler=True)
    first_trials(killed, 8)
    resumed = _oracle(tmp_path, sampler=True)
    resumed.reload()  # from the files: the proposal depends on the trials and seed alone
    assert resumed.scheduled_values(2) == killed.scheduled_values(2) is not None


@pytest.mark.parametrize(
    "max_epochs, factor, iterations, expected",
    [(9, 3, 1, (23, 75)), (3, 3, 1, (6, 11)), (10, 3, 1, (30, 120)),
     (27, 3, 1, (70, 375)), (81, 3, 1, (211, 1767)), (81, 4, 1, (161, 1617)),
     (9, 3, 2, (46, 150)), (1, 3, 1, (1, 1))],
)
def test_budget_matches_keras_tuner(max_epochs, factor, iterations, expected):
    assert hyperband_budget(max_epochs, factor, iterations) == expected


@pytest.mark.e2e
def test_tuner_reports_each_finished_trial(tiny_data, tmp_path):
    x, y, xv, yv = tiny_data
    seen = []
    tuner = Hyperband(AuxLossHyperModel(functional_mlp, ["d2"], TrainingSpec(batch_size=16)),
                      max_epochs=2, seed=1, directory=tmp_path, project_name="p",
                      on_trial_end=lambda trial, oracle: seen.append(
                          (trial.trial_id, trial.status, len(oracle.trials))))
    assert tuner.oracle.objective.name == "val_main_accuracy"
    tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    assert seen == [("0000", "COMPLETED", 1), ("0001", "COMPLETED", 2)]
    baseline = tuner.oracle.trials["0000"]
    assert baseline.hyperparameters.values["tap/d2"] is False
    assert baseline.metrics.get_last_value("epochs_trained") == 2


def test_space_is_declared_without_building(tmp_path, monkeypatch):
    hm = AuxLossHyperModel(functional_mlp)
    monkeypatch.setattr(hm, "build", lambda hp: pytest.fail("built to declare the space"))
    tuner = Hyperband(hm, max_epochs=2, directory=tmp_path, project_name="p")
    space = tuner.oracle.get_space()
    assert [p.name for p in space.space] == [
        "tap/d1", "weight/d1", "tap/d2", "weight/d2", "tap/d3", "weight/d3"]
    weight = space.space[1]
    assert [c.name for c in weight.conditions] == ["tap/d1"]


def test_slots_never_propose_a_layer_twice_or_a_permutation(tmp_path):
    hm = AuxLossHyperModel(functional_mlp, TapSpec(max_taps=2, kinds=["head", "penalty"]))
    hp = kt.HyperParameters()
    hm.declare(hp)
    oracle = BaselineHyperbandOracle(
        kt.Objective("score", "max"), max_epochs=9, factor=3, hyperparameters=hp,
        seed=1, config_key=hm.config_key)
    set_project_dir(oracle, tmp_path, "p")
    trials = _run_all(oracle)
    keys = [hm.config_key(t.hyperparameters.values) for t in trials
            if "tuner/trial_id" not in t.hyperparameters.values]
    assert len(keys) > 10 and None not in keys
    assert len(set(keys)) == len(keys)  # no configuration twice, in any slot order
    assert keys.count("[]") == 1  # the baseline, once


def test_trials_failing_in_a_row_end_the_search_with_one_line(tmp_path):
    oracle = _oracle(tmp_path)
    message = ("Traceback (most recent call last):\n  File \"hypermodel.py\", line 1\n"
               "auxsearch.core.errors.ModelError: the model builder first built 9 layers, "
               "then 10\n")
    with pytest.raises(SearchFailed, match=r"^3 trials failed in a row; the last \(trial 0002\) "
                       r"failed with: auxsearch\.core\.errors\.ModelError: the model builder first "
                       r"built 9 layers, then 10$"):
        for _ in range(3):
            trial = oracle.create_trial("tuner0")
            trial.status = "FAILED"
            trial.message = message
            oracle.end_trial(trial)
    assert trial.trial_id == "0002"
    done = threading.Event()

    def other_thread():
        with oracle_lock(oracle):
            done.set()

    threading.Thread(target=other_thread, daemon=True).start()
    assert done.wait(10), "the oracle stayed locked after the search failed"


def test_the_space_is_declared_by_the_hypermodel():
    declared = []
    Hyperband.declare_space(SimpleNamespace(hypermodel=SimpleNamespace(declare=declared.append)),
                            "hp")
    assert declared == ["hp"]


def _rss_mb():
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _search_rss(tmp_path, tiny_data, monkeypatch, outputs_limit):
    """Runs a 23-trial search; returns the resident memory after each trial."""
    import auxsearch.trial.trainer as module

    monkeypatch.setattr(module, "MAX_TRACED_OUTPUTS", outputs_limit)
    x, y, xv, yv = tiny_data
    rss = []
    hm = AuxLossHyperModel(functional_mlp, None, TrainingSpec(batch_size=16))
    tuner = Hyperband(hm, max_epochs=9, factor=3,
                      seed=0, directory=str(tmp_path), project_name="p",
                      on_trial_end=lambda trial, oracle: rss.append(_rss_mb()))
    tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    assert len(rss) >= 20
    return rss


@pytest.mark.e2e
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_memory_stays_flat_over_many_trials(tmp_path, tiny_data, monkeypatch):
    # Bound: after 5 trials of warm-up, the other 18 add under 40 MB in all.
    rss = _search_rss(tmp_path, tiny_data, monkeypatch, outputs_limit=32)
    assert max(rss[5:]) - rss[4] < 40, [round(r) for r in rss]


@pytest.mark.slow  # minutes: a new model for each of 23 trials (CI leaves it out; -m slow)
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_memory_per_configuration_models_grows_only_as_keras_does(tmp_path, tiny_data,
                                                                  monkeypatch):
    # A new compiled model per trial: the session is cleared, but TensorFlow
    # keeps about 8.5 MB per compiled-and-fitted model even for plain Keras
    # (measured); bound: under 15 MB per trial.
    rss = _search_rss(tmp_path, tiny_data, monkeypatch, outputs_limit=0)
    assert (max(rss[5:]) - rss[4]) / (len(rss) - 5) < 15, [round(r) for r in rss]


@pytest.mark.e2e
def test_every_state_file_is_written_atomically(tmp_path, tiny_data, monkeypatch):
    # Keras Tuner writes its JSON files in place; a kill mid-write would leave
    # one truncated, and the search could not be resumed.
    import auxsearch.kt.project as module

    written = []
    real = module.save_json
    monkeypatch.setattr(module, "save_json",
                        lambda path, obj: written.append(os.path.basename(path)) or real(path, obj))
    x, y, xv, yv = tiny_data
    tuner = Hyperband(AuxLossHyperModel(functional_mlp), max_epochs=1, seed=0,
                      directory=str(tmp_path), project_name="p")
    tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    assert {"oracle.json", "trial.json", "tuner0.json"} <= set(written)
    assert not list(tmp_path.rglob(".*.json"))  # no temporary file left behind


def _run_packed(oracle, k):
    """Plays a search as a packed tuner does: k slots, the largest group first.

    Later trials score higher, so a promotion that did not wait for its
    whole round would pick another trial.
    """
    from auxsearch.kt.loop import _largest_group

    slots = ["tuner0"] + [f"tuner0-{i}" for i in range(1, k)]
    held, done = {}, []
    while True:
        stopped = False
        for slot in slots:
            if slot not in held:
                trial = oracle.create_trial(slot)
                if trial.status in ("STOPPED", "IDLE"):
                    stopped = trial.status == "STOPPED"
                    break
                held[slot] = trial
        if not held:
            assert stopped
            return done
        group = _largest_group(list(held.values()))
        held = {s: t for s, t in held.items() if t not in group}
        for trial in group:
            oracle.update_trial(trial.trial_id, {"score": float(trial.trial_id)})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
            done.append(trial)


def _plan(oracle, trials):
    """Each trial as what it is: its configuration, epochs, bracket and parent's configuration."""
    def key(trial):
        values = dict(trial.hyperparameters.values)
        parent = values.pop("tuner/trial_id", None)
        values["parent"] = None if parent is None else key(oracle.trials[parent])
        return tuple(sorted((k, str(v)) for k, v in values.items()))
    return sorted(key(t) for t in trials)


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("max_epochs, iterations", [
    (9, 1), pytest.param(10, 2, marks=pytest.mark.e2e)])  # two iterations: 2.6x the trials
def test_packed_slots_get_the_trials_of_one_at_a_time(tmp_path, k, max_epochs, iterations):
    serial = _oracle(tmp_path / "serial", max_epochs, 3, iterations)
    packed = _oracle(tmp_path / "packed", max_epochs, 3, iterations)
    assert _plan(packed, _run_packed(packed, k)) == _plan(serial, _run_packed(serial, 1))


def _search(tiny_data, directory, pack, **kwargs):
    x, y, xv, yv = tiny_data
    tuner = Hyperband(AuxLossHyperModel(functional_mlp, ["d1", "d2"], TrainingSpec(batch_size=16)),
                      max_epochs=3, seed=1, directory=directory, project_name="p", pack=pack,
                      **kwargs)
    tuner.search(x, y, validation_data=(xv, yv), verbose=0)
    return tuner


def _results(tuner):
    oracle = tuner.oracle
    return {key: (t.status, t.score) for key, t in zip(_plan(oracle, oracle.trials.values()),
                                                       sorted(oracle.trials.values(),
                                                              key=lambda t: _plan(oracle, [t])))}


@pytest.mark.e2e
def test_a_packed_search_gives_the_unpacked_one(tiny_data, tmp_path):
    unpacked = _results(_search(tiny_data, tmp_path / "one", 1))
    packed = _search(tiny_data, tmp_path / "three", 3)
    assert packed.packed == 3
    got = _results(packed)
    assert sorted(got) == sorted(unpacked)
    for key, (status, score) in unpacked.items():
        assert got[key][0] == status == "COMPLETED"
        assert got[key][1] == pytest.approx(score, abs=1e-6)


@pytest.mark.e2e
def test_a_killed_packed_search_redoes_its_held_trials_once(tiny_data, tmp_path):
    first = Hyperband(AuxLossHyperModel(functional_mlp, ["d1", "d2"], TrainingSpec(batch_size=16)),
                      max_epochs=3, seed=1, directory=tmp_path, project_name="p", pack=2)
    held = [first.oracle.create_trial("tuner0"), first.oracle.create_trial("tuner0-1")]
    assert all(t.status == "RUNNING" for t in held)  # killed here: saved as running
    resumed = _search(tiny_data, tmp_path, 1)  # another pack: the slot tuner0-1 is adopted
    trials = resumed.oracle.trials.values()
    assert len(trials) == hyperband_budget(3, 3)[0]
    assert all(t.status == "COMPLETED" for t in trials)
    assert {t.trial_id for t in held} <= {t.trial_id for t in trials}
    assert not running_trials(resumed.oracle)
