"""The confirmation table, on synthetic score tables with known answers."""

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from auxsearch.confirmation.decisions import Decision, fixed
from auxsearch.confirmation.stats import (
    bootstrap_intervals,
    sign_flip_test,
    summarise,
    trained_seeds,
    verdict_line,
)
from auxsearch.core.errors import DataError, SpaceError

N = 400
CHANCE = 0.102  # the majority class's share on the digits


def accuracy_table(accuracies, n=N, seed=0):
    """Per-example 1/0 scores: the first round(acc * n) correct, shuffled per seed."""
    rng = np.random.default_rng(seed)
    rows = []
    for accuracy in accuracies:
        row = np.zeros(n)
        row[:round(accuracy * n)] = 1
        rows.append(rng.permutation(row))
    return np.array(rows)


def accuracy_summary(tables, **kwargs):
    kwargs = {"direction": "max", "chance": CHANCE, "low": 0.0, "high": 1.0} | kwargs
    return summarise(tables, "base", **kwargs).set_index("config")


def test_the_bimodal_baseline_takes_more_than_three_seeds_to_lose():
    # Issue 12's case: without taps the model learns on one seed of three. Three
    # seeds cannot say more than that (a seed-level test on 2 degrees of freedom),
    # and the verdict says so: not settled, not "no detectable difference" (issue 26).
    tables = {"base": accuracy_table([0.901, 0.084, 0.084], seed=1),
              "0022": accuracy_table([0.945, 0.904, 0.907], seed=2),
              "0031": accuracy_table([0.929, 0.922, 0.873], seed=3),
              "0040": accuracy_table([0.939, 0.930, 0.638], seed=4)}
    table = accuracy_summary(tables)
    assert list(table.index) == ["0022", "0031", "0040", "base"]  # best first
    base = table.loc["base"]
    assert base["baseline"] and base["trained"] == "1/3" and base["trained_seeds"] == 1
    assert base["verdict"] == "" and math.isnan(base["p_value"]) and base["delta_vs_baseline"] == 0
    assert 0 <= base["ci_low"] < base["ci_high"] <= 1  # not -0.82 to 1.53
    assert base["line"].startswith("base: the baseline, 0.36 [") and "1 of 3 seeds" in base["line"]
    for config in ("0022", "0031", "0040"):
        row = table.loc[config]
        assert row["verdict"] == "not settled" and not row["significant"]
        assert row["p_bound"] == pytest.approx(0.05 / 3)  # Holm's first step, one look
        assert row["p_value"] == pytest.approx(row["p_raw"] * 3)
        assert row["trained"] == "3/3" and row["p_trained"] == pytest.approx(0.4)
        assert row["p_seeds"] == pytest.approx(0.75)  # 0.25 at S = 3, times 3 by Holm
        assert -1 <= row["delta_low"] < 0 < row["delta_vs_baseline"] < row["delta_high"] <= 1
        assert row["line"].startswith(
            f"{config}: not settled after 3 seeds (limit 3): the baseline trained on 1 of 3, "
            f"{config} on 3 of 3; more seeds would tell (+0.")
        assert row["n_seeds"] == row["look"] == 3 and not row["settled"]
    assert table.loc["0022", "delta_vs_baseline"] == pytest.approx((0.945 + 0.905 + 0.9075
                                                                    - 0.9 - 0.085 * 2) / 3)
    assert table.loc["0022", "scores"] == "0.9450;0.9050;0.9075"
    # Five seeds, the baseline failing on four: now it is settled.
    five = accuracy_summary({"base": accuracy_table([0.901, 0.084, 0.084, 0.09, 0.1], seed=1),
                             "0022": accuracy_table([0.945, 0.904, 0.907, 0.91, 0.92], seed=2)})
    row = five.loc["0022"]
    assert row["verdict"] == "better" and row["significant"] and row["p_raw"] <= row["p_bound"]
    assert 0 < row["delta_low"] < row["delta_vs_baseline"] < row["delta_high"] <= 1
    assert row["line"].startswith("0022: better than the baseline, +0.67 [")
    assert "settled after 5 seeds; the baseline failed to train on 4 of 5 seeds" in row["line"]


