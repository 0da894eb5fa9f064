"""Replays summarised: the CSV's columns, the paired test, the anytime curve, the plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.replay.__main__ import main
from bench.replay.replay import REACH, Job, anytime, regret_at, replay
from bench.replay.report import COLUMNS, markdown, summarise, targets
from bench.replay.table import load_table


@pytest.mark.e2e
def test_replays_are_summarised_per_table_strategy_and_budget(small_table):
    replayed = replay([small_table], ["baseline", "random-search", "kt-hyperband"],
                      replays=4, multiples=(1, 10), workers=1)
    assert len(replayed) == 3 * 2 * 4 + 4  # Keras Tuner's also searches out to its reach
    assert sum(one.job.multiple == REACH for one in replayed) == 4
    frame = summarise(replayed)
    assert list(frame.columns) == COLUMNS and len(frame) == 6
    assert frame["p_vs_kt"][frame["strategy"] == "kt-hyperband"].isna().all()
    # At its own spending, Keras Tuner's anytime curve is its own pick at that budget.
    kt = frame[frame["strategy"] == "kt-hyperband"]
    assert (kt["kt_p_within_at_spent"] == kt["p_within_eps"]).all()
    assert frame["kt_p_within_at_spent"].between(0, 1).all()
    assert frame["select_gain_heldout"].isna().all()  # no race, no held-out seeds
    frame.loc[frame["strategy"] == "random-search", "strategy"] = "auxsearch"
    lines = targets(frame, [load_table(small_table)]).splitlines()
    assert len(lines) == 2 + 2 and lines[2].startswith("| synthetic4 | ")
    row = frame[(frame["strategy"] == "auxsearch") & (frame["budget_epochs"] == 75)].iloc[0]
    assert f"| {row.p_within_eps - row.kt_p_within_at_spent:+.2f} |" in lines[2]
    assert ((0 <= frame["p_within_eps"]) & (frame["p_within_eps"] <= 1)).all()
    assert (frame["q1_regret"] <= frame["median_regret"]).all()
    assert (frame["median_regret"] <= frame["q3_regret"]).all()
    base = frame[frame["strategy"] == "baseline"]
    assert base["median_regret"].nunique() == 1  # the baseline's regret does not depend on luck
    assert "| synthetic4 | kt-hyperband | 750 |" in markdown(frame)


def test_the_anytime_curve_holds_the_last_incumbent():
    one = type("R", (), {"curve": ((2, 0.5), (5, 0.0)), "job": Job("t", "s", 10, 0)})()
    epochs, within, median = anytime([one], epsilon=0.1, until=6)
    assert list(within) == [0, 0, 0, 0, 1, 1]
    assert np.isinf(median[0]) and median[2] == 0.5


def test_the_reference_is_read_at_each_replays_own_spending():
    one = type("R", (), {"curve": ((3, float("nan")), (9, 0.4), (30, 0.1))})()
    assert regret_at(one, 5, worst=1.0) == 1.0  # no incumbent yet: the worst
    assert regret_at(one, 9, 1.0) == 0.4 and regret_at(one, 29.5, 1.0) == 0.4
    assert regret_at(one, 1000, 1.0) == 0.1


@pytest.mark.e2e
def test_the_race_is_checked_on_the_seeds_it_did_not_train_on(slot_table):
    replayed = replay([slot_table], ["kt-hyperband", "auxsearch"], replays=3, multiples=(1,),
                      workers=1)
    frame = summarise(replayed).set_index("strategy")
    assert not np.isnan(frame.loc["auxsearch", "select_gain_heldout"])
    # Without Keras Tuner's anytime curve there is no comparison at equal epochs spent.
    assert frame["p_vs_kt"].isna().all() and frame["kt_p_within_at_spent"].isna().all()


def test_the_command_writes_the_csv_and_plot_and_refuses_bad_input(small_table, tmp_path, capsys):
    out = tmp_path / "replay.csv"
    assert main(["run", str(small_table), "--replays", "2", "--strategies",
                 "baseline,one-epoch-topk", "--workers", "1", "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 6 and out.with_suffix(".png").stat().st_size > 0
    assert main(["run", str(small_table), "--strategies", "kt-hyperbnd"]) == 2
    assert "did you mean 'kt-hyperband'" in capsys.readouterr().err
    assert main(["run", str(tmp_path)]) == 2
