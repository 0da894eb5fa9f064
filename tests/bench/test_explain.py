"""`bench.replay explain`: the truth a table gives, and explain's estimates checked on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.replay.__main__ import main
from bench.replay.explain import COLUMNS, check, prior, true_effects
from bench.replay.table import load_table


@pytest.mark.parametrize("fixture", ["small_table", "slot_table"])
def test_the_sampling_prior_is_a_distribution_over_the_table(fixture, request):
    table = load_table(request.getfixturevalue(fixture))
    weights = prior(table)
    assert weights.sum() == pytest.approx(1.0) and (weights > 0).all()
    if fixture == "small_table":  # a switch each: the baseline is (1/2)^4
        assert weights[table.baseline] == pytest.approx(0.5 ** 4)


def test_a_true_effect_is_the_weighted_difference_of_true_means(small_table):
    table = load_table(small_table)
    uniform = np.ones(len(table.configs))
    effects = true_effects(table, table.max_epochs, uniform)
    synthetic = table.meta["effects"]  # each layer's made-up effect, at its best weight
    assert set(effects) == set(synthetic)
    strongest = max(synthetic, key=lambda layer: abs(synthetic[layer]))
    assert np.sign(effects[strongest]) == np.sign(synthetic[strongest])


def test_explain_is_checked_on_replayed_searches(slot_table, tmp_path):
    row = check(slot_table, replays=3)
    assert row["replays"] == 3 and row["intervals"] + row["too_few"] == 3 * 5
    assert np.isnan(row["coverage"]) or 0 <= row["coverage"] <= 1
    out = tmp_path / "explain.csv"
    assert main(["explain", str(slot_table), "--replays", "2", "--out", str(out)]) == 0
    assert list(pd.read_csv(out).columns) == COLUMNS
    assert main(["explain", str(tmp_path)]) == 2
