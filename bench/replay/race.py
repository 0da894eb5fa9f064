"""The race after a replayed search, on the table's other seeds.

As `auxsearch.search.race` runs it, with the same rule
(`auxsearch.results.race_rule.run_rule`): every configuration the search
trained to the full budget, and the baseline, on more paired seeds. The
table's seeds are paired (recorded so), so the race's i-th seed is one
table seed for every configuration, in an order drawn per replay; a
training's score is its curve's best epoch, a diverged one the chance level.
The table's seeds are few (3 to 5), so a race's seeds include the one the
search drew for some configurations, and the truth (the mean over all of
them) shares seeds with the race: its figures are optimistic by that much.
"""

from __future__ import annotations

import numpy as np

from auxsearch.results.race_rule import run_rule
from bench.replay.table import Table


def race(table: Table, full: list[int], race_seeds: int, floor: int,
         rng: np.random.Generator) -> tuple[list[int], int, list[int]]:
    """Races the full-budget configurations; returns those left and the epochs spent.

    Args:
        table: The table.
        full: The configurations the search trained to the full budget (the
            baseline among them).
        race_seeds: Integer, the race's seeds (0: no race).
        floor: Integer, the baseline's noise-floor seeds (trained either way).
        rng: The replay's generator (it draws the race's seed order).

    Returns:
        Those left in the race, the winner (the best mean) first (none
        without a race), the epochs of the race and the noise floor, and the
        table's seeds the race did not train on (its pick is checked there,
        on seeds that did not choose it: `report`'s `select_gain_heldout`).
    """
    order = rng.permutation(len(table.meta["seeds"]))
    trained: set[tuple[int, int]] = set()

    def score(config: int, i: int) -> float:
        if i >= len(order):
            return None  # the table has no more seeds
        trained.add((config, i))
        value = table.score(config, int(order[i]), 0, table.max_epochs)
        return table.meta["chance"] if np.isnan(value) else value

    left: list[int] = []
    if race_seeds and full:
        result = run_rule(full, race_seeds, table.maximize, score)
        means = {c: np.mean([score(c, i) for i in range(result.seeds)]) for c in result.racing}
        sign = 1 if table.maximize else -1
        left = sorted(result.racing, key=lambda c: -sign * means[c])
    raced_baseline = {i for c, i in trained if c == table.baseline}
    extra = max(0, floor - len(raced_baseline))
    used = {i for _, i in trained}
    held = [int(order[i]) for i in range(len(order)) if i not in used]
    return left, table.max_epochs * (len(trained) + extra), held
