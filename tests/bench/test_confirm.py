"""The replay's simulated confirmation: verdicts, "not settled", and the seed limits."""

from __future__ import annotations

import math

import numpy as np

from bench.replay.confirm import (
    Limit,
    choose,
    confirm_batch,
    confirm_trainings,
    markdown,
    seed_limits,
    train_or_fail_limits,
)
from bench.replay.table import Table


def erratic_table(base, tapped, seeds=4):
    """A table of the baseline (config 0) and one tapped configuration, given per-seed
    final accuracies (chance 0.1: a score of 0.1 did not train)."""
    curves = np.array([base, tapped], dtype=float)[:, :, None]
    meta = {"name": "erratic", "direction": "max", "chance": 0.1, "max_epochs": 1,
            "seeds": list(range(seeds)), "examples": {"test": 300},
            "configs": [{"id": 0, "taps": "", "values": {}},
                        {"id": 1, "taps": "conv1:0.32", "values": {}}]}
    return Table(None, meta, curves, np.zeros_like(curves))


def test_a_confirmation_that_stops_with_unequal_training_is_not_settled():
    # The tapped model trains on every seed, the baseline on half of them: at a limit
    # of 2 seeds a claim is out of reach, and the verdict says why.
    table = erratic_table([0.1, 0.7, 0.1, 0.7], [0.7, 0.72, 0.69, 0.71])
    rng = np.random.default_rng(0)
    trainings, verdicts = confirm_batch(table, [1], 2, True, 300, rng, replays=400)
    assert trainings.tolist() == [4] * 400
    # Both baseline seeds drawn failed: a clear claim; else none, and where a baseline
    # failure was drawn the training differs: not settled.
    assert set(verdicts[:, 0]) <= {"better", "not settled", "no detectable difference"}
    assert 0.3 < np.mean(verdicts[:, 0] == "not settled") < 0.95
    # With more seeds the difference is found.
    _, more = confirm_batch(table, [1], 10, True, 300, np.random.default_rng(0), replays=200)
    assert np.mean(more[:, 0] == "better") > 0.5
    spent, words = confirm_trainings(table, [1], 4, False, 300, np.random.default_rng(1))
    assert spent == 8 and len(words) == 1 and isinstance(words[0], str)
    assert confirm_trainings(table, [], 4, True, 300, rng) == (0, [])


def test_seed_limits_measure_power_and_epochs_and_the_choice_reads_them(small_table):
    from bench.replay.table import load_table

    rows = seed_limits(load_table(small_table), limits=(2, 4), replays=40)
    assert [r.limit for r in rows] == [2, 4] and all(r.replays == 40 for r in rows)
    assert all(0 <= r.power <= 1 and 0 <= r.type_one <= 1 for r in rows)
    assert rows[0].epochs == 2 * 4 * 9  # 2 seeds of the top 3 and the baseline, 9 epochs
    assert rows[0].epochs <= rows[1].epochs <= 4 * 4 * 9
    assert markdown(rows).splitlines()[2].startswith(f"| {rows[0].source} | ")
    table = [Limit("a", 3.0, k, p, 0, 0, 9 * k, 100) for k, p in ((2, 0.5), (3, 0.85), (4, 0.9))]
    small = [Limit("b", 1.0, k, 0.0, 0, 0, 9 * k, 100) for k in (2, 3, 4)]  # below 2 eps
    model = [Limit("m", math.nan, k, p, 0, 0, 9 * k, 100) for k, p in ((2, 0.1), (3, 0.7),
                                                                        (4, 0.8))]
    assert choose(table + small) == 3 and choose(table + small + model) == 4
    assert choose(model[:2]) is None


def test_train_or_fail_limits_rise_with_the_limit():
    low, high = train_or_fail_limits(limits=(3, 10), simulations=60)
    assert low.power < high.power and low.epochs < high.epochs
    assert low.type_one <= 0.1 and high.type_one <= 0.1 and math.isnan(low.gain)
