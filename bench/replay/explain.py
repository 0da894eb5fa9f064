"""`explain`: does `auxsearch explain` find the layers that matter? Checked against a table.

Replays default searches (the `auxsearch` strategy at one default search's
budget: the trials of its search, not its race) and runs `explain`'s
estimation (`results.effects.explain_observations`) on each search's
trials, as `auxsearch explain` reads a run: a failed trial,
or one no better than chance, has no score. Each estimate is compared with
the truth the whole table gives:

- **A layer's true effect** is the estimand `explain` states: at the budget
  it read, the mean true score of configurations that tap the layer minus
  the mean of those that do not, the other taps varying as the search
  samples them (Keras Tuner's random sampling of the space: a switch per
  layer on with probability 1/2, or each slot uniform over "none" and the
  layers; weights uniform on the grid). The true score at a budget is the
  mean over the table's seeds of the curve's best epoch up to that budget,
  a diverged training counting as chance.
- **The true importance** of a layer is what `explain`'s importance
  (conditional PED-ANOVA) gives on every configuration of the table, each
  once, with its true score at the full budget.

`coverage` is the share of the intervals `explain` gave (layers it did not
call "too few trials") that contain the true effect; `spearman` the mean
over replays of the rank correlation between estimated and true importances.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats

from auxsearch.core import names
from auxsearch.core.observations import Observation, observe
from auxsearch.core.tapspace import AuxLoss, active_taps
from auxsearch.core.tasks import METRIC_RANGES
from auxsearch.results.effects import TOO_FEW, explain_observations
from bench.replay.strategies import STRATEGIES, hyperband_epochs, tap_space
from bench.replay.table import Table, load_table

COLUMNS = ["table", "replays", "coverage", "spearman", "intervals", "too_few", "mean_width"]


def prior(table: Table) -> np.ndarray:
    """Each configuration's probability under Keras Tuner's random sampling of the space.

    A switch per layer is on with probability 1/2; a slot is "none" or one
    of the layers, uniformly; a tap's weight, kind, head width and schedule
    are uniform over their choices; a layer in two slots is tapped once, as
    its first slot says (`active_taps`).
    """
    space = tap_space(table)
    index = {space.key(values): i for i, values in enumerate(table.configs)}
    taps = {layer: [AuxLoss(layer, w, kind, schedule, units)
                    for kind in space.kinds_for(layer)
                    for units in (space.head_units if kind == "head" else (0,))
                    for schedule in space.schedules for w in space.weight_grid]
            for layer in space.layers}
    weights = np.zeros(len(table.configs))
    if space.max_taps:
        choices = [(None, 1 / (len(space.layers) + 1))] + [
            (tap, 1 / (len(space.layers) + 1) / len(options))
            for options in taps.values() for tap in options]
        for combo in itertools.product(choices, repeat=space.max_taps):
            chosen: dict[str, AuxLoss] = {}
            for tap, _ in combo:
                if tap is not None:
                    chosen.setdefault(tap.layer, tap)
            key = space.key(space.values_of(list(chosen.values())))
            weights[index[key]] += float(np.prod([p for _, p in combo]))
        return weights
    for i, values in enumerate(table.configs):
        on = active_taps(values)
        weights[i] = float(np.prod([0.5 / len(taps[layer]) if layer in on else 0.5
                                    for layer in space.layers]))
    return weights


def true_scores(table: Table, budget: int) -> np.ndarray:
    """Each configuration's true score at a budget (its seeds' mean best epoch)."""
    curves = table.curves[:, :, :budget]
    best = np.nanmax(curves, axis=2) if table.maximize else np.nanmin(curves, axis=2)
    best = np.where(np.isnan(curves).any(axis=2), table.meta["chance"], best)
    return best.mean(axis=1)


def true_effects(table: Table, budget: int, weights: np.ndarray) -> dict[str, float]:
    """Each layer's true marginal effect at a budget, under the sampling weights."""
    scores = true_scores(table, budget)
    effects = {}
    for layer in table.meta["tapspace"]["layers"]:
        on = np.array([layer in active_taps(v) for v in table.configs])
        effects[layer] = float(np.average(scores[on], weights=weights[on])
                               - np.average(scores[~on], weights=weights[~on]))
    return effects


def _observations(table: Table, trials: Sequence[tuple[int, int, int, int, float]]
                  ) -> list[Observation]:
    return [observe({**table.configs[config], names.EPOCHS: end}, not np.isnan(score),
                    float(score), table.meta["chance"], table.meta["direction"])
            for config, _, _, end, score in trials]


def true_importance(table: Table) -> dict[str, float]:
    """Each layer's importance by `explain`'s method on the whole table (true scores)."""
    scores = true_scores(table, table.max_epochs)
    observations = [Observation(tuple(active_taps(values).values()), table.max_epochs,
                                float(score))
                    for values, score in zip(table.configs, scores)]
    layers = table.meta["tapspace"]["layers"]
    table_ = explain_observations(observations, layers, table.meta["direction"],
                                  floor=table.meta["chance"])
    return dict(zip(table_["layer"], table_["importance"]))


def check(path: str | Path, replays: int = 100) -> dict[str, float]:
    """Replays `replays` default searches on a table; returns its row of the CSV."""
    table = load_table(path)
    layers = table.meta["tapspace"]["layers"]
    low, high = METRIC_RANGES.get(names.objective_metric(table.meta["objective"]),
                                  (None, None))
    weights = prior(table)
    truth_by_budget: dict[int, dict[str, float]] = {}
    importance = true_importance(table)
    covered = given = too_few = 0
    widths, rhos = [], []
    search = STRATEGIES["auxsearch"]
    for replay in range(replays):
        [outcome] = search(table, [hyperband_epochs(table)], replay)
        estimate = explain_observations(_observations(table, outcome.trials), layers,
                                        table.meta["direction"], low, high,
                                        floor=table.meta["chance"])
        budget = estimate.attrs.get("budget")
        if budget is None:
            too_few += len(layers)
            continue
        if budget not in truth_by_budget:
            truth_by_budget[budget] = true_effects(table, int(budget), weights)
        truth = truth_by_budget[budget]
        for row in estimate.itertuples():
            if row.verdict == TOO_FEW:
                too_few += 1
                continue
            given += 1
            covered += row.effect_low <= truth[row.layer] <= row.effect_high
            widths.append(row.effect_high - row.effect_low)
        estimated = estimate.set_index("layer")["importance"]
        if estimated.notna().sum() > 2:
            rho = scipy.stats.spearmanr([estimated[x] for x in layers],
                                        [importance[x] for x in layers]).statistic
            if not np.isnan(rho):
                rhos.append(rho)
    return {"table": table.name, "replays": replays,
            "coverage": covered / given if given else float("nan"),
            "spearman": float(np.mean(rhos)) if rhos else float("nan"),
            "intervals": given, "too_few": too_few,
            "mean_width": float(np.mean(widths)) if widths else float("nan")}


def explain_tables(paths: Sequence[str | Path], replays: int = 100) -> pd.DataFrame:
    """The CSV of `python -m bench.replay explain`: one row per table."""
    return pd.DataFrame([check(path, replays) for path in paths], columns=COLUMNS)