def test_identical_tables_tie():
    same = accuracy_table([0.8, 0.82, 0.79])
    table = accuracy_summary({"base": same, "copy": same.copy()})
    row = table.loc["copy"]
    assert row["verdict"] == "no detectable difference" and not row["significant"]
    assert row["p_raw"] == row["p_value"] == row["p_seeds"] == row["p_trained"] == 1
    assert row["delta_vs_baseline"] == row["delta_low"] == row["delta_high"] == 0
    assert row["line"] == ("copy: no detectable difference from the baseline, +0.000 "
                           "[+0.000, +0.000], p = 1 after 3 seeds (this design detects about "
                           "±0.000); both trained on 3 of 3 seeds")


def test_a_clear_win_and_a_clear_loss():
    base = accuracy_table([0.70, 0.72, 0.71], seed=1)
    win = accuracy_table([0.85, 0.86, 0.84], seed=2)
    table = accuracy_summary({"base": base, "win": win})
    row = table.loc["win"]
    assert row["verdict"] == "better" and row["p_value"] < 0.05 and row["settled"]
    assert row["p_bound"] == 0.05 and row["p_value"] == pytest.approx(row["p_raw"])
    assert row["delta_vs_baseline"] == pytest.approx(0.14)
    assert row["delta_low"] > 0.05 and row["detectable"] == pytest.approx(
        (row["delta_high"] - row["delta_low"]) / 2)
    assert row["p_seeds"] == pytest.approx(0.25)  # the smallest an exact test reaches at S = 3
    assert row["line"].endswith(", settled after 3 seeds; both trained on 3 of 3 seeds")
    lost = accuracy_summary({"base": win, "loss": base}).loc["loss"]
    assert lost["verdict"] == "worse" and lost["significant"]
    assert lost["delta_vs_baseline"] == pytest.approx(-0.14) and lost["delta_high"] < 0
    assert lost["line"].startswith("loss: worse than the baseline, -0.140 [")


def test_two_seeds_work_and_one_is_refused():
    table = accuracy_summary({"base": accuracy_table([0.6, 0.62]),
                              "other": accuracy_table([0.9, 0.91], seed=5)})
    row = table.loc["other"]
    assert row["n_seeds"] == 2 and row["verdict"] == "better"
    assert row["p_seeds"] == pytest.approx(0.5)  # an exact test cannot go lower at S = 2
    assert not math.isnan(row["std"])
    with pytest.raises(DataError, match="a comparison needs at least 2 paired seeds; "
                                        "'other' has 1"):
        accuracy_summary({"base": accuracy_table([0.5]), "other": accuracy_table([0.9])})


def test_a_configuration_with_fewer_seeds_pairs_with_the_baselines_first():
    base = accuracy_table([0.70, 0.72, 0.71, 0.40, 0.41], seed=1)  # falls on seeds 4 and 5
    early = accuracy_table([0.85, 0.86, 0.84], seed=2)  # stopped after 3 seeds
    table = accuracy_summary({"base": base, "early": early, "full": base + 0.0})
    row = table.loc["early"]
    assert row["n_seeds"] == 3 and row["trained"] == "3/3"
    assert row["delta_vs_baseline"] == pytest.approx(0.14)  # against 0.70, 0.72, 0.71 only
    assert table.loc["base", "n_seeds"] == 5 and table.loc["base", "mean"] == pytest.approx(
        base.mean())
    assert table.loc["full", "delta_vs_baseline"] == 0 and table.loc["full", "n_seeds"] == 5
    with pytest.raises(DataError, match=r"'more' has shape \(6, 400\), the baseline "
                                        r"\(5, 400\)"):
        accuracy_summary({"base": base, "more": accuracy_table([0.5] * 6)})


