import math
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from auxsearch.confirmation import run as confirmation
from auxsearch.confirmation.run import confirm
from auxsearch.core.errors import AuxSearchError, RunDirError, SpaceError
from auxsearch.core.rundir import RunDir


@pytest.mark.e2e
def test_confirm_retrains_top_and_baseline_on_the_test_split(tiny_run, monkeypatch):
    opened, open_run = [], confirmation.open_run  # the search it retrains from

    def recorded(run_dir):
        opened.append(open_run(run_dir))
        return opened[-1]

    monkeypatch.setattr(confirmation, "open_run", recorded)
    seen = []
    table = confirm(tiny_run, top=1, seeds=2, on_score=lambda *a: seen.append(a))
    assert opened[0].hypermodel.seed == opened[0].space.seed == 3  # not the retrainings' seeds
    assert len(seen) == 4 and len(table) == 2  # one look, at 2 seeds
    assert list(table.columns) == [
        "config", "taps", "n_taps", "metric", "baseline", "seeds", "n_seeds", "mean", "std",
        "ci_low", "ci_high", "trained", "trained_seeds", "delta_vs_baseline", "delta_low",
        "delta_high", "detectable", "p_raw", "p_bound", "p_value", "p_seeds", "p_trained",
        "significant", "verdict", "look", "settled", "line", "scores"]
    assert set(table["seeds"]) == {"1003;2003"} and set(table["n_seeds"]) == {2}
    assert set(table["metric"]) == {"test_main_accuracy"}
    baseline = table[table["baseline"]].iloc[0]
    tapped = table[~table["baseline"]].iloc[0]
    assert baseline["n_taps"] == 0 and tapped["n_taps"] > 0
    for row in (baseline, tapped):
        scores = [float(v) for v in row["scores"].split(";")]
        assert len(scores) == 2 and row["mean"] == pytest.approx(sum(scores) / 2, abs=1e-4)
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
        assert all(0 <= v <= 1 for v in scores)
    assert math.isnan(baseline["p_value"]) and baseline["delta_vs_baseline"] == 0
    assert 0 <= tapped["p_value"] <= 1
    assert tapped["delta_vs_baseline"] == pytest.approx(tapped["mean"] - baseline["mean"])
    assert "design" in table.attrs
    assert tapped["significant"] == (tapped["p_raw"] <= tapped["p_bound"])
    assert tapped["verdict"] in ("better", "worse", "equivalent", "no detectable difference")
    assert tapped["line"].startswith(f"{tapped['config']}: ")
    assert -1 <= tapped["delta_low"] <= tapped["delta_vs_baseline"] <= tapped["delta_high"] <= 1
    on_disk = pd.read_csv(RunDir(tiny_run).confirmed, dtype={"config": str})
    assert list(on_disk["config"]) == list(table["config"])


def test_confirm_needs_a_test_split(tiny_run):
    space = (tiny_run / "space.toml").read_text().replace("test_fraction = 0.2",
                                                          "test_fraction = 0.0")
    (tiny_run / "space.toml").write_text(space)
    with pytest.raises(AuxSearchError, match="test_fraction is 0, so there is no test split"):
        confirm(tiny_run, top=1, seeds=2)


def test_confirm_refuses_bad_counts(tiny_run):
    with pytest.raises(SpaceError, match=r"^seeds must be >= 2 \(a look compares paired "
                                         r"seeds\); got 1$"):
        confirm(tiny_run, top=1, seeds=1)
    with pytest.raises(SpaceError, match="^margin must be a number > 0"):
        confirm(tiny_run, top=1, margin=0.0)
    with pytest.raises(SpaceError, match="^top must be >= 1; got 0$"):
        confirm(tiny_run, top=0)
    with pytest.raises(RunDirError, match="not a run directory of a search"):
        confirm(tiny_run / "search")
    assert not RunDir(tiny_run).confirmed.exists()


