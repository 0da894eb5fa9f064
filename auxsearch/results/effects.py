"""Which layers help: each tap's effect on the objective, with an interval, from a search's trials.

Pure estimation, for `explain` and for a replay benchmark that calls it on
thousands of simulated searches: `Observation`s and the candidate layers in,
`pandas` tables out; no Keras, no files.

**The estimand.** For a candidate layer, its effect is the difference
between the mean score of configurations that tap it and of those that do
not, at one epoch budget, the other taps, weights and settings varying as the
search sampled them (with random sampling, the configuration space's own
distribution). On a table of every configuration this is the mean true
score with the tap on minus the mean with it off: a marginal effect, not one
with the other taps held fixed. It is estimated by the same difference over
the configurations the search trained to that budget.

**Which budget.** The highest budget that at least `min_configs`
configurations reached with scores that differ (6: two groups of three);
lower budgets only when the higher ones have too few. Budgets are not mixed:
a layer that speeds up the first epoch need not help at the ninth, and a
score at 1 epoch says little about one at 9, so the table says at which
budget its effects hold. Hyperband promotes the configurations that did well
at lower budgets, so a budget holds more good ones than a random draw would:
a bias the interval does not correct, small beside its width at a default
search's size.

**The runs at chance: clipped.** A trial that failed or learnt nothing (score
`None`), and any score worse than the chance level, counts as the chance
level (`floor`). A failure costs what a constant prediction scores, whatever
number the diverged model produced, so one exploded loss cannot dominate; the
effect stays in the objective's units, as the true marginal effect is; and a
tap that keeps a model from failing shows as the large effect it is.

**The interval: Student's two-sample t**, with the variance of all the
configurations at the budget (df = n - 2): the variance the difference has
when the tap does nothing (a permutation test's). The other taps vary from
configuration to configuration, so the interval includes what they add to
the spread. Why not a bootstrap: with 3-10 configurations per side a
percentile bootstrap is too narrow (in simulation it covered the true effect
about 76% of the time at 6 configurations where the t-interval covered 95%).
Why not the variance within the two groups: a few configurations can split
by chance into failures and successes that line up with a layer, and that
variance is then near zero. Every interval is clipped to the range of a
difference, `[-(high - low), high - low]`, and a layer with no configuration
on one side gets that whole range (none if the metric is unbounded).

**The verdict.** "helps" or "hurts" when the two-sided t-test's p-value,
Holm-adjusted over the layers tested, is below 0.05; "no detectable effect"
otherwise; "too few trials" when fewer than 2 configurations tap the layer or
leave it untapped, or the budget has fewer than `min_configs`. The interval
is each layer's own 95% interval; the verdict controls the error over all
layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss
from auxsearch.results.holm import holm
from auxsearch.results.importance import SETTINGS, TARGET_QUANTILE, tap_importance

MIN_CONFIGS = 6  # a budget's configurations before its effects are read: two groups of three
LEVEL = 0.95  # each interval's confidence level
ALPHA = 0.05  # the verdicts' family-wise error, over the layers (Holm)
HELPS, HURTS, UNCLEAR, TOO_FEW = "helps", "hurts", "no detectable effect", "too few trials"
COLUMNS = ["layer", "depth", "configs_on", "configs_off", "mean_on", "mean_off", "effect",
           "effect_low", "effect_high", "p_value", "verdict", "weight_low", "weight_high",
           "best_weight", "budget"]

Config = tuple[AuxLoss, ...]


@dataclass(frozen=True)
class BudgetScores:
    """The configurations trained to one budget, each once, with clipped scores.

    Attributes:
        budget: The epochs (`None` without any trial).
        configs: Each configuration's losses.
        scores: Float array, each one's score, clipped at `floor`.
        floor: The chance level the scores are clipped at (NaN: none).
        enough: Whether the budget has `min_configs` configurations that differ.
        reached: The number of configurations at the highest budget.
        highest: The highest budget any trial reached.
    """

    budget: int | None
    configs: list[Config]
    scores: np.ndarray
    floor: float
    enough: bool
    reached: int
    highest: int | None


def budget_scores(observations: Sequence[Observation], direction: str = "max",
                  low: float | None = None, high: float | None = None,
                  floor: float | None = None, min_configs: int = MIN_CONFIGS) -> BudgetScores:
    """Picks the budget to read effects at, and its configurations' clipped scores.

    The highest budget with `min_configs` configurations whose scores are not
    all equal (all at chance says nothing); else the one with the most
    configurations (the highest among ties), marked not `enough`.

    Args:
        observations: The finished trials.
        direction: "max" or "min", the objective's better direction.
        low: The metric's lowest value, if bounded.
        high: The metric's highest value, if bounded.
        floor: The chance level: what a failed or at-chance trial counts as,
            and the worst a score counts as. Default: the worst score of any
            trial (at any budget), else the metric's worst bound.
        min_configs: Integer, the configurations a budget needs.
    """
    sign = 1.0 if direction == "max" else -1.0
    floor = _floor(observations, sign, low, high, floor)
    by_budget: dict[int, dict[Config, float]] = {}
    for obs in observations:  # a configuration once per budget: its last trial there
        score = floor if obs.score is None or not math.isfinite(obs.score) else obs.score
        if math.isnan(score):  # no chance level to count a failure as
            continue
        if math.isfinite(floor) and sign * (score - floor) < 0:  # worse than chance
            score = floor
        score = min(score, high) if high is not None else score
        score = max(score, low) if low is not None else score
        by_budget.setdefault(int(obs.budget), {})[obs.config] = score
    if not by_budget:
        return BudgetScores(None, [], np.zeros(0), floor, False, 0, None)
    budgets = sorted(by_budget, reverse=True)
    good = [b for b in budgets if len(by_budget[b]) >= min_configs
            and len(set(by_budget[b].values())) > 1]
    budget = good[0] if good else max(budgets, key=lambda b: (len(by_budget[b]), b))
    chosen = by_budget[budget]
    return BudgetScores(budget, list(chosen), np.array(list(chosen.values()), dtype=float),
                        floor, bool(good), len(by_budget[budgets[0]]), budgets[0])


def tap_effects(observations: Sequence[Observation], layers: Sequence[str],
                direction: str = "max", low: float | None = None, high: float | None = None,
                *, floor: float | None = None, level: float = LEVEL,
                min_configs: int = MIN_CONFIGS) -> pd.DataFrame:
    """Estimates each candidate layer's effect on the objective, with an interval.

    See the module's docstring for the estimand, the budget, the clipping and
    the test.

    Args:
        observations: The finished trials (`Observation`s), of any budgets.
        layers: The candidate layers, in the model's order.
        direction: "max" or "min", the objective's better direction.
        low: The metric's lowest value, if bounded (0 for accuracy).
        high: The metric's highest value, if bounded (1 for accuracy).
        floor: The chance level (see `budget_scores`).
        level: Float, each interval's confidence level.
        min_configs: Integer, the configurations a budget needs.

    Returns:
        One row per layer, in the given order: `layer, depth` (1 = nearest the
        input), `configs_on, configs_off` (configurations at the budget that
        tap it or not), `mean_on, mean_off`, `effect` (their difference, in
        the objective's units: positive raises the score), `effect_low,
        effect_high` (the interval), `p_value` (Holm-adjusted), `verdict`
        ("helps", "hurts", "no detectable effect", "too few trials"),
        `weight_low, weight_high` (the weights of the tapped configurations
        that beat the untapped ones' mean: where it helps), `best_weight` (the
        best tapped configuration's), `budget` (the epochs). `attrs` holds
        `budget`, `configs`, `enough`, `reached`, `highest` and `floor`.
    """
    layers = list(layers)
    picked = budget_scores(observations, direction, low, high, floor, min_configs)
    y, n = picked.scores, len(picked.scores)
    taps = [{loss.layer: loss for loss in config} for config in picked.configs]
    on = np.array([[layer in chosen for layer in layers] for chosen in taps],
                  dtype=bool).reshape(n, len(layers))
    n_on = on.sum(axis=0)
    n_off = n - n_on
    df = n - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_on = (y @ on) / n_on
        mean_off = (y @ ~on) / n_off
        # The spread of all the configurations, not within the two groups: a
        # few configurations can split by chance into failures and successes
        # that line up with a layer, and the groups' own spread then says it
        # is certain. Over all of them it is the variance the difference has
        # when the tap does nothing (a permutation test's).
        variance = y.var(ddof=1) if n > 1 else math.nan
        se = np.sqrt(variance * (1 / n_on + 1 / n_off)) if df > 0 else np.full(len(layers),
                                                                              np.nan)
    effect = mean_on - mean_off
    half = scipy.stats.t.ppf(0.5 + level / 2, df) * se if df > 0 else se
    span = (high - low) if low is not None and high is not None else math.inf
    known = np.isfinite(half) & (se > 0)
    # Nothing to estimate from: the whole range a difference can take (none if unbounded).
    whole = span if math.isfinite(span) else math.nan
    effect_low = np.where(known, np.clip(effect - half, -span, span), -whole)
    effect_high = np.where(known, np.clip(effect + half, -span, span), whole)
    sign = 1.0 if direction == "max" else -1.0
    testable = known & (n_on >= 2) & (n_off >= 2) & picked.enough
    p_raw = np.where(testable, 2 * scipy.stats.t.sf(np.abs(effect) / np.where(known, se, 1),
                                                    max(df, 1)), np.nan)
    p_value = holm(p_raw)
    verdict = np.where(~testable, TOO_FEW, np.where(
        p_value < ALPHA, np.where(sign * effect > 0, HELPS, HURTS), UNCLEAR))
    rows = []
    for j, layer in enumerate(layers):
        weights = _helping_weights(taps, y, layer, mean_off[j], sign) if testable[j] else (
            math.nan, math.nan, math.nan)
        rows.append([layer, j + 1, int(n_on[j]), int(n_off[j]), mean_on[j], mean_off[j],
                     effect[j], effect_low[j], effect_high[j], p_value[j], str(verdict[j]),
                     *weights, picked.budget])
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs.update(budget=picked.budget, configs=n, enough=picked.enough,
                       reached=picked.reached, highest=picked.highest, floor=picked.floor)
    return table


def _helping_weights(taps: list[dict[str, AuxLoss]], y: np.ndarray, layer: str,
                     mean_off: float, sign: float) -> tuple[float, float, float]:
    """The weight range of the tapped configurations that beat the untapped mean, and the best's."""
    tapped = [(y[i], chosen[layer].weight) for i, chosen in enumerate(taps) if layer in chosen]
    helping = [w for score, w in tapped if sign * (score - mean_off) > 0]
    best = max(tapped, key=lambda item: sign * item[0])[1]
    return (min(helping), max(helping), best) if helping else (math.nan, math.nan, best)


def _floor(observations: Sequence[Observation], sign: float, low: float | None,
           high: float | None, floor: float | None) -> float:
    """The chance level: given, else the worst score seen, else the metric's worst bound."""
    if floor is not None and math.isfinite(floor):
        return float(floor)
    seen = [o.score for o in observations if o.score is not None and math.isfinite(o.score)]
    if seen:
        return min(seen) if sign > 0 else max(seen)
    bound = low if sign > 0 else high
    return float(bound) if bound is not None else math.nan


def explain_observations(observations: Sequence[Observation], layers: Sequence[str],
                         direction: str = "max", low: float | None = None,
                         high: float | None = None, *, floor: float | None = None,
                         level: float = LEVEL, min_configs: int = MIN_CONFIGS,
                         target_quantile: float = TARGET_QUANTILE,
                         permutations: int = 0) -> pd.DataFrame:
    """Each layer's effect (`tap_effects`) and importance (`tap_importance`), in one table.

    Args:
        observations: The finished trials.
        layers: The candidate layers, in the model's order.
        direction: "max" or "min".
        low: The metric's lowest value, if bounded.
        high: The metric's highest value, if bounded.
        floor: The chance level (see `budget_scores`).
        level: Float, each interval's confidence level.
        min_configs: Integer, the configurations a budget needs.
        target_quantile: Float, the share of the configurations that is good, for
            the importance.
        permutations: Integer, the permutation test of the importance (0: none).

    Returns:
        `tap_effects`' columns, then `importance` (the layer's share of the
        total importance: its switch and its settings) and its parts,
        `importance_tap` (between-regime) and `importance_weight`,
        `importance_kind`, `importance_schedule`, `importance_units`
        (within-regime; the last three where the trials vary them). `attrs`
        holds `tap_effects`' and `verdict` and `importance` (one line each,
        in words).
    """
    table = tap_effects(observations, layers, direction, low, high, floor=floor, level=level,
                        min_configs=min_configs)
    parts = tap_importance(observations, layers, direction, target_quantile=target_quantile,
                           permutations=permutations)
    shares: dict[str, dict[str, float]] = {}  # part -> layer -> share
    for layer, name, share in zip(parts["layer"], parts["hyperparameter"], parts["importance"]):
        shares.setdefault(name.split("/")[0], {})[layer] = share
    table["importance"] = [sum(by_layer.get(layer, 0.0) for by_layer in shares.values())
                           for layer in table["layer"]]
    for part in ["tap", *SETTINGS]:
        if part in shares:
            table[f"importance_{part}"] = [shares[part][layer] for layer in table["layer"]]
    table.attrs["verdict"] = verdict_line(table, min_configs)
    table.attrs["importance"] = importance_line(parts, target_quantile)
    return table


def verdict_line(table: pd.DataFrame, min_configs: int = MIN_CONFIGS) -> str:
    """Says in one line what a `tap_effects` table found, or that the trials are too few."""
    attrs = table.attrs
    budget, n = attrs.get("budget"), attrs.get("configs", 0)
    if budget is None or not len(table):
        return "No trials to tell which layers help from yet."
    if not attrs.get("enough"):
        return (f"Too few trials to tell which layers help: {n} configurations reached "
                f"{budget} epochs with scores that differ; {min_configs} are needed.")
    where = (f"At {budget} epochs, the highest budget trained ({n} configurations)"
             if budget == attrs.get("highest") else
             f"At {budget} epochs ({n} configurations; only {attrs.get('reached')} reached "
             f"{attrs.get('highest')})")
    found = [f"{layer} {verdict} ({_interval(effect, low, high)})"
             for layer, verdict, effect, low, high in zip(
                 table["layer"], table["verdict"], table["effect"], table["effect_low"],
                 table["effect_high"]) if verdict in (HELPS, HURTS)]
    unclear = int((table["verdict"] == UNCLEAR).sum())
    few = table.loc[table["verdict"] == TOO_FEW, "layer"].tolist()
    words = found or ["no layer has a detectable effect"]
    if found and unclear:
        words.append(f"no detectable effect of the {unclear} other{'s' if unclear > 1 else ''}")
    if few:
        shown = ", ".join(few[:3]) + (f" and {len(few) - 3} more" if len(few) > 3 else "")
        words.append(f"too few trials for {len(few)} of {len(table)} layers: {shown}")
    return f"{where}: {'; '.join(words)}. Verdicts: t-tests, Holm-adjusted at {ALPHA:g}."


def importance_line(parts: pd.DataFrame, target_quantile: float = TARGET_QUANTILE) -> str:
    """Says in one line which hyperparameters matter most, or that it cannot tell."""
    good, configs = parts.attrs.get("good", 0), parts.attrs.get("configs", 0)
    basis = (f"the best {target_quantile:.0%}: {good} of {configs} configurations, "
             "budgets pooled by rank")
    if not len(parts) or parts["importance"].isna().all():
        return f"Importance: too few good configurations to rank the hyperparameters ({basis})."
    top = parts.sort_values("importance", ascending=False, kind="stable").head(3)
    ranked = ", ".join(f"{name} {share:.0%}"
                       for name, share in zip(top["hyperparameter"], top["importance"]))
    p_value = parts.attrs.get("p_value", math.nan)
    if p_value >= ALPHA:
        return (f"Importance: no hyperparameter stands out from chance (permutation test, "
                f"p = {p_value:.2f}; {basis}); the shares are likely noise: {ranked}.")
    test = f"; permutation test p = {p_value:.3f}" if math.isfinite(p_value) else ""
    return f"Importance (conditional PED-ANOVA; {basis}{test}): {ranked}."


def _interval(effect: float, low: float, high: float) -> str:
    """`+0.021 [+0.004, +0.038]`, with as many decimals as the interval's width needs."""
    width = abs(high - low) / 2 or abs(effect) or 1.0
    decimals = min(6, max(2, 1 - math.floor(math.log10(width))))
    return f"{effect:+.{decimals}f} [{low:+.{decimals}f}, {high:+.{decimals}f}]"
