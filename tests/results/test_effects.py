import math

import numpy as np
import pytest

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss
from auxsearch.results.effects import (
    HELPS,
    HURTS,
    TOO_FEW,
    UNCLEAR,
    budget_scores,
    explain_observations,
    tap_effects,
    verdict_line,
)

LAYERS = ["a", "b", "c", "d"]
EFFECTS = {"a": 0.05, "b": -0.05}  # c and d do nothing


def search(n, seed=0, budget=9, chance_rate=0.1, noise=0.02, base=0.8, effects=EFFECTS,
           layers=LAYERS, kind="head"):
    """`n` random configurations at one budget: each tap on with probability 1/2, its
    effect added; a `chance_rate` share fail whatever their taps (score None)."""
    rng = np.random.default_rng(seed)
    observations = []
    for _ in range(n):
        on = [layer for layer in layers if rng.random() < 0.5]
        losses = tuple(AuxLoss(layer, float(np.exp(rng.uniform(math.log(0.01), 0))), kind)
                       for layer in on)
        score = base + sum(effects.get(layer, 0.0) for layer in on) + rng.normal(0, noise)
        observations.append(Observation(losses, budget, None if rng.random() < chance_rate
                                        else float(score)))
    return observations


def by_layer(table):
    return table.set_index("layer")


def test_signs_and_verdicts_with_enough_trials():
    table = tap_effects(search(80, chance_rate=0), LAYERS, "max", 0.0, 1.0, floor=0.1)
    rows = by_layer(table)
    assert list(table["layer"]) == LAYERS and list(table["depth"]) == [1, 2, 3, 4]
    assert rows.at["a", "effect"] > 0 > rows.at["b", "effect"]
    assert rows.at["a", "effect_low"] > 0 and rows.at["b", "effect_high"] < 0
    assert (rows.at["a", "verdict"], rows.at["b", "verdict"]) == (HELPS, HURTS)
    assert {rows.at["c", "verdict"], rows.at["d", "verdict"]} == {UNCLEAR}
    assert (rows["configs_on"] + rows["configs_off"] == table.attrs["configs"]).all()
    assert table.attrs["configs"] > 70  # the baseline drawn again is one configuration
    # The weights where a helps: among its tapped configurations' weights.
    assert 0.01 <= rows.at["a", "weight_low"] <= rows.at["a", "weight_high"] <= 1.0
    line = verdict_line(table)
    assert line.startswith(f"At 9 epochs, the highest budget trained ({table.attrs['configs']} "
                           "configurations): a helps (+")
    assert "b hurts" in line and "no detectable effect of the 2 others" in line


def test_intervals_cover_the_true_marginal_effects():
    # With failures at a rate of 0.1 whatever the taps, clipped at the chance
    # level 0.1, the true marginal effect is 0.9 times the effect.
    truth = np.array([0.9 * EFFECTS.get(layer, 0.0) for layer in LAYERS])
    covered = []
    for seed in range(100):
        table = tap_effects(search(24, seed), LAYERS, "max", 0.0, 1.0, floor=0.1)
        low, high = table["effect_low"].to_numpy(), table["effect_high"].to_numpy()
        covered.append((low <= truth) & (truth <= high))
    assert np.mean(covered) >= 0.9
    assert np.mean(covered, axis=0).min() >= 0.85


def test_too_few_trials_say_so():
    table = tap_effects(search(4), LAYERS, "max", 0.0, 1.0)
    assert set(table["verdict"]) == {TOO_FEW}
    assert table["p_value"].isna().all() and table["weight_low"].isna().all()
    assert not table.attrs["enough"]
    assert verdict_line(table) == ("Too few trials to tell which layers help: 4 configurations "
                                   "reached 9 epochs with scores that differ; 6 are needed.")
    assert verdict_line(tap_effects([], LAYERS)).startswith("No trials")


def test_a_layer_never_tapped_gets_the_whole_range():
    table = tap_effects(search(30, layers=LAYERS[:3]), LAYERS, "max", 0.0, 1.0)
    row = by_layer(table).loc["d"]
    assert (row["configs_on"], row["verdict"]) == (0, TOO_FEW)
    assert math.isnan(row["effect"]) and (row["effect_low"], row["effect_high"]) == (-1.0, 1.0)
    unbounded = by_layer(tap_effects(search(30, layers=LAYERS[:3]), LAYERS, "min", 0.0, None))
    assert math.isnan(unbounded.at["d", "effect_low"])