def test_the_designs_decisions_are_what_the_table_says():
    tables = {"base": accuracy_table([0.70, 0.72, 0.71], seed=1),
              "a": accuracy_table([0.85, 0.86, 0.84], seed=2)}
    decision = Decision("equivalent", 3, 3, 0.001, -0.009, 0.011, 0.7, 0.01, 0.02)
    row = accuracy_summary(tables, decisions={"a": decision}).loc["a"]
    assert row["verdict"] == "equivalent" and not row["significant"] and row["settled"]
    assert (row["delta_vs_baseline"], row["delta_low"], row["delta_high"]) == (
        0.001, -0.009, 0.011)
    assert row["p_bound"] == 0.01 and row["p_value"] == pytest.approx(1.0)
    assert row["line"].startswith("a: equivalent to the baseline (within ±0.020), +0.001 "
                                  "[-0.009, +0.011], settled after 3 seeds; both trained")
    with pytest.raises(DataError, match=r"no decision for 'a'; decided: \['b'\]"):
        accuracy_summary(tables, decisions={"b": decision})


def test_a_min_metric_prefers_lower_errors():
    rng = np.random.default_rng(0)
    errors = np.abs(rng.normal(size=(3, N)))  # absolute errors, MAE about 0.8
    tables = {"base": 2 * errors, "better": errors, "worse": 3 * errors}
    table = summarise(tables, "base", "min", chance=3.0, low=0.0, high=None)
    assert list(table["config"]) == ["better", "base", "worse"]  # lowest MAE first
    rows = table.set_index("config")
    assert rows.loc["better", "verdict"] == "better" and rows.loc["better", "delta_high"] < 0
    assert rows.loc["worse", "verdict"] == "worse" and rows.loc["worse", "delta_low"] > 0
    assert rows.loc["base", "ci_low"] >= 0 and rows.loc["worse", "trained"] == "3/3"
    failed = summarise(tables, "base", "min", chance=1.8, low=0.0).set_index("config")
    assert failed.loc["worse", "trained"] == "0/3" and failed.loc["better", "trained"] == "3/3"
    assert "the baseline failed to train on" not in failed.loc["worse", "line"]
    assert failed.loc["worse", "line"].endswith(
        "worse failed to train on 3 of 3 seeds, the baseline trained on all 3")


def test_the_sign_flip_test_is_exact():
    assert sign_flip_test([0.1, 0.2, 0.3]) == pytest.approx(0.25)
    assert sign_flip_test([0.1, 0.2]) == pytest.approx(0.5)
    assert sign_flip_test([0.0, 0.0, 0.0]) == 1
    # [1, -1, 2, 3] sums to 5; |sum| >= 5 for +-7 and twice +-5 (either 1 flipped): 6 of 16.
    assert sign_flip_test([1.0, -1.0, 2.0, 3.0]) == pytest.approx(6 / 16)
    d = np.random.default_rng(3).normal(0.3, 1, 7)
    reference = scipy_stats.permutation_test(
        (d,), np.mean, permutation_type="samples", n_resamples=np.inf).pvalue
    assert sign_flip_test(d) == pytest.approx(reference)
    assert 0 < sign_flip_test(np.ones(20)) < 0.001  # sampled beyond 16 seeds


