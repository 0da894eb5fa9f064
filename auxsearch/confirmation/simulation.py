"""The type-I error of the sequential confirmation, by simulation.

Every configuration is drawn equal to the baseline in distribution, paired
by seed, and the whole design runs on the draws: the looks, Holm with
recycling, the equivalence stops. The rate of "better" verdicts is the
type-I error a user risks. The simulation runs the same test as `confirm`
(`sequential.look_statistics`, closed form: no bootstrap to approximate),
on many confirmations at once, so 1000 confirmations of 3 configurations
take about a second.

The noise model, for a 0/1 score per test example (accuracy): on each seed
each training (a configuration's or the baseline's) has an accuracy drawn
around `mean` with the seeds' spread `spread` (correlated by `correlation`
between the trainings of one seed: pairing), and gets example e right when
sqrt(agreement) z_e + sqrt(1 - agreement) eta < Phi^-1(accuracy), z_e the
example's difficulty (the same for every training: the trainings agree on
which examples are hard) and eta the training's own noise. A benchmark
feeds it the spread and the number of examples its tables show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from auxsearch.confirmation.sequential import (
    ALPHA,
    FUTILITY,
    MIN_SEEDS,
    Design,
    look_statistics,
)
from auxsearch.core import rules

_CHUNK = 4_000_000  # scores drawn at once (memory, not results)


@dataclass(frozen=True)
class NullRates:
    """What the design did when nothing differs from the baseline.

    Attributes:
        better: The share of confirmations that called any configuration
            better (the type-I error of a "better" claim).
        claims: The share that called any configuration better or worse.
        equivalent: The share of configurations that stopped as equivalent.
        trainings: The mean trainings a confirmation spent, the baseline's included.
        most: The most it could spend: (configurations + 1) x max_seeds.
        simulations: How many confirmations were simulated.
    """

    better: float
    claims: float
    equivalent: float
    trainings: float
    most: int
    simulations: int

    @property
    def error(self) -> float:
        """The Monte Carlo standard error of `better` (at least that of 1 in
        `simulations`, so a rate of 0 is not taken as exact)."""
        rate = max(self.better, 1 / self.simulations)
        return math.sqrt(rate * (1 - rate) / self.simulations)


def null_scores(rng: np.random.Generator, simulations: int, trainings: int, seeds: int,
                examples: int, mean: float, spread: float, correlation: float = 0.0,
                agreement: float = 0.8) -> np.ndarray:
    """Per-example 0/1 scores (simulations, trainings, seeds, examples), all
    trainings equal in distribution (see the module's noise model)."""
    cov = np.full((trainings, trainings), correlation) + (1 - correlation) * np.eye(trainings)
    shift = rng.multivariate_normal(np.zeros(trainings), cov, size=(simulations, seeds))
    accuracy = np.clip(mean + spread * shift.transpose(0, 2, 1), 1e-3, 1 - 1e-3)
    threshold = special.ndtri(accuracy).astype(np.float32)[..., None]
    difficulty = rng.standard_normal((simulations, 1, 1, examples), dtype=np.float32)
    noise = rng.standard_normal((simulations, trainings, seeds, examples), dtype=np.float32)
    latent = math.sqrt(agreement) * difficulty + math.sqrt(1 - agreement) * noise
    return (latent < threshold).astype(np.float32)


def type_one_error(spread: float, examples: int, configurations: int = 3, max_seeds: int = 5,
                   min_seeds: int = MIN_SEEDS, mean: float = 0.9, correlation: float = 0.0,
                   agreement: float = 0.8, margin: float | None = 0.01,
                   simulations: int = 1000, alpha: float = ALPHA, seed: int = 0,
                   futility: float | None = FUTILITY) -> NullRates:
    """Simulates the sequential confirmation when no configuration differs.

    Args:
        spread: The standard deviation of one training's score over seeds
            (e.g. the baseline's spread over its seeds).
        examples: The test examples each training is scored on.
        configurations: K, the configurations compared with the baseline.
        max_seeds: The most seeds (`--seeds`).
        min_seeds: The seeds of the first look.
        mean: The mean score (accuracy) of every training.
        correlation: The correlation of two trainings' scores on one seed
            (the pairing; 0: a seed's noise does not cancel in differences).
        agreement: How much the trainings agree on which examples are hard,
            in [0, 1).
        margin: The equivalence margin; None: no equivalence stops.
        futility: The conditional power below which a comparison stops as
            futile (`Design.futility`); None: no futility stops.
        simulations: How many confirmations to simulate.
        alpha: The design's family-wise level.
        seed: The random seed of the draws.

    Returns:
        The rates (`NullRates`); `better` should stay at or below alpha / 2
        (claims at or below alpha) within Monte Carlo error.

    Raises:
        SpaceError: If a setting is out of range.
    """
    for key, value, ok, text in (
            ("spread", spread, spread >= 0, ">= 0"),
            ("examples", examples, examples >= 1, ">= 1"),
            ("configurations", configurations, configurations >= 1, ">= 1"),
            ("mean", mean, 0 < mean < 1, "in (0, 1)"),
            ("correlation", correlation, 0 <= correlation <= 1, "in [0, 1]"),
            ("agreement", agreement, 0 <= agreement < 1, "in [0, 1)"),
            ("simulations", simulations, simulations >= 1, ">= 1")):
        if not ok:
            rules.fail(key, text, value, "type_one_error")
    design = Design(max_seeds, min_seeds, alpha, futility)
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK // ((configurations + 1) * max_seeds * examples))
    better = claims = equivalent = trainings = 0.0
    for start in range(0, simulations, chunk):
        batch = min(chunk, simulations - start)
        scores = null_scores(rng, batch, configurations + 1, max_seeds, examples, mean, spread,
                             correlation, agreement)
        differences = scores[:, :configurations] - scores[:, configurations:]
        test = design.test(configurations, margin, span=1.0, batch=batch)
        for k in design.looks:
            test.look(*look_statistics(differences[:, :, :k]))
            if test.done:
                break
        looks = np.asarray(design.looks)
        seeds = looks[test.stopped]  # (batch, K) seeds each configuration trained on
        better += np.count_nonzero((test.rejected & (test.sign > 0)).any(axis=1))
        claims += np.count_nonzero(test.rejected.any(axis=1))
        equivalent += np.count_nonzero(test.equivalent)
        trainings += float(seeds.sum() + seeds.max(axis=1).sum())
    return NullRates(float(better / simulations), float(claims / simulations),
                     float(equivalent / (simulations * configurations)),
                     float(trainings / simulations), (configurations + 1) * max_seeds,
                     simulations)
