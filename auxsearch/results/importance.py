"""The importance of each tap hyperparameter: conditional PED-ANOVA over a search's trials.

PED-ANOVA (Watanabe, Bansal and Hutter, IJCAI 2023) measures how much a
hyperparameter's distribution among the good trials (the top
`target_quantile`) differs from its distribution among all of them: the
Pearson divergence `sum_x p_all(x) (p_top(x) / p_all(x) - 1)^2`, each density
a Parzen estimator smoothed towards a uniform prior (weight 1 trial, as
Optuna's). A hyperparameter whose good values are no different from the
others' has importance 0.

A tap's weight exists only while the tap is on, which plain PED-ANOVA (and
fANOVA) cannot express. Conditional PED-ANOVA (Baba, Ozaki and Watanabe, KDD
2026, arXiv 2601.20800) splits such a space into regimes: the switch
`tap/<layer>` gets the **between-regime** importance (whether the layer is
tapped), and each setting that exists only when it is, `weight/<layer>`,
`kind/<layer>`, `schedule/<layer>` and a head's `units/<layer>`, the
**within-regime** importance: its divergence among the trials where it is
active, times `alpha^2 / beta` (`alpha`: the share of the good trials in
that regime, `beta`: of all trials). Both are scaled by `(gamma')^2`, the
good trials' share, so the parts add up to the divergence of the joint
distribution. With `max_taps`, the slots are exchangeable: the
hyperparameters are read per layer (whether any slot taps it, and with what),
so the table is the same for both kinds of space.

**Budgets pooled by rank; the runs at chance rank last.** Each configuration
counts once, at the largest budget it reached, scored by its rank among the
trials of that budget (a mid-rank quantile); the good ones are the best
`target_quantile` of the configurations by that quantile (`good_configs`).
Ranks make budgets comparable (a score at 1 epoch and one at 9 are not), and
a failed or at-chance trial ranks last
whatever number it produced, so the failures cannot dominate the importance
(Optuna issue 4985); trials tied at the bottom are never good. The default
`target_quantile` is 0.5, not Optuna's 0.1: a default search has about 17
configurations, and PED-ANOVA wants several good ones (Optuna's note: at least
5). On replayed 23-trial searches of synthetic tables with 8 layers, the best
half's ranking of the layers agreed with the whole table's better than the
best quarter's (Spearman about 0.1-0.4 against 0.05-0.1: 17 configurations
rank 8 layers only roughly either way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss

TARGET_QUANTILE = 0.5  # the good configurations: the better half
PRIOR_WEIGHT = 1.0  # each density's uniform prior, in trials (Optuna's)
MIN_GOOD = 2  # good configurations needed for any importance
STEPS = 50  # points of a continuous weight's grid (Optuna's)
GRID_VALUES = 10  # up to this many distinct weights, each seen twice: a grid, not a range
COLUMNS = ["layer", "hyperparameter", "part", "divergence", "importance"]
SETTINGS = ("weight", "kind", "schedule", "units")

Config = tuple[AuxLoss, ...]


def good_configs(observations: Sequence[Observation], direction: str = "max",
                 target_quantile: float = TARGET_QUANTILE) -> tuple[list[Config], np.ndarray]:
    """Each configuration once, and whether it is among the good ones.

    A configuration's quantile is its mid-rank among the trials of the
    largest budget it reached (0: the best there, 1: the worst; a trial
    without a score ranks last); the good ones are the first
    `ceil(target_quantile * configurations)` by quantile (ties: the larger
    budget first), but never one without a score.

    Args:
        observations: The finished trials.
        direction: "max" or "min".
        target_quantile: Float, the share of the configurations that is good.

    Returns:
        The configurations, and a boolean array: which are good.
    """
    sign = 1.0 if direction == "max" else -1.0
    index: dict[Config, int] = {}  # each configuration's number, in order of appearance
    at: dict[int, dict[int, float]] = {}  # budget -> configuration -> key (lower: better)
    for obs in observations:
        bad = obs.score is None or not math.isfinite(obs.score)
        c = index.setdefault(obs.config, len(index))
        at.setdefault(int(obs.budget), {})[c] = math.inf if bad else -sign * obs.score
    deepest = np.zeros(len(index), dtype=int)
    quantiles = np.ones(len(index))
    scored = np.zeros(len(index), dtype=bool)
    for budget in sorted(at):  # the larger budgets overwrite the smaller
        members = np.fromiter(at[budget], dtype=int, count=len(at[budget]))
        keys = np.fromiter(at[budget].values(), dtype=float, count=len(members))
        deepest[members] = budget
        quantiles[members] = (scipy.stats.rankdata(keys) - 0.5) / len(keys)
        scored[members] = keys < math.inf
    order = np.lexsort((-deepest, quantiles))
    good = np.zeros(len(index), dtype=bool)
    good[order[:math.ceil(target_quantile * len(index))]] = True
    return list(index), good & scored


def tap_importance(observations: Sequence[Observation], layers: Sequence[str],
                   direction: str = "max", *, target_quantile: float = TARGET_QUANTILE,
                   prior_weight: float = PRIOR_WEIGHT, permutations: int = 0) -> pd.DataFrame:
    """Estimates the importance of every tap hyperparameter (conditional PED-ANOVA).

    See the module's docstring.

    Args:
        observations: The finished trials (`Observation`s), of any budgets.
        layers: The candidate layers, in the model's order.
        direction: "max" or "min", the objective's better direction.
        target_quantile: Float in (0, 1], the share of the configurations that is good.
        prior_weight: Float, the densities' uniform prior, in trials.
        permutations: Integer, how many random relabellings of the good
            configurations test whether the total divergence stands out from
            chance (0: no test; `attrs["p_value"]` is then NaN).

    Returns:
        One row per hyperparameter, layers in the given order: `layer`,
        `hyperparameter` (`tap/<layer>`, `weight/<layer>`, and `kind/`,
        `schedule/`, `units/<layer>` where the trials vary them), `part`
        ("between" for the switch, "within" for the settings), `divergence`
        (its term of the joint divergence) and `importance` (its share of the
        sum; NaN when fewer than 2 configurations are good). `attrs` holds
        `configs`, `good` and `p_value` (the permutation test's: the share
        of relabellings whose total divergence is as large).
    """
    configs, good = good_configs(observations, direction, target_quantile)
    terms = _Terms([{loss.layer: loss for loss in config} for config in configs], list(layers),
                   prior_weight)
    divergence = terms(good)
    table = pd.DataFrame([[layer, name, part] for layer, name, part in terms.rows],
                         columns=COLUMNS[:3]).assign(divergence=divergence)
    total = float(divergence.sum())
    enough = good.sum() >= MIN_GOOD and total > 0
    table["importance"] = divergence / total if enough else math.nan
    p_value = math.nan
    if permutations and enough:  # the good labels shuffled: as large a total by chance?
        rng = np.random.default_rng(0)
        larger = sum(terms(rng.permutation(good)).sum() >= total * (1 - 1e-9)
                     for _ in range(permutations))
        p_value = (1 + larger) / (1 + permutations)
    table.attrs.update(configs=len(configs), good=int(good.sum()), p_value=p_value)
    return table


class _Terms:
    """Each hyperparameter's term of the joint divergence, for any labelling of the good ones.

    Each hyperparameter is kept as its regime (where it is active) and a
    matrix: per configuration in the regime, its mass over the bins (one-hot
    over a categorical's values; a continuous log-weight's Gaussian kernel
    over a grid). A density is then the prior plus a sum of rows.
    """

    def __init__(self, taps: list[dict[str, AuxLoss]], layers: list[str],
                 prior_weight: float) -> None:
        self.prior_weight = prior_weight
        log_range = _log_range(taps)
        continuous = _weight_grid(taps) is None
        everyone = np.ones(len(taps), dtype=bool)
        settings = _varied_settings(taps)
        self.rows: list[tuple[str, str, str]] = []
        self.parts: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = []
        for layer in layers:
            active = np.array([layer in chosen for chosen in taps], dtype=bool)
            self.rows.append((layer, f"tap/{layer}", "between"))
            self._add(everyone, _one_hot(active))
            for setting in settings:
                regime = active if setting != "units" else np.array(
                    [layer in chosen and chosen[layer].kind == "head" for chosen in taps],
                    dtype=bool)
                values = [getattr(chosen[layer], setting) for chosen, on in zip(taps, regime)
                          if on]
                self.rows.append((layer, f"{setting}/{layer}", "within"))
                self._add(regime, _kernels(np.log(np.asarray(values, dtype=float)), log_range)
                          if setting == "weight" and continuous else _one_hot(values))

    def _add(self, regime: np.ndarray, mass: np.ndarray | None) -> None:
        """Keeps a hyperparameter; `mass` None: a single value, no divergence."""
        if mass is None or not regime.any():
            self.parts.append((regime, None, None))
            return
        prior = self.prior_weight / mass.shape[1]
        every = (mass.sum(axis=0) + prior) / (len(mass) + self.prior_weight)
        self.parts.append((regime, mass, every))

    def __call__(self, good: np.ndarray) -> np.ndarray:
        """The terms when `good` marks the good configurations, times `(gamma')^2`.

        A term is `alpha^2 / beta` times the Pearson divergence of the good
        configurations' density from everyone's, in the regime (the switch:
        everyone, 1).
        """
        terms = np.zeros(len(self.rows))
        if not len(good) or not good.any():
            return terms
        for i, (regime, mass, every) in enumerate(self.parts):
            top = good[regime]
            if mass is None or not top.any():
                continue
            prior = self.prior_weight / mass.shape[1]
            best = (mass[top].sum(axis=0) + prior) / (top.sum() + self.prior_weight)
            alpha, beta = top.sum() / good.sum(), regime.mean()
            terms[i] = alpha**2 / beta * float(every @ (best / every - 1) ** 2)
        return terms * good.mean() ** 2


def _one_hot(values: Sequence | np.ndarray) -> np.ndarray | None:
    """Each value as a row over the categories; `None` for fewer than two."""
    categories, codes = np.unique(np.asarray(values), return_inverse=True)
    if len(categories) < 2:
        return None
    return np.eye(len(categories))[codes]


def _kernels(x: np.ndarray, log_range: tuple[float, float]) -> np.ndarray | None:
    """Each log-weight as a Gaussian kernel over a grid (Scott's bandwidth); `None` if flat."""
    low, high = log_range
    if high <= low or not len(x):
        return None
    grid = np.linspace(low, high, STEPS)
    # One bandwidth for both densities (Scott's rule on all the regime's points,
    # at least a grid step), so they differ only by where their points lie.
    spread = x.std(ddof=1) if len(x) > 1 else high - low
    width = max(spread * len(x) ** -0.2, (high - low) / STEPS)
    kernels = np.exp(-0.5 * ((grid[None, :] - x[:, None]) / width) ** 2)
    return kernels / kernels.sum(axis=1, keepdims=True)


def _varied_settings(taps: list[dict[str, AuxLoss]]) -> list[str]:
    """The settings some trials differ in: the weight always; kinds, schedules, widths if varied."""
    losses = [loss for chosen in taps for loss in chosen.values()]
    varied = {"weight": True,
              "kind": len({loss.kind for loss in losses}) > 1,
              "schedule": len({loss.schedule for loss in losses}) > 1,
              "units": len({loss.units for loss in losses if loss.kind == "head"}) > 1}
    return [setting for setting in SETTINGS if varied[setting]]


def _weight_grid(taps: list[dict[str, AuxLoss]]) -> list[float] | None:
    """The weights, if the trials drew them from a few values (a grid); else `None`."""
    weights = [loss.weight for chosen in taps for loss in chosen.values()]
    values = sorted(set(weights))
    return values if len(values) <= GRID_VALUES and len(weights) >= 2 * len(values) else None


def _log_range(taps: list[dict[str, AuxLoss]]) -> tuple[float, float]:
    logs = [math.log(loss.weight) for chosen in taps for loss in chosen.values()
            if loss.weight > 0]
    return (min(logs), max(logs)) if logs else (0.0, 0.0)