@pytest.mark.e2e
def test_seeds_are_paired_and_scores_are_per_example(tiny_run, monkeypatch):
    calls = []
    train = confirmation._train_and_test

    def spy(search, values, repetition):
        scores = train(search, values, repetition)
        calls.append((str(sorted(values.items())), confirmation.seed_of(search, repetition),
                      scores))
        return scores

    monkeypatch.setattr(confirmation, "_train_and_test", spy)
    confirm(tiny_run, top=1, seeds=2, pack=1)
    seeds = {}
    for config, seed, scores in calls:
        seeds.setdefault(config, []).append(seed)
        assert set(scores) <= {0.0, 1.0} and len(scores) > 1  # each test example right or not
    first, second = seeds.values()
    assert first == second and len(set(first)) == 2  # the same seeds for every configuration


@pytest.mark.e2e
def test_packed_confirmation_is_the_unpacked_one(tiny_run):
    unpacked = confirm(tiny_run, top=1, seeds=2, pack=1)
    shutil.rmtree(RunDir(tiny_run).confirm_scores)  # else read back: packing changes no key
    packed = confirm(tiny_run, top=1, seeds=2, pack=3)  # 4 trainings: a group of 3, then 1
    columns = ["config", "mean", "delta_vs_baseline", "p_value", "verdict"]
    pd.testing.assert_frame_equal(packed[columns], unpacked[columns], atol=1e-9)


def fake_training(monkeypatch, accuracy):
    """Replaces training with per-example scores at `accuracy(tapped, repetition)`."""
    trained = []

    def scores(search, values, repetition):
        tapped = any(v is True for k, v in values.items() if k.startswith("tap/"))
        trained.append(("tapped" if tapped else "baseline", repetition))
        rng = np.random.default_rng([int(tapped), repetition])
        return (rng.random(len(search.data.y_test)) < accuracy(tapped, repetition)).astype(float)

    monkeypatch.setattr(confirmation, "_train_and_test", scores)
    monkeypatch.setattr(confirmation, "_train_packed", lambda search, group: [
        scores(search, values, repetition) for _, values, repetition in group])
    return trained


def test_a_committed_run_confirms_from_its_leaderboard_csv(tiny_run, monkeypatch):
    # As committed: the CSVs without the tuner's trial states (search/).
    fake_training(monkeypatch, lambda tapped, _: 0.9 if tapped else 0.05)
    saved = confirm(tiny_run, top=1, seeds=3)
    shutil.rmtree(RunDir(tiny_run).project)
    committed = confirm(tiny_run, top=1, seeds=3)
    pd.testing.assert_frame_equal(committed, saved)


def test_confirm_trains_seed_by_seed_and_stops_when_settled(tiny_run, monkeypatch):
    trained = fake_training(monkeypatch, lambda tapped, _: 0.9 if tapped else 0.05)
    table = confirm(tiny_run, top=1, seeds=5).set_index("baseline")
    # Clearly better: settled at the look after seed 3 of 5; the baseline stops with it.
    assert trained == [(who, r) for r in range(3) for who in ("tapped", "baseline")]
    tapped, baseline = table.loc[False], table.loc[True]
    assert tapped["verdict"] == "better" and tapped["settled"] and tapped["look"] == 3
    assert tapped["n_seeds"] == baseline["n_seeds"] == 3
    assert tapped["seeds"] == baseline["seeds"] == "1003;2003;3003"
    assert tapped["line"].startswith(f"{tapped['config']}: better than the baseline, +0.")
    assert ", settled after 3 seeds; the baseline failed to train on 3 of 3 seeds" in (
        tapped["line"])
    assert table.attrs["design"].startswith("a look after every seed from 2 to 5, ")
    assert "stops as equivalent within ±0.01;" in table.attrs["design"]  # a point of accuracy
    on_disk = pd.read_csv(RunDir(tiny_run).confirmed, dtype={"config": str, "seeds": str})
    assert list(on_disk["seeds"]) == ["1003;2003;3003"] * 2
    assert list(on_disk["n_seeds"]) == [3, 3]