def test_intervals_stay_inside_the_metrics_range():
    # Scores at both ends of [0, 1] and few configurations: wide intervals, clipped.
    observations = [Observation((AuxLoss("a", 0.1),) if i % 2 else (), 9, float(i % 3 == 0))
                    for i in range(7)]
    table = tap_effects(observations, ["a"], "max", 0.0, 1.0)
    assert table["effect_low"].min() >= -1.0 and table["effect_high"].max() <= 1.0
    assert table.at[0, "effect_high"] == 1.0  # clipped, not past it


def test_runs_at_chance_are_clipped_at_the_chance_level():
    # A regression whose diverged runs report an enormous error: they count as
    # the chance level's error, and a None as well.
    observations = [Observation((AuxLoss("a", w),), 9, 0.2) for w in (0.1, 0.2, 0.3)]
    observations += [Observation((AuxLoss("b", w),), 9, score)
                     for w, score in [(0.1, 0.5), (0.2, 1e9), (0.3, None), (0.4, 0.5)]]
    picked = budget_scores(observations, "min", 0.0, None, floor=1.0)
    assert sorted(picked.scores) == [0.2, 0.2, 0.2, 0.5, 0.5, 1.0, 1.0]
    row = tap_effects(observations, ["a", "b"], "min", 0.0, None, floor=1.0).iloc[0]
    assert row["effect"] == pytest.approx(0.2 - 0.75)  # 0.2 against (0.5 + 0.5 + 1 + 1) / 4
    # Without a chance level: the worst score seen.
    assert budget_scores(observations, "max", 0.0, 1.0).floor == 0.2
    assert budget_scores(observations, "min", 0.0, None).floor == 1e9


def test_the_highest_budget_with_enough_configurations_is_used():
    observations = search(12, budget=3, base=0.6) + search(3, seed=1, budget=9)
    table = tap_effects(observations, LAYERS, "max", 0.0, 1.0)
    assert (table.attrs["budget"], table.attrs["configs"]) == (3, 12)
    assert set(table["budget"]) == {3}
    assert verdict_line(table).startswith("At 3 epochs (12 configurations; only 3 reached 9)")
    # Budgets where every configuration is at chance say nothing: a lower one is used.
    failed = [Observation(o.losses, 9, None) for o in search(8, seed=2)]
    assert tap_effects(failed + search(10, budget=1), LAYERS).attrs["budget"] == 1


def test_a_configuration_counts_once_per_budget():
    losses = (AuxLoss("a", 0.1),)
    observations = [Observation(losses, 9, 0.5), Observation(losses, 9, 0.7),
                    Observation(losses, 3, 0.2)]
    picked = budget_scores(observations, min_configs=1)
    assert (picked.budget, list(picked.scores)) == (9, [0.7])


def test_lower_is_better_metrics():
    observations = search(80, base=0.3, effects={"a": -0.05}, chance_rate=0)
    rows = by_layer(tap_effects(observations, LAYERS, "min", 0.0, None, floor=1.0))
    assert rows.at["a", "effect"] < 0 and rows.at["a", "verdict"] == HELPS


def test_the_combined_table_adds_importance_and_lines():
    table = explain_observations(search(60, chance_rate=0), LAYERS, "max", 0.0, 1.0, floor=0.1)
    assert {"importance", "importance_tap", "importance_weight"} <= set(table.columns)
    assert "importance_kind" not in table  # one kind: nothing to weigh
    assert table["importance"].sum() == pytest.approx(1.0)
    assert np.allclose(table["importance"], table["importance_tap"] + table["importance_weight"])
    assert table.attrs["verdict"].startswith("At 9 epochs") and "a helps" in table.attrs["verdict"]
    assert table.attrs["importance"].startswith("Importance (conditional PED-ANOVA; the best 50%")
    kinds = search(30, kind="penalty") + search(30, seed=1)
    assert "importance_kind" in explain_observations(kinds, LAYERS).columns


@pytest.mark.e2e
def test_fast_enough_for_a_benchmark():
    import time

    layers = [f"conv{i}" for i in range(26)]
    observations = search(250, layers=layers)
    start = time.perf_counter()
    for _ in range(10):
        explain_observations(observations, layers)
    assert (time.perf_counter() - start) / 10 < 0.05
