"""Each strategy on a synthetic table: what it spends and what it picks."""

from __future__ import annotations

import pytest

from auxsearch.core.space import HyperbandSpec
from bench.replay.strategies import STRATEGIES, Evaluator, Incumbent, hyperband_epochs
from bench.replay.table import load_table


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_spends_its_budget_and_picks_a_configuration(small_table, name):
    table = load_table(small_table)
    budget = hyperband_epochs(table)
    outcome = STRATEGIES[name](table, [budget], 0)[0]
    assert 0 <= outcome.choice < len(table.configs)
    assert outcome.spent - outcome.race_spent <= budget
    default = HyperbandSpec().race_seeds if name.startswith("auxsearch") else 0
    races = 0 if name == "auxsearch/today" else (
        int(name.split("=")[1]) if "race=" in name else default)
    assert outcome.race_spent <= table.max_epochs * (len(outcome.full) * races + 2)
    assert outcome.choice in outcome.full or races == 0
    assert [spent for spent, _ in outcome.curve] == sorted(spent for spent, _ in outcome.curve)
    assert outcome.curve[-1][1] in (outcome.search_choice, outcome.choice, None)
    assert sum(end - start for _, _, start, end, _ in outcome.trials) <= outcome.spent
    assert STRATEGIES[name](table, [budget], 0)[0].choice == outcome.choice  # deterministic


def test_hyperband_strategies_repeat_their_brackets_for_a_larger_budget(slot_table):
    table = load_table(slot_table)
    one = STRATEGIES["kt-hyperband"](table, [hyperband_epochs(table)], 1)[0]
    three = STRATEGIES["kt-hyperband"](table, [3 * hyperband_epochs(table)], 1)[0]
    assert len(three.trials) > 2 * len(one.trials)
    assert three.trials[:len(one.trials)] == one.trials  # the first iteration is the same


def test_auxsearch_trains_the_baseline_to_the_full_budget(slot_table):
    table = load_table(slot_table)
    outcome = STRATEGIES["auxsearch"](table, [hyperband_epochs(table)], 2)[0]
    assert (table.baseline, 0, table.max_epochs) in [(c, s, e) for c, _, s, e, _ in
                                                     outcome.trials]


def test_a_race_picks_among_the_full_budget_configurations_on_paired_seeds(slot_table):
    table = load_table(slot_table)
    alone = STRATEGIES["auxsearch/race=0"](table, [hyperband_epochs(table)], 3)[0]
    raced = STRATEGIES["auxsearch/race=3"](table, [hyperband_epochs(table)], 3)[0]
    assert raced.trials == alone.trials and raced.search_choice == alone.choice
    assert raced.full == alone.full and raced.choice in raced.full
    assert raced.race_spent > alone.race_spent == 2 * table.max_epochs  # the noise floor
    seeds = len(table.meta["seeds"])
    assert not alone.held_out and len(raced.held_out) >= seeds - 3
    assert set(raced.held_out) <= set(range(seeds))


def test_a_promotion_continues_the_same_seeds_curve(small_table):
    table = load_table(small_table)
    import numpy as np

    evaluator = Evaluator(table, np.random.default_rng(0))
    evaluator.train(5, 0, 1)
    evaluator.train(5, 1, 3)
    assert evaluator.trials[0][1] == evaluator.trials[1][1] and evaluator.spent == 3


def test_the_leaderboard_rule_prefers_the_full_budget_and_learning():
    table = type("T", (), {"max_epochs": 9, "maximize": True,
                           "meta": {"chance": 0.1, "direction": "max"}})()
    incumbent = Incumbent(table, "leaderboard")
    incumbent.add(1, 3, 0.99)
    assert incumbent.config == 1
    incumbent.add(2, 9, 0.1)  # at chance: ranked after what learnt, at the same epochs
    incumbent.add(3, 9, 0.8)
    assert incumbent.config == 3
    incumbent.add(3, 1, 0.99)  # a later, shorter trial of it: ranked by its longest
    assert incumbent.config == 3 and incumbent.ranked()[0] == 3
    best = Incumbent(table, "best")
    for config, end, score in [(1, 3, 0.99), (3, 9, 0.8)]:
        best.add(config, end, score)
    assert best.config == 1  # Keras Tuner's: the best score of any budget


@pytest.mark.parametrize("name", ["kt-hyperband", "auxsearch", "auxsearch/today"])
def test_one_search_serves_every_budget_as_separate_searches_would(slot_table, name):
    table = load_table(slot_table)
    budgets = [hyperband_epochs(table), 3 * hyperband_epochs(table)]
    together = STRATEGIES[name](table, budgets, 4)
    for budget, outcome in zip(budgets, together):
        [alone] = STRATEGIES[name](table, [budget], 4)
        assert outcome.trials == alone.trials and outcome.choice == alone.choice
        assert outcome.spent == alone.spent