def test_confirm_stops_as_futile_when_nothing_will_settle(tiny_run, monkeypatch):
    trained = fake_training(monkeypatch, lambda tapped, r: 0.5 + 0.03 * (r % 2))
    table = confirm(tiny_run, top=1, seeds=5, margin=0.001).set_index("baseline")
    assert len(trained) == 6 and table["n_seeds"].tolist() == [3, 3]
    tapped = table.loc[False]
    assert tapped["verdict"] == "no detectable difference" and not tapped["settled"]
    assert "after 3 seeds, stopped as futile (this design detects about" in tapped["line"]
    assert "within ±0.001; from 3 seeds, stops as futile below 10%" in table.attrs["design"]


class _Killed(Exception):
    """A kill, injected after some trainings."""


def test_a_confirm_killed_midway_resumes_without_retraining(tiny_run, monkeypatch):
    trained = fake_training(monkeypatch, lambda tapped, _: 0.9 if tapped else 0.05)
    run_dir = RunDir(tiny_run)
    whole = confirm(tiny_run, top=1, seeds=5)  # uninterrupted: settled after 3 seeds
    assert len(trained) == 6 and whole.attrs["kept"] == 0
    shutil.rmtree(run_dir.confirm_scores)
    run_dir.confirmed.unlink()
    trained.clear()

    def killed(*_):
        if len(trained) == 4:
            raise _Killed

    with pytest.raises(_Killed):
        confirm(tiny_run, top=1, seeds=5, on_score=killed)
    assert not run_dir.confirmed.exists() and len(list(run_dir.confirm_scores.iterdir())) == 4
    trained.clear()
    resumed = confirm(tiny_run, top=1, seeds=5)
    assert trained == [("tapped", 2), ("baseline", 2)]  # only what the killed one lacked
    assert resumed.attrs["kept"] == 4
    pd.testing.assert_frame_equal(resumed, whole)
    trained.clear()
    assert confirm(tiny_run, top=1, seeds=5).attrs["kept"] == 6 and trained == []
    # Other settings conclude otherwise: nothing is reused.
    assert confirm(tiny_run, top=1, seeds=4).attrs["kept"] == 0 and len(trained) == 6


_KILLED_AFTER_3 = """
import os, signal, sys
from auxsearch.confirmation.run import confirm
done = []
def on_score(*score):
    done.append(score)
    if len(done) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
confirm(sys.argv[1], top=1, seeds=3, pack=1, on_score=on_score)
"""


@pytest.mark.e2e
def test_a_confirm_killed_by_sigkill_resumes_with_the_same_verdicts(tiny_run, tmp_path):
    # Each confirm in a process of its own, as the command line runs it (a process
    # that searched first has seeded TensorFlow, which shuffles the batches otherwise).
    def cli(run_dir):
        return subprocess.run(
            [sys.executable, "-m", "auxsearch", "confirm", str(run_dir), "--top", "1",
             "--seeds", "3", "--pack", "1"], env=env, capture_output=True, text=True,
            timeout=600)

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    whole_run = shutil.copytree(tiny_run, tmp_path / "whole")
    assert cli(whole_run).returncode == 0
    whole = pd.read_csv(RunDir(whole_run).confirmed, dtype={"config": str, "seeds": str})
    trainings = int(whole["n_seeds"].sum())
    assert trainings > 3
    killed = subprocess.run([sys.executable, "-c", _KILLED_AFTER_3, str(tiny_run)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    run_dir = RunDir(tiny_run)
    assert len(list(run_dir.confirm_scores.glob("*.npz"))) == 3 and not run_dir.confirmed.exists()
    resumed = cli(tiny_run)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    trained = [line for line in resumed.stderr.splitlines() if line.startswith("  config ")]
    assert len(trained) == trainings - 3  # what the killed one had scored is not retrained
    assert f"{trainings} of 6 trainings" in resumed.stdout
    assert "; 3 read back from an earlier confirm with these settings" in resumed.stdout
    pd.testing.assert_frame_equal(
        pd.read_csv(run_dir.confirmed, dtype={"config": str, "seeds": str}), whole)
