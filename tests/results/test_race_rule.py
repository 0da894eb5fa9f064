"""The race's rule, replayed on scores: drops, the table's columns, the verdict line."""

from __future__ import annotations

import numpy as np

from auxsearch.results.race_rule import (
    greater_p,
    race_look,
    race_table,
    race_verdict,
    replay_race,
    t_interval,
)


def test_greater_p_is_a_one_sided_paired_t_test():
    assert greater_p([0.1, 0.12, 0.11]) < 0.01
    assert greater_p([-0.1, -0.12, -0.11]) > 0.99
    assert greater_p([0.2, 0.2]) == 0.0 and greater_p([0.0, 0.0]) == 1.0


def test_a_clear_loser_drops_and_noise_does_not():
    scores = {"good": [0.90, 0.91], "noise": [0.905, 0.9], "bad": [0.10, 0.11]}
    assert race_look(scores, list(scores), maximize=True, looks=2) == ["bad"]
    assert race_look({"a": [0.9], "b": [0.1]}, ["a", "b"], True, 2) == []  # one seed: no test


def test_a_race_replays_to_its_end_and_stops_when_one_is_left():
    scores = {"a": [0.9, 0.91, 0.92, 0.9], "b": [0.5, 0.52, 0.49], "base": [0.8, 0.79, 0.81, 0.8]}
    replayed = replay_race(scores, race_seeds=4, maximize=True)
    assert replayed.dropped == {"b": 2, "base": 3} and replayed.racing == ["a"]
    table = race_table(scores, 4, True, 0.0, 1.0).set_index("config")
    assert table.loc["a", "race"] == "won" and table.loc["a", "race_seeds"] == 3
    assert table.loc["b", "race"] == "dropped after 2 seeds" and table.loc["b", "race_seeds"] == 2
    assert ((table["race_low"] >= 0) & (table["race_high"] <= 1)).all()


def test_lower_is_better_drops_the_higher():
    scores = {"low": [0.1, 0.11], "high": [0.9, 0.95]}
    assert replay_race(scores, 2, maximize=False).dropped == {"high": 2}


def test_an_interval_stays_in_the_metrics_range():
    assert t_interval([0.99, 1.0, 0.9], 0.0, 1.0)[1] == 1.0
    assert t_interval([0.5], 0.0, 1.0) == (0.0, 1.0)
    low, high = t_interval([2.0, 3.0, 4.0], 0.0, None)
    assert 0 < low < 3 < high < np.inf


def test_the_verdict_says_when_nothing_beats_the_baseline():
    same = {"a": [0.80, 0.81, 0.79], "base": [0.80, 0.80, 0.80]}
    assert race_verdict(same, "base", 3, True).startswith("Nothing beats the baseline")
    better = {"a": [0.9, 0.91, 0.92], "base": [0.8, 0.79, 0.81]}
    line = race_verdict(better, "base", 3, True, names={"a": "conv2:0.1"})
    assert line.startswith("1 of 1 raced configurations beat the baseline")
    assert "conv2:0.1, by +0.1100 on 3 paired seeds" in line
