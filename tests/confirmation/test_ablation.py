"""The ablation of the confirmed winner: variants paired on its seeds, verdicts, the smallest."""

import shutil

import numpy as np
import pandas as pd
import pytest

from auxsearch.confirmation import run as confirmation
from auxsearch.confirmation.ablation import COLUMNS, Ablation, winner_of
from auxsearch.confirmation.run import confirm
from auxsearch.core.rundir import RunDir
from auxsearch.core.tapspace import active_taps
from auxsearch.search.run import open_run


def tapped_run(tiny_run, taps):
    """The tiny run as committed, its tapped configuration tapping `taps` ({layer: weight})."""
    run_dir = RunDir(tiny_run)
    shutil.rmtree(run_dir.project)  # confirm reads the CSVs, as in a committed run
    space = run_dir.space.read_text().replace('candidates = ["conv2", "conv5"]',
                                          f"candidates = {sorted(taps)!r}".replace("'", '"'))
    run_dir.space.write_text(space)
    board = pd.read_csv(run_dir.leaderboard, dtype={"config": str})
    board = board.drop(columns=[c for c in board if c.startswith(("tap/", "weight/"))])
    tapped = board["n_taps"] > 0
    for layer, weight in taps.items():
        board[f"tap/{layer}"] = np.where(tapped, "True", "False")
        board[f"weight/{layer}"] = np.where(tapped, weight, np.nan)
    board.loc[tapped, "n_taps"] = len(taps)
    board.loc[tapped, "taps"] = ";".join(f"{k}:{v:.2g}" for k, v in taps.items())
    board.to_csv(run_dir.leaderboard, index=False)
    return tiny_run


def fake_training(monkeypatch, accuracy):
    """Training replaced by per-example scores at `accuracy({layer: weight})`: a seed's
    examples are as hard for every training (the correct ones of a less accurate
    training are among a more accurate one's), as trained models agree."""
    trained = []

    def scores(search, values, repetition):
        on = {layer: tap.weight for layer, tap in active_taps(values).items()}
        trained.append((tuple(sorted(on)), repetition))
        rng = np.random.default_rng(repetition)
        return (rng.random(len(search.data.y_test)) < accuracy(on)).astype(float)

    monkeypatch.setattr(confirmation, "_train_and_test", scores)
    monkeypatch.setattr(confirmation, "_train_packed", lambda search, group: [
        scores(search, values, repetition) for _, values, repetition in group])
    return trained


def needs_conv2(on):
    """conv2 is what helps; the other taps change nothing."""
    return 0.9 if "conv2" in on else 0.05


def test_each_tap_gets_a_verdict_and_the_smallest_is_tested(tiny_run, monkeypatch):
    run = tapped_run(tiny_run, {"conv2": 0.3, "conv4": 0.1, "conv5": 0.05})
    trained = fake_training(monkeypatch, needs_conv2)
    confirmed = confirm(run, top=1, seeds=5)
    assert winner_of(confirmed)["config"] == "0001"
    confirm_seeds = confirmed.set_index("config").loc["0001", "n_seeds"]
    trained.clear()
    ablation = Ablation(run, confirmed, seeds=5)
    assert [v.kind for v in ablation.variants] == ["without"] * 3
    assert ablation.planned[0] == 3 * 5 + 5 + (5 - confirm_seeds)
    table = ablation.run()
    assert list(table.columns) == COLUMNS
    by_tap = table[table["variant"] == "without"].set_index("tap")
    assert by_tap.loc["conv2:0.3", "verdict"] == "needed"
    assert by_tap.loc["conv2:0.3", "difference"] > 0.5  # winner - variant: it helps
    assert -1 <= by_tap.loc["conv2:0.3", "low"] <= by_tap.loc["conv2:0.3", "high"] <= 1
    assert by_tap.loc["conv4:0.1", "verdict"] == by_tap.loc["conv5:0.05", "verdict"] == (
        "not needed")
    smallest = table[table["variant"] == "smallest"].iloc[0]
    assert smallest["tap"] == "conv2:0.3" and smallest["verdict"] == "not needed"
    # Paired: the variants train on the winner's seeds in order; the winner is not
    # retrained on the seeds confirm gave it.
    assert not [r for taps, r in trained if len(taps) == 3 and r < confirm_seeds]
    assert all(s.startswith("1003;2003") for s in table["seeds"])
    on_disk = pd.read_csv(RunDir(run).ablation, dtype={"config": str})
    assert list(on_disk.columns) == COLUMNS and len(on_disk) == 4
    assert table.attrs["trainings"] == len(trained)


