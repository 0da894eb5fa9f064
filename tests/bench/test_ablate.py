"""The replayed ablation: the winner's sub-configurations, the product's test, the scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.replay import ablate
from bench.replay.__main__ import main
from bench.replay.table import Table, load_table


def two_configs(winner, variant, seeds=4):
    """A table of a winner (config 0) and one variant (config 1), given per-seed accuracies."""
    curves = np.array([winner, variant], dtype=float)[:, :, None]
    meta = {"name": "pair", "direction": "max", "chance": 0.1, "max_epochs": 1,
            "seeds": list(range(seeds)), "configs": [{"id": 0, "taps": "a", "values": {}},
                                                     {"id": 1, "taps": "", "values": {}}]}
    return Table(None, meta, curves, np.zeros_like(curves))


def test_a_winners_variants_are_its_sub_configurations(slot_table):
    table = load_table(slot_table)
    winner = next(i for i, c in enumerate(table.meta["configs"]) if c["taps"].count(";") == 1)
    layers, variants = ablate.variants_of(table, winner)
    taps = table.meta["configs"][winner]["taps"].split(";")
    assert layers == [tap.split(":")[0] for tap in taps]
    # Without conv_a it is the winner's other tap alone, at the same weight.
    assert [table.meta["configs"][v]["taps"] for v in variants] == taps[::-1]


def test_the_product_test_decides_the_simulated_ablation():
    rng = np.random.default_rng(0)
    clear = two_configs([0.9, 0.91, 0.9, 0.92], [0.6, 0.62, 0.61, 0.6])
    verdicts, seeds = ablate.simulate(clear, 0, [1], 9, 0.01, 360, rng)
    assert verdicts == ["needed"] and 2 <= seeds[0] < 9  # settled early
    same = two_configs([0.9] * 4, [0.9] * 4)
    verdicts, seeds = ablate.simulate(same, 0, [1], 9, 0.05, 360, rng)
    assert verdicts == ["not needed"]


def test_the_scores_count_right_verdicts_beyond_epsilon_and_needed_ones_below_half():
    detail = pd.DataFrame({
        "table": "t", "replay": 0, "winner": "w", "tap": ["a", "b", "c", "d", "e"],
        "effect": [0.5, 0.3, -0.4, 0.01, 0.0],
        "verdict": ["needed", "not settled", "not needed", "needed", "not needed"],
        "seeds": 9}, columns=ablate.DETAIL)
    row = ablate.summarise(detail, {"t": [90, 110]}, {"t": 0.2}).iloc[0]
    assert list(row.index) == ablate.COLUMNS
    assert row["taps_judged"] == 5 and row["replays"] == 2 and row["epochs"] == 100
    assert row["accuracy"] == pytest.approx(2 / 3)  # a and c right, b not settled
    assert row["false_needed"] == pytest.approx(1 / 2)  # d of d, e


def test_the_pipeline_is_replayed_on_a_table(slot_table, tmp_path, capsys):
    out = tmp_path / "ablate.csv"
    assert main(["ablate", str(slot_table), "--replays", "2", "--workers", "1",
                 "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ablate.COLUMNS and frame["replays"].tolist() == [2]
    assert frame["epochs"].iloc[0] >= 0 and "wrote" in capsys.readouterr().out
    summary, detail = ablate.ablate_tables([slot_table], replays=2, workers=1)
    assert summary["taps_judged"].iloc[0] == len(detail)
    assert set(detail["verdict"]) <= {"needed", "not needed", "not settled"}
    assert (detail["seeds"] <= 9).all()


def test_a_path_that_is_no_table_is_one_line(tmp_path, capsys):
    assert main(["ablate", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "not a replay table" in capsys.readouterr().err
