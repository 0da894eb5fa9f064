"""Group-sequential boundaries: Lan–DeMets alpha spending of O'Brien–Fleming type.

A confirmation looks at its comparisons after every seed, k = min_seeds ..
max_seeds. Testing each look at alpha would inflate the error; a spending
function says how much of alpha may be spent by information fraction t = k /
max_seeds, and the nominal level of each look is what makes the probability
of a first crossing there, under the null, the increment it may spend.

The spending function is Lan & DeMets' (1983) O'Brien–Fleming type, each
side spending alpha/2 (the convention of gsDesign's `sfLDOF` and rpact's
`asOF` for a two-sided symmetric design): it spends almost nothing at the
first looks, so only a clear effect stops early, and the last look keeps
most of alpha.

Two sets of levels:

- `critical_values`, for a statistic of known variance: the looks' Z behave
  as a Brownian motion in t (corr(Z_i, Z_j) = sqrt(t_i / t_j): each seed
  adds independent information), and the crossing probabilities are
  integrated exactly by the recursion of Armitage, McPherson and Rowe (1969;
  Jennison & Turnbull 2000, ch. 19) on a grid. These are the textbook values.
- `t_levels`, what the confirmation uses: its look statistic is a t on k - 1
  degrees of freedom (the seeds' variance is estimated from the seeds so
  far), whose looks are less correlated than Z's, so the textbook levels
  applied to its p-values (Jennison & Turnbull's "significance level
  approach") spend up to a fifth more than alpha at 2 to 10 seeds. The
  levels are calibrated on the t statistics of normal per-seed differences
  by a deterministic simulation (2^19 paths, a fixed seed; the first look
  exact); with many seeds they become the textbook ones.

Both are cached.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import integrate, optimize, special, stats

_POINTS = 401  # grid points per look: crossing probabilities to about 1e-9
_PATHS = 1 << 19  # simulated paths of t statistics: the total spent to about 3e-4
_PATHS_SEED = 20  # their random seed: the levels are deterministic
_Z_MAX = 40.0  # no critical value is larger (a probability below 1e-300)


def spent(fraction: float | np.ndarray, alpha: float) -> np.ndarray:
    """The two-sided alpha spent by information fraction `fraction` (0 to 1).

    Each side spends alpha/2 by Lan–DeMets' O'Brien–Fleming-type function
    a(t) = 2 - 2 Phi(z_{a/2} / sqrt(t)) with a = alpha/2; the two together
    spend alpha at t = 1.
    """
    t = np.asarray(fraction, dtype=float)
    z = stats.norm.isf(alpha / 4)
    with np.errstate(divide="ignore"):
        return 4 * stats.norm.sf(z / np.sqrt(t))


def critical_values(fractions: tuple[float, ...], alpha: float) -> np.ndarray:
    """The two-sided critical values |Z| >= c_i of looks at `fractions`.

    Args:
        fractions: Information fractions of the looks, increasing, the last
            at most 1.
        alpha: The two-sided family-wise level the looks spend together.

    Returns:
        One critical value per look: the null probability of a first
        crossing at look i is spent(t_i) - spent(t_{i-1}).

    Raises:
        ValueError: If the fractions are not increasing in (0, 1] or alpha
            is not in (0, 1).
    """
    return np.array(_critical_values(tuple(float(t) for t in fractions), float(alpha)))


@lru_cache(maxsize=256)
def _critical_values(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    t = np.asarray(fractions)
    if not 0 < alpha < 1 or not t.size or t[0] <= 0 or t[-1] > 1 + 1e-12 or np.any(
            np.diff(t) <= 0):
        raise ValueError(f"looks need increasing fractions in (0, 1] and alpha in (0, 1); "
                         f"got {fractions} and {alpha}")
    increments = np.diff(spent(t, alpha), prepend=0.0)
    values = [float(stats.norm.isf(increments[0] / 2)) if increments[0] > 0 else _Z_MAX]
    # The sub-density of S = Z sqrt(t) among paths that have not crossed yet.
    grid = np.linspace(-1, 1, _POINTS) * values[0] * np.sqrt(t[0])
    density = stats.norm.pdf(grid, scale=np.sqrt(t[0]))
    for i in range(1, t.size):
        step = np.sqrt(t[i] - t[i - 1])
        args = (np.sqrt(t[i]), step, grid, density, increments[i])
        if increments[i] <= 0 or _excess(_Z_MAX, *args) >= 0:
            c = _Z_MAX
        else:
            c = optimize.brentq(_excess, 1e-6, _Z_MAX, args=args, xtol=1e-12, rtol=1e-12)
        values.append(float(c))
        new_grid = np.linspace(-1, 1, _POINTS) * c * np.sqrt(t[i])
        kernel = np.exp(-0.5 * ((new_grid[:, None] - grid[None, :]) / step) ** 2) / (
            step * np.sqrt(2 * np.pi))
        density = integrate.simpson(kernel * density[None, :], x=grid, axis=1)
        grid = new_grid
    return tuple(values)


def _excess(c: float, root_t: float, step: float, grid: np.ndarray, density: np.ndarray,
            target: float) -> float:
    """The probability of a first crossing of |Z| >= c at a look, less `target`.

    `grid` and `density` are the sub-density of S = Z sqrt(t) at the look
    before, among paths that had not crossed; `step` the standard deviation
    of S's increment; `root_t` the square root of this look's fraction.
    """
    edge = c * root_t
    tails = special.ndtr((-edge - grid) / step) + special.ndtr((grid - edge) / step)
    return float(integrate.simpson(density * tails, x=grid)) - target


def t_levels(looks: tuple[int, ...], max_seeds: int, alpha: float) -> np.ndarray:
    """The two-sided nominal levels of a t statistic on k - 1 degrees of freedom.

    Args:
        looks: The seeds k at each look, increasing, each >= 2.
        max_seeds: The most seeds (information fraction k / max_seeds).
        alpha: The two-sided level the looks spend together.

    Returns:
        One level per look: a look rejects when its t test's p is at or
        below it; the first crossings of the t statistics of normal per-seed
        differences spend the Lan–DeMets increments.

    Raises:
        ValueError: If the looks are not increasing from 2 to at most
            max_seeds, or alpha is not in (0, 1).
    """
    return np.array(_t_levels(tuple(int(k) for k in looks), int(max_seeds), float(alpha)))


@lru_cache(maxsize=256)
def _t_levels(looks: tuple[int, ...], max_seeds: int, alpha: float) -> tuple[float, ...]:
    k = np.asarray(looks)
    if not k.size or k[0] < 2 or k[-1] > max_seeds or np.any(np.diff(k) <= 0):
        raise ValueError(f"looks need increasing seeds from 2 to max_seeds ({max_seeds}); "
                         f"got {looks}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}")
    increments = np.diff(spent(k / max_seeds, alpha), prepend=0.0)
    statistics = _t_paths(looks)
    alive = np.ones(len(statistics), dtype=bool)
    levels = []
    for i, seeds in enumerate(looks):
        if i == 0:  # exact: nothing has crossed before
            c = float(stats.t.isf(increments[0] / 2, seeds - 1))
        else:
            survivors = statistics[alive, i]
            crossing = int(round(increments[i] * len(statistics)))
            c = (math.inf if crossing <= 0 else
                 float(np.partition(survivors, len(survivors) - crossing)[-crossing]))
        levels.append(float(2 * stats.t.sf(c, seeds - 1)))
        alive &= statistics[:, i] < c
    return tuple(levels)


@lru_cache(maxsize=4)
def _t_paths(looks: tuple[int, ...]) -> np.ndarray:
    """|t| at each look of `_PATHS` paths of standard normal per-seed values.

    Between looks a block of m seeds adds its mean, N(0, 1/m), and its sum
    of squares about that mean, chi-squared on m - 1: the sufficient
    statistics, drawn without drawing the seeds, and pooled as Chan et al.
    (1979) pool variances (no cancellation).
    """
    rng = np.random.default_rng(_PATHS_SEED)
    mean = np.zeros(_PATHS, dtype=np.float32)
    squares = np.zeros(_PATHS, dtype=np.float32)  # the sum of squares about the mean
    out = np.empty((_PATHS, len(looks)), dtype=np.float32)
    before = 0
    for i, seeds in enumerate(looks):
        block = seeds - before
        block_mean = rng.standard_normal(_PATHS, dtype=np.float32) / np.float32(
            math.sqrt(block))
        if block > 1:  # chi-squared on m - 1 is twice a gamma of shape (m - 1) / 2
            squares += 2 * rng.standard_gamma((block - 1) / 2, _PATHS, dtype=np.float32)
        step = block_mean - mean
        squares += step * step * np.float32(before * block / seeds)
        mean += step * np.float32(block / seeds)
        out[:, i] = np.abs(mean) / np.sqrt(squares / np.float32((seeds - 1) * seeds))
        before = seeds
    return out