def test_intervals_never_leave_the_metric_range():
    rng = np.random.default_rng(7)
    tables = [np.zeros((3, 50)), np.ones((3, 50)), np.ones((1, 1)), np.zeros((2, 1))]
    tables += [rng.random((s, n)) < rng.random((s, 1)) for s, n in
               zip(rng.integers(1, 6, 60), rng.integers(1, 60, 60))]
    for table in tables:
        low, high = bootstrap_intervals({"t": table}, resamples=300, seed=1, low=0.0,
                                        high=1.0)["t"]
        assert 0 <= low <= table.mean() <= high <= 1
        other = rng.random(table.shape) < 0.5
        for a, b in ((table, other), (other, table), (table, table)):
            if len(a) >= 2:
                decided = fixed([a - b.astype(float)], "max", span=1.0)[0]
                assert -1 <= decided.low <= decided.delta <= decided.high <= 1
    assert bootstrap_intervals({"t": np.ones((3, 50))})["t"] == (1.0, 1.0)
    assert bootstrap_intervals({"t": np.zeros((3, 50))})["t"] == (0.0, 0.0)
    table = summarise({"base": np.zeros((3, 40)), "all": np.ones((3, 40))}, "base", "max",
                      CHANCE, 0.0, 1.0).set_index("config")
    assert table.loc["all", "ci_high"] == 1 and table.loc["base", "ci_low"] == 0
    assert table.loc["all", "delta_high"] == 1 and table.loc["all", "verdict"] == "better"


def test_results_are_deterministic_for_a_seed():
    tables = {"base": accuracy_table([0.7, 0.75, 0.72], seed=1),
              "a": accuracy_table([0.73, 0.74, 0.76], seed=2),
              "b": accuracy_table([0.69, 0.8, 0.7], seed=3)}
    first = accuracy_summary(tables, seed=4)
    pd.testing.assert_frame_equal(first, accuracy_summary(tables, seed=4))
    assert not first.equals(accuracy_summary(tables, seed=5))  # the means' intervals
    # The building blocks draw the same resamples as the table.
    assert bootstrap_intervals({"b": tables["b"]}, seed=4, low=0.0, high=1.0)["b"] == pytest.approx(
        tuple(first.loc["b", ["ci_low", "ci_high"]]))
    decided = fixed([tables["a"] - tables["base"], tables["b"] - tables["base"]], "max",
                    span=1.0)
    assert [d.p_raw for d in decided] == pytest.approx(list(first.loc[["a", "b"], "p_raw"]))


def test_verdict_lines_read_as_one_sentence():
    win = Decision("better", 3, 3, 0.5625, 0.31, 0.83, 0.0005, 0.0167, None)
    assert verdict_line("0022", win, 3, 1) == (
        "0022: better than the baseline, +0.56 [+0.31, +0.83], p = 0.0015, settled after 3 "
        "seeds; the baseline failed to train on 2 of 3 seeds, 0022 trained on all 3")
    tie = Decision("no detectable difference", 5, 5, 0.004, -0.012, 0.020, 0.3, 0.044, 0.01)
    assert verdict_line("0007", tie, 5, 5) == (
        "0007: no detectable difference from the baseline, +0.004 [-0.012, +0.020], "
        "p = 0.34 after 5 seeds (this design detects about ±0.016); both trained on 5 of 5 "
        "seeds")
    same = Decision("equivalent", 4, 4, 0.002, -0.008, 0.012, 0.6, 0.018, 0.015)
    assert verdict_line("0002", same, 4, 4) == (
        "0002: equivalent to the baseline (within ±0.015), +0.002 [-0.008, +0.012], settled "
        "after 4 seeds; both trained on 4 of 4 seeds")
    # Training on every seed where the baseline does not is said, whatever the verdict.
    assert verdict_line("0007", tie, 5, 1).endswith(
        "; the baseline failed to train on 4 of 5 seeds, 0007 trained on all 5")
    worse = Decision("worse", 3, 3, -0.1, -0.2, -0.05, 0.0001, 0.0013, None)
    assert verdict_line("0009", worse, 1, 2).endswith(
        "p = 0.0038, settled after 3 seeds; baseline trained on 2 of 3 seeds, 0009 on 1")
    assert ";" not in verdict_line("0009", worse, None, None)
    # Issue 26's case: no claim while the two trained on different shares of the seeds.
    open_ = Decision("not settled", 2, 2, 0.25, -1.0, 1.0, 0.5, 1e-4, None, futile=True,
                     span=1.0, limit=4)
    assert verdict_line("0021", open_, 2, 1) == (
        "0021: not settled after 2 seeds (limit 4), stopped as futile: the baseline trained "
        "on 1 of 2, 0021 on 2 of 2; more seeds would tell (+0.25 [-1.00, +1.00], p = 1)")