def test_a_one_tap_winner_needs_no_variant(tiny_run, monkeypatch):
    run = tapped_run(tiny_run, {"conv2": 0.3})
    trained = fake_training(monkeypatch, needs_conv2)
    confirmed = confirm(run, top=1, seeds=5)
    trained.clear()
    table = Ablation(run, confirmed, seeds=5).run()
    assert trained == [] and len(table) == 1
    row = table.iloc[0]
    assert (row["tap"], row["variant"], row["verdict"]) == ("conv2:0.3", "baseline", "needed")
    assert row["difference"] == pytest.approx(confirmed.set_index("config").loc[
        "0001", "delta_vs_baseline"])


def test_nothing_better_means_no_ablation(tiny_run, monkeypatch):
    run = tapped_run(tiny_run, {"conv2": 0.3, "conv5": 0.05})
    trained = fake_training(monkeypatch, lambda on: 0.5)
    confirmed = confirm(run, top=1, seeds=3)
    trained.clear()
    ablation = Ablation(run, confirmed, seeds=3)
    assert ablation.winner is None and ablation.planned == (0, 0)
    table = ablation.run()
    assert table.empty and trained == [] and RunDir(run).ablation.is_file()


def test_weights_vary_each_tap_within_the_space_range(tiny_run, monkeypatch):
    run = tapped_run(tiny_run, {"conv2": 0.9, "conv5": 0.05})
    fake_training(monkeypatch, needs_conv2)
    confirmed = confirm(run, top=1, seeds=3)
    ablation = Ablation(run, confirmed, seeds=3, weights=True)
    weights = {(v.tap, v.kind): active_taps(v.values) for v in ablation.variants}
    # conv2 at 0.9: 3x clips to the range's top (1.0); 1/3 is 0.3.
    assert weights[("conv2:0.9", "x3")]["conv2"].weight == pytest.approx(1.0)
    assert weights[("conv2:0.9", "x1/3")]["conv2"].weight == pytest.approx(0.3)
    assert weights[("conv5:0.05", "x1/3")]["conv5"].weight == pytest.approx(0.05 / 3)
    assert weights[("conv5:0.05", "x3")]["conv2"].weight == pytest.approx(0.9)  # the other kept
    assert len(ablation.variants) == 6
    table = ablation.run()
    assert set(table["variant"]) == {"without", "x3", "x1/3"}


def test_a_killed_ablation_resumes_without_retraining(tiny_run, monkeypatch):
    run = tapped_run(tiny_run, {"conv2": 0.3, "conv5": 0.05})
    trained = fake_training(monkeypatch, needs_conv2)
    confirmed = confirm(run, top=1, seeds=4)
    trained.clear()
    whole = Ablation(run, confirmed, seeds=4).run()
    first = list(trained)
    trained.clear()
    again = Ablation(run, confirmed, seeds=4).run()
    assert trained == [] and again.attrs["kept"] == len(first)
    pd.testing.assert_frame_equal(again, whole)


@pytest.mark.e2e
def test_the_variants_really_train_on_the_test_split(tiny_run):
    # The training path itself: a 2-epoch tiny model, 2 seeds, a winner taken as confirmed.
    run = tapped_run(tiny_run, {"conv2": 0.3, "conv5": 0.05})
    n = len(open_run(run).data.y_test)
    ablation_scores = {"0001": np.ones((2, n)), "0000": np.zeros((2, n))}
    confirmed = pd.DataFrame({"config": ["0001", "0000"], "verdict": ["better", ""],
                              "seeds": ["1003;2003", "1003;2003"]})
    confirmed.attrs.update(scores=ablation_scores, margin=0.01)
    table = Ablation(run, confirmed, seeds=2, pack=1).run()
    assert len(table) == 2 and set(table["seeds"]) == {"1003;2003"}
    # The winner's scores were all 1: every variant is worse or equal, never better.
    assert (table["difference"] >= 0).all() and (table["high"] <= 1).all()
