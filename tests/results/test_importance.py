import math

import numpy as np
import pytest

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss
from auxsearch.results.importance import good_configs, tap_importance

LAYERS = ["a", "b", "c"]


def configs(n, score, seed=0, layers=LAYERS, kinds=("head",), budget=9, max_taps=None):
    """`n` random configurations scored by `score(taps)`; `max_taps`: slot-like sets."""
    rng = np.random.default_rng(seed)
    observations = []
    for _ in range(n):
        if max_taps:
            on = list(rng.choice(layers, rng.integers(0, max_taps + 1), replace=False))
        else:
            on = [layer for layer in layers if rng.random() < 0.5]
        taps = {str(layer): AuxLoss(str(layer), float(np.exp(rng.uniform(math.log(0.01), 0))),
                                    str(rng.choice(kinds))) for layer in on}
        observations.append(Observation(tuple(taps.values()), budget,
                                        score(taps) + float(rng.normal(0, 0.01))))
    return observations


def shares(table):
    return table.set_index("hyperparameter")["importance"]


def test_the_switch_that_matters_ranks_first():
    table = tap_importance(configs(80, lambda taps: 0.8 + 0.1 * ("a" in taps)), LAYERS)
    imp = shares(table)
    assert list(table["hyperparameter"]) == [
        "tap/a", "weight/a", "tap/b", "weight/b", "tap/c", "weight/c"]
    assert list(table["part"]) == ["between", "within"] * 3
    assert imp.sum() == pytest.approx(1.0)
    assert imp.idxmax() == "tap/a" and imp["tap/a"] > 3 * max(imp["tap/b"], imp["tap/c"])
    assert table.attrs["good"] == math.ceil(table.attrs["configs"] / 2)  # the better half


def test_a_weight_that_matters_is_within_regime():
    # Tapping b is neutral on average, but only its large weights help.
    def score(taps):
        return 0.8 + (0.1 if taps["b"].weight > 0.1 else -0.1) * ("b" in taps) if "b" in taps \
            else 0.8

    imp = shares(tap_importance(configs(120, score), LAYERS))
    assert imp.idxmax() == "weight/b"
    assert imp["weight/b"] > 3 * imp["tap/b"]


def test_kinds_are_weighed_where_the_trials_vary_them():
    def score(taps):
        return 0.8 + 0.1 * ("c" in taps and taps["c"].kind == "penalty")

    table = tap_importance(configs(120, score, kinds=("head", "penalty")), LAYERS)
    imp = shares(table)
    assert "kind/c" in imp and "units/c" not in imp and "schedule/c" not in imp
    assert imp["kind/c"] > max(imp[f"kind/{layer}"] for layer in ("a", "b"))
    assert "kind/c" not in shares(tap_importance(configs(40, score), LAYERS))


def test_slot_spaces_are_read_per_layer():
    observations = configs(80, lambda taps: 0.8 + 0.1 * ("c" in taps), max_taps=1)
    assert shares(tap_importance(observations, LAYERS)).idxmax() == "tap/c"


def test_failures_rank_last_and_are_never_good():
    observations = configs(10, lambda taps: 0.8)
    observations += [Observation((AuxLoss("a", 0.1 + i / 100),), 9, None) for i in range(10)]
    chosen, good = good_configs(observations, "max", 0.75)
    failed = np.array([any(o.score is None and o.config == c for o in observations)
                       for c in chosen])
    assert not (good & failed).any() and good.sum() == (~failed).sum() > 5


def test_budgets_pool_by_rank():
    # At 1 epoch every score is lower: by raw scores, no 1-epoch one would be good.
    observations = (configs(20, lambda taps: 0.3 + 0.1 * ("a" in taps), budget=1)
                    + configs(20, lambda taps: 0.9 + 0.01 * ("a" in taps), seed=1, budget=9))
    chosen, good = good_configs(observations, "max", 0.5)
    deepest = {o.config: o.budget for o in observations}
    assert 5 <= sum(deepest[c] == 1 for c, g in zip(chosen, good) if g) <= 15


def test_too_few_good_configurations_give_no_importance():
    table = tap_importance(configs(2, lambda taps: 0.8), LAYERS)
    assert table["importance"].isna().all() and table.attrs["good"] == 1
    assert tap_importance([], LAYERS)["importance"].isna().all()


def test_the_permutation_test_separates_signal_from_noise():
    signal = tap_importance(configs(60, lambda taps: 0.8 + 0.1 * ("a" in taps)), LAYERS,
                            permutations=99)
    noise = tap_importance(configs(60, lambda taps: 0.8), LAYERS, permutations=99)
    assert signal.attrs["p_value"] == pytest.approx(0.01)
    assert noise.attrs["p_value"] > 0.05
    assert math.isnan(tap_importance(configs(60, lambda taps: 0.8), LAYERS).attrs["p_value"])


def test_a_weight_grid_is_read_as_categories():
    observations = [Observation((AuxLoss("a", w),), 9, 0.9 if w == 0.3 else 0.7)
                    for w in (0.03, 0.3) for _ in range(1)]
    observations += [Observation((AuxLoss("a", w), AuxLoss("b", v)), 9,
                                 0.9 if w == 0.3 else 0.7)
                     for w in (0.03, 0.3) for v in (0.03, 0.3)]
    imp = shares(tap_importance(observations, ["a", "b"]))
    assert imp["weight/a"] > imp["weight/b"]