def test_an_interval_over_the_whole_range_is_said_in_words():
    # An early look with a few noisy seeds: the repeated interval is clipped to
    # the metric's range on both ends, and "detects about ±1.00" would say nothing.
    wide = Decision("no detectable difference", 4, 4, 0.19, -1.0, 1.0, 0.33, 5.6e-5, None,
                    futile=True, span=1.0)
    assert wide.unbounded
    assert verdict_line("0008", wide, 4, 1) == (
        "0008: no detectable difference from the baseline, +0.19, p = 1 after 4 seeds, "
        "stopped as futile (too few seeds for its interval to exclude any difference); "
        "the baseline failed to train on 3 of 4 seeds, 0008 trained on all 4")
    small = Decision("no detectable difference", 2, 2, 0.0083, -1.0, 1.0, 0.7, 6e-5, None,
                     futile=True, span=1.0)
    assert verdict_line("0021", small, 2, 2).startswith(  # two significant digits
        "0021: no detectable difference from the baseline, +0.0083, p = 1 after 2 seeds")
    # Clipped on one end only, the interval still bounds the difference.
    assert not Decision("no detectable difference", 4, 4, 0.5, -0.2, 1.0, 0.1, 0.01, None,
                        span=1.0).unbounded
    assert not Decision("no detectable difference", 4, 4, 0.0, -1.0, 1.0, 1.0, 0.01,
                        None).unbounded


def test_without_a_chance_score_no_seed_is_flagged():
    tables = {"base": accuracy_table([0.05, 0.06]), "x": accuracy_table([0.9, 0.91])}
    assert trained_seeds(tables["base"], CHANCE, "max") == 0
    assert trained_seeds(tables["base"], None, "max") == 2
    table = summarise(tables, "base", "max", None, 0.0, 1.0).set_index("config")
    assert table.loc["base", "trained"] == "2/2" and "trained on" not in table.loc["x", "line"]
    assert "trained" not in table.loc["base", "line"]


@pytest.mark.e2e
def test_five_comparisons_take_well_under_a_second():
    rng = np.random.default_rng(0)
    tables = {f"c{i}": accuracy_table(rng.uniform(0.6, 0.9, 5), seed=i) for i in range(6)}
    summarise(tables, "c0", "max", CHANCE, 0.0, 1.0)  # imports scipy once
    start = time.perf_counter()
    table = summarise(tables, "c0", "max", CHANCE, 0.0, 1.0)
    assert time.perf_counter() - start < 2 and len(table) == 6


def test_bad_input_is_refused():
    good = accuracy_table([0.5, 0.6])
    with pytest.raises(DataError, match=r"paired scores need the baseline's examples and at "
                                        r"most its seeds .*'x' has shape \(2, 300\), the "
                                        r"baseline \(2, 400\)"):
        summarise({"base": good, "x": accuracy_table([0.5, 0.6], n=300)}, "base", "max", CHANCE)
    with pytest.raises(DataError, match=r"scores have no baseline 'none'; got \['base'\]"):
        summarise({"base": good}, "none", "max", CHANCE)
    with pytest.raises(SpaceError, match=r"direction must be one of .*; got 'maximum'"):
        summarise({"base": good}, "base", "maximum", CHANCE)
    with pytest.raises(SpaceError, match=r"summarise: alpha, resamples must be in \(0, 1\) "
                                         r"and >= 1; got \[0.05, 0\]"):
        summarise({"base": good}, "base", "max", CHANCE, resamples=0)
    with pytest.raises(DataError, match=r"shape \(seeds, examples\); got \(400,\)"):
        bootstrap_intervals({"t": good[0]})
    with pytest.raises(DataError, match="scores must be finite numbers"):
        bootstrap_intervals({"t": np.full(good.shape, np.nan)})
