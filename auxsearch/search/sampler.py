"""A model-based sampler of tap configurations: TPE-style densities inside Hyperband.

Keras Tuner's Hyperband draws every new configuration at random. This
sampler draws it from what the search has seen, as BOHB does (Falkner,
Klein and Hutter 2018): the finished trials are split into the good ones
(the best `gamma` share) and the others; each group gets a density `l` (good)
and `g` (others) over configurations, and of `candidates` draws from `l` the
one with the largest `l / g` is proposed. Keras Tuner has no such sampler
(its issues 754 and 856 ask for one).

The densities follow the tap space's structure, not a flat vector:

- **Which taps first.** A configuration is a set of tapped layers: its size
  has a distribution of its own, and given the size, each layer a weight of
  being in the set (a conditional Bernoulli density). The weights and other
  settings of a tap are modelled only from the configurations that have it
  (a weight exists only where its tap is on).
- **A prior on few taps.** Every density is smoothed towards a prior under
  which a configuration of 1-3 taps is as likely as a denser one (half the
  mass on 1-3 taps), the layers equally likely, and the log-weights uniform
  over their range. The `random_fraction` of proposals, and every proposal
  before the model has `min_points` results, are drawn from the prior alone.
- **Staged or joint.** With `staged`, the candidates are ranked by the ratio
  of their tap sets' densities first, and by their weights' and settings'
  only among equal sets; else by the ratio of the whole densities.
- **Budgets.** `pool = "rank"` models every budget's results together, each
  scored by its rank among the results of its budget (a configuration once,
  at its largest budget), so the model is useful from the first round on;
  `pool = "largest"` is BOHB's rule, the largest budget with `min_points`
  results.

Failed trials and trials that learnt nothing rank last. The sampler is
deterministic given its random generator, so a resumed search proposes what
the killed one would have.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auxsearch.core.observations import Observation
from auxsearch.core.tapspace import AuxLoss, TapSpace

# A tap's settings besides its layer and weight: (kind, units, schedule).
Option = tuple[str, int, str]


@dataclass(frozen=True)
class SamplerSettings:
    """How the sampler models and proposes.

    Attributes:
        random_fraction: Float, the share of proposals drawn from the prior.
        gamma: Float, the share of results that count as good.
        candidates: Integer, the draws from the good density per proposal.
        min_points: Integer, results needed before the model is used; 0:
            the number of candidate layers + 1 with `pool = "largest"`
            (BOHB's dimensions + 1), else 4.
        pool: "rank" (every budget, by rank) or "largest" (BOHB's rule).
        prior_weight: Float, the prior's weight in each density, in results.
        bandwidth: Float, the least bandwidth of a log-weight kernel, as a
            share of the log range.
        staged: Boolean, whether the tap sets are ranked before their weights.
    """

    random_fraction: float = 1 / 3
    gamma: float = 0.25
    candidates: int = 64
    min_points: int = 0
    pool: str = "rank"
    prior_weight: float = 1.0
    bandwidth: float = 0.1
    staged: bool = False


class TapSampler:
    """Proposes tap configurations from the results so far.

    Args:
        space: The tap space (continuous weights, or a `weight_grid`).
        maximize: Boolean, whether a higher score is better.
        settings: `SamplerSettings`.
    """

    def __init__(self, space: TapSpace, maximize: bool,
                 settings: SamplerSettings | None = None) -> None:
        self.space = space
        self.maximize = maximize
        self.settings = settings or SamplerSettings()
        self.layers = list(space.layers)
        self.index = {layer: i for i, layer in enumerate(self.layers)}
        self.most = min(space.max_taps or len(self.layers), len(self.layers))
        # Every (kind, units, schedule) a tap can have; `allowed[i, o]`: on layer i.
        self.options: list[Option] = list(dict.fromkeys(
            (kind, units, schedule)
            for layer in self.layers for kind in space.kinds_for(layer)
            for units in (space.head_units if kind == "head" else (0,))
            for schedule in space.schedules))
        self.allowed = np.array([[o[0] in space.kinds_for(layer) for o in self.options]
                                 for layer in self.layers])
        low, high = space.weight_range
        self.log_range = (math.log(low), math.log(high))
        self.grid = np.log(np.array(space.weight_grid)) if space.weight_grid else None
        self.prior = _Density(self, _Configs.empty(len(self.layers)))
        self._rows: dict[int, tuple[Observation, str, _Configs]] = {}

    def propose(self, results: Sequence[Observation], rng: np.random.Generator,
                is_new: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """Returns the values of a new configuration, or `None` if none is found.

        Args:
            results: The finished trials.
            rng: The random generator to draw from.
            is_new: Whether values are a configuration not yet tried.
        """
        data = self._training_data(results)
        if data is None or rng.random() < self.settings.random_fraction:
            return self._first_new(self.prior.sample(100, rng), is_new)
        good, bad = _Density(self, data[0]), _Density(self, data[1])
        draws = good.sample(self.settings.candidates, rng)
        (l_set, l_rest), (g_set, g_rest) = good.log_pdf(draws), bad.log_pdf(draws)
        if self.settings.staged:
            order = np.lexsort((-(l_rest - g_rest), -(l_set - g_set)))
        else:
            order = np.argsort(-(l_set + l_rest - g_set - g_rest), kind="stable")
        found = self._first_new(draws.take(order).unique(), is_new)
        return found or self._first_new(self.prior.sample(100, rng), is_new)

    def _first_new(self, draws: _Configs, is_new: Callable[[dict[str, Any]], bool]
                   ) -> dict[str, Any] | None:
        for losses in draws.losses(self):
            values = self.space.values_of(losses)
            if is_new(values):
                return values
        return None

    def _read(self, observation: Observation) -> tuple[str, _Configs]:
        """An observation's configuration key and its row of arrays, made once.

        Keyed by identity: a search hands the same observations back (see
        `tuner.observations`); the cache keeps each, so an id is never reused.
        """
        found = self._rows.get(id(observation))
        if found is None:
            key = repr(observation.config)
            found = self._rows[id(observation)] = (observation, key,
                                                   _Configs.of([observation.losses], self))
        return found[1], found[2]

    def _training_data(self, results: Sequence[Observation]) -> tuple[_Configs, _Configs] | None:
        """The good and the other configurations, or `None` while too few."""
        settings = self.settings
        tapped = [r for r in results if r.losses]  # the baseline says nothing of taps
        if settings.pool == "largest":
            least = settings.min_points or len(self.layers) + 1
            budgets = sorted({r.budget for r in tapped}, reverse=True)
            chosen = next((b for b in budgets
                           if sum(r.budget == b for r in tapped) >= least), None)
            if chosen is None:
                return None
            pool = [r for r in tapped if r.budget == chosen]
        else:
            least = settings.min_points or 4
            deepest: dict[str, Observation] = {}
            for r in tapped:  # each configuration once, at its largest budget
                key = self._read(r)[0]
                if key not in deepest or r.budget >= deepest[key].budget:
                    deepest[key] = r
            pool = list(deepest.values())
            if len(pool) < least:
                return None
        scores = np.zeros(len(pool))
        for budget in {r.budget for r in pool}:
            members = [i for i, r in enumerate(pool) if r.budget == budget]
            scores[members] = _ranks([pool[i].score for i in members], self.maximize)
        order = np.argsort(-scores, kind="stable")
        n_good = max(1, math.ceil(settings.gamma * len(pool)))
        configs = _Configs.stack([self._read(pool[i])[1] for i in order], len(self.layers))
        return configs.take(np.arange(n_good)), configs.take(np.arange(n_good, len(pool)))


def _ranks(scores: Sequence[float | None], maximize: bool) -> np.ndarray:
    """Each score's share of the others it beats (ties half), in [0, 1]; a failure -1."""
    values = np.array([np.nan if s is None else s for s in scores], dtype=float)
    failed = np.isnan(values)
    signed = np.where(failed, -np.inf, values if maximize else -values)
    # Average ranks, from 0 (scipy's rankdata - 1, without its overhead).
    _, where, counts = np.unique(signed, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts + 1) / 2)[where]
    shares = ranks / max(1, len(values) - 1)
    return np.where(failed, -1.0, shares)


@dataclass
class _Configs:
    """Configurations as arrays: `on[c, i]` taps layer i, with `log_weight[c, i]`
    and `option[c, i]` (an index into `TapSampler.options`)."""

    on: np.ndarray
    log_weight: np.ndarray
    option: np.ndarray

    @classmethod
    def empty(cls, layers: int) -> _Configs:
        return cls(np.zeros((0, layers), bool), np.zeros((0, layers)),
                   np.zeros((0, layers), int))

    @classmethod
    def of(cls, configs: Sequence[Sequence[AuxLoss]], sampler: TapSampler) -> _Configs:
        shape = (len(configs), len(sampler.layers))
        made = cls(np.zeros(shape, bool), np.zeros(shape), np.zeros(shape, int))
        options = {o: k for k, o in enumerate(sampler.options)}
        for c, losses in enumerate(configs):
            for loss in losses:
                i = sampler.index[loss.layer]
                made.on[c, i] = True
                made.log_weight[c, i] = math.log(loss.weight)
                made.option[c, i] = options[(loss.kind, loss.units, loss.schedule)]
        return made

    @classmethod
    def stack(cls, rows: Sequence[_Configs], layers: int) -> _Configs:
        if not rows:
            return cls.empty(layers)
        return cls(np.concatenate([r.on for r in rows]),
                   np.concatenate([r.log_weight for r in rows]),
                   np.concatenate([r.option for r in rows]))

    def unique(self) -> _Configs:
        """The distinct configurations, each at its first place."""
        keys = np.concatenate([self.on, np.where(self.on, self.log_weight, 0.0),
                               np.where(self.on, self.option, -1)], axis=1)
        _, first = np.unique(keys, axis=0, return_index=True)
        return self.take(np.sort(first))

    def take(self, rows: np.ndarray) -> _Configs:
        return _Configs(self.on[rows], self.log_weight[rows], self.option[rows])

    def losses(self, sampler: TapSampler) -> Iterator[list[AuxLoss]]:
        """Yields each configuration's auxiliary losses, in order."""
        grid = sampler.space.weight_grid
        for c in range(len(self.on)):
            taps = []
            for i in np.flatnonzero(self.on[c]):
                kind, units, schedule = sampler.options[self.option[c, i]]
                weight = (grid[int(np.abs(sampler.grid - self.log_weight[c, i]).argmin())]
                          if grid else float(math.exp(self.log_weight[c, i])))
                taps.append(AuxLoss(sampler.layers[i], weight, kind, schedule, units))
            yield taps


def _count_prior(most: int) -> np.ndarray:
    """P(n taps) for n = 0 .. most: 0 for none; half on 1-3, half on more."""
    prior = np.zeros(most + 1)
    few = list(range(1, min(3, most) + 1))
    many = list(range(4, most + 1))
    prior[few] = (0.5 if many else 1.0) / len(few)
    if many:
        prior[many] = 0.5 / len(many)
    return prior


class _Density:
    """A density over configurations fitted to some of them, smoothed by the prior.

    A configuration's density is P(its size) x P(its layers | size) (each
    layer weighted by its odds) x, for each tap, the density of its
    log-weight (a Parzen estimate from the same layer's taps) and of its
    settings (kind, units, schedule; counted over every tap).
    """

    def __init__(self, sampler: TapSampler, configs: _Configs) -> None:
        self.sampler = sampler
        settings = sampler.settings
        layers = len(sampler.layers)
        n = len(configs.on)
        alpha = settings.prior_weight if n else 1.0
        self.alpha = alpha
        prior_sizes = _count_prior(sampler.most)
        counts = np.bincount(np.minimum(configs.on.sum(axis=1), sampler.most),
                             minlength=sampler.most + 1)
        self.sizes = (counts + alpha * prior_sizes) / (n + alpha)
        mean_size = float(np.dot(np.arange(sampler.most + 1), prior_sizes))
        share = (configs.on.sum(axis=0) + alpha * mean_size / layers) / (n + alpha)
        share = np.clip(share, 1e-3, 1 - 1e-3)
        self.log_odds = np.log(share / (1 - share))
        self.suffix = _suffix_sums(np.exp(self.log_odds), sampler.most)
        low, high = sampler.log_range
        self.span = max(high - low, 1e-9)
        self.points = [configs.log_weight[configs.on[:, i], i] for i in range(layers)]
        every = configs.log_weight[configs.on]
        spread = float(every.std()) if len(every) > 1 else self.span
        self.bandwidth = max(settings.bandwidth * self.span,
                             1.06 * spread * max(len(every), 1) ** -0.2)
        # Settings: counted over every tap, smoothed, allowed per layer.
        option_counts = np.bincount(configs.option[configs.on],
                                    minlength=len(sampler.options)).astype(float)
        probs = sampler.allowed * (option_counts + alpha / len(sampler.options))
        self.option_probs = probs / probs.sum(axis=1, keepdims=True)
        if sampler.grid is not None:  # each layer's mass on each grid point
            mass = np.array([self._pdf(i, sampler.grid) for i in range(layers)])
            self.grid_mass = mass / mass.sum(axis=1, keepdims=True)

    def sample(self, count: int, rng: np.random.Generator) -> _Configs:
        """Draws `count` configurations: sizes, then layers, then each tap's settings."""
        sampler = self.sampler
        layers = len(sampler.layers)
        sizes = rng.choice(len(self.sizes), size=count, p=self.sizes / self.sizes.sum())
        on = np.zeros((count, layers), bool)
        left = sizes.copy()
        odds = np.exp(self.log_odds)
        for i in range(layers):  # the conditional Bernoulli draw, layer by layer
            wanted = left > 0
            p = np.zeros(count)
            p[wanted] = (odds[i] * self.suffix[i + 1][left[wanted] - 1]
                         / self.suffix[i][left[wanted]])
            on[:, i] = rng.random(count) < p
            left -= on[:, i]
        log_weight = np.zeros((count, layers))
        option = np.zeros((count, layers), int)
        low, high = sampler.log_range
        for i in range(layers):
            points = self.points[i]
            pick = rng.random(count) * (len(points) + self.alpha)
            from_points = pick < len(points)
            drawn = rng.uniform(low, high, count)
            if len(points):
                near = points[np.minimum(pick.astype(int), len(points) - 1)]
                drawn = np.where(from_points, np.clip(
                    near + rng.normal(size=count) * self.bandwidth, low, high), drawn)
            if sampler.grid is not None:
                drawn = sampler.grid[np.abs(drawn[:, None] - sampler.grid).argmin(axis=1)]
            log_weight[:, i] = drawn
            option[:, i] = rng.choice(len(sampler.options), size=count,
                                      p=self.option_probs[i])
        return _Configs(on, log_weight, option)

    def log_pdf(self, configs: _Configs) -> tuple[np.ndarray, np.ndarray]:
        """Each configuration's log density: of its tap set, and of its taps' settings."""
        sampler = self.sampler
        sizes = np.minimum(configs.on.sum(axis=1), sampler.most)
        taps = (np.log(self.sizes[sizes] + 1e-300) + (configs.on * self.log_odds).sum(axis=1)
                - np.log(self.suffix[0][sizes]))
        rest = np.zeros(len(configs.on))
        for i in range(len(sampler.layers)):
            on = configs.on[:, i]
            if not on.any():
                continue
            values = configs.log_weight[on, i]
            if sampler.grid is not None:
                where = np.abs(values[:, None] - sampler.grid).argmin(axis=1)
                weight = self.grid_mass[i][where]
            else:
                weight = self._pdf(i, values)
            rest[on] += np.log(weight) + np.log(self.option_probs[i][configs.option[on, i]])
        return taps, rest

    def _pdf(self, layer: int, x: np.ndarray) -> np.ndarray:
        """A Parzen density on a layer's log-weights, plus the uniform prior's share."""
        points = self.points[layer]
        kernels = np.exp(-0.5 * ((x[:, None] - points[None, :]) / self.bandwidth) ** 2) / (
            self.bandwidth * math.sqrt(2 * math.pi))
        return (kernels.sum(axis=1) + self.alpha / self.span) / (len(points) + self.alpha)


def _suffix_sums(odds: np.ndarray, most: int) -> np.ndarray:
    """`e[i][k]`: the elementary symmetric sum of degree k of `odds[i:]`."""
    count = len(odds)
    e = np.zeros((count + 1, most + 1))
    e[count][0] = 1.0
    for i in range(count - 1, -1, -1):
        e[i] = e[i + 1]
        e[i][1:] += odds[i] * e[i + 1][:-1]
    return e
