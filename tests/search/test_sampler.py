"""The model-based sampler: its prior, what it learns, and that it proposes only new ones."""

from __future__ import annotations

import numpy as np
import pytest

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss, TapSpace, active_taps
from auxsearch.search.sampler import SamplerSettings, TapSampler

LAYERS = [f"c{i}" for i in range(1, 9)]


def _taps(values: dict) -> list[AuxLoss]:
    return list(active_taps(values).values())


def _proposals(sampler: TapSampler, results: list[Observation], count: int, seed: int = 0,
               tried: set | None = None) -> list[dict]:
    rng = np.random.default_rng(seed)
    tried = set() if tried is None else tried
    found = []
    for _ in range(count):
        values = sampler.propose(results, rng, lambda v: sampler.space.key(v) not in tried)
        assert values is not None
        tried.add(sampler.space.key(values))
        found.append(values)
    return found


def test_the_prior_makes_few_taps_as_likely_as_many():
    sampler = TapSampler(TapSpace(LAYERS), maximize=True)
    sizes = [len(_taps(v)) for v in _proposals(sampler, [], 400)]
    assert min(sizes) >= 1  # the baseline is the search's own business
    assert 0.4 < np.mean([s <= 3 for s in sizes]) < 0.6  # Keras Tuner's coin per layer: 0.36
    weights = [t.weight for v in _proposals(sampler, [], 50, seed=1) for t in _taps(v)]
    assert all(0.01 <= w <= 1.0 for w in weights)


def test_it_learns_which_layer_helps_and_keeps_a_random_share():
    space = TapSpace(LAYERS)
    rng = np.random.default_rng(5)
    results = []
    for _ in range(40):  # taps on c3 score well, the rest is noise
        chosen = rng.choice(LAYERS, size=rng.integers(1, 4), replace=False)
        losses = tuple(AuxLoss(str(layer), float(rng.uniform(0.01, 1))) for layer in chosen)
        score = 0.9 if "c3" in chosen else 0.5
        results.append(Observation(losses, 9, score + float(rng.normal(0, 0.01))))
    with_model = _proposals(TapSampler(space, True), results, 60)
    prior_only = _proposals(TapSampler(space, True, SamplerSettings(random_fraction=1.0)),
                            results, 60)
    share = [np.mean(["c3" in active_taps(v) for v in found])
             for found in (with_model, prior_only)]
    assert share[0] > 0.7 > share[1]


def test_failures_and_lower_is_better_count_against_a_configuration():
    space = TapSpace(LAYERS[:4])
    results = [Observation((AuxLoss("c1", 0.1),), 9, None),
               Observation((AuxLoss("c2", 0.1),), 9, 0.2)]
    results += [Observation((AuxLoss("c4", 0.1), AuxLoss(x, 0.3)), 9, 0.9) for x in ("c1", "c2")]
    results += [Observation((AuxLoss("c3", w),), 9, 0.95) for w in (0.2, 0.5)]
    sampler = TapSampler(space, False, SamplerSettings(random_fraction=0.0))
    found = _proposals(sampler, results, 20)
    assert np.mean(["c2" in active_taps(v) for v in found]) > 0.5  # c2 scored least


@pytest.mark.parametrize("settings", [SamplerSettings(pool="largest", min_points=3),
                                      SamplerSettings(staged=True)])
def test_other_settings_propose_on_the_grid_and_new(settings):
    space = TapSpace(LAYERS[:3], weight_grid=(0.03, 0.3), max_taps=2)
    results = [Observation(tuple(_taps(v)), budget, 0.5 + 0.01 * i)
               for i, (v, budget) in enumerate(zip(space.configurations()[1:], [1, 3, 9] * 9))]
    tried = {space.key(v) for v in space.configurations()[:10]}
    found = _proposals(TapSampler(space, True, settings), results, 5, tried=tried)
    assert len({space.key(v) for v in found}) == 5
    assert all(t.weight in (0.03, 0.3) for v in found for t in _taps(v))


def test_the_same_generator_gives_the_same_proposals_and_none_when_all_are_tried():
    space = TapSpace(LAYERS[:2], weight_grid=(0.1,))
    sampler = TapSampler(space, True)
    assert _proposals(sampler, [], 3, seed=4) == _proposals(sampler, [], 3, seed=4)
    everything = {space.key(v) for v in space.configurations()}
    assert sampler.propose([], np.random.default_rng(0),
                           lambda v: space.key(v) not in everything) is None
