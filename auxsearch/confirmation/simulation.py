"""The type-I error and the power of the sequential confirmation, by simulation.

The configurations and the baseline are drawn, paired by seed, and the
whole design runs on the draws: the looks, Holm with recycling, the
equivalence and futility stops. With every configuration equal to the
baseline in distribution, the rate of "better" verdicts is the type-I error
a user risks; with the first configuration better, its rate of "better" is
the power. The simulation runs the same test as `confirm`
(`sequential.look_statistics`, closed form: no bootstrap to approximate),
on many confirmations at once, so 1000 confirmations of 3 configurations
take about a second.

Two models of the trainings:

- **Normal** (`type_one_error`), for a 0/1 score per test example
  (accuracy): on each seed
each training (a configuration's or the baseline's) has an accuracy drawn
around `mean` with the seeds' spread `spread` (correlated by `correlation`
between the trainings of one seed: pairing), and gets example e right when
sqrt(agreement) z_e + sqrt(1 - agreement) eta < Phi^-1(accuracy), z_e the
example's difficulty (the same for every training: the trainings agree on
which examples are hard) and eta the training's own noise. A benchmark
feeds it the spread and the number of examples its tables show.
- **Train-or-fail** (`train_or_fail`), for a model that learns on some
  seeds and not on others (deep plain CNNs, `results/deep_plain`): each
  training learns on a seed with its own probability; a training that
  learnt has an accuracy drawn around `trained_score` with spread
  `trained_spread` (per example as above), one that failed predicts one
  class for every example (a random class of `classes`, as a collapsed
  network does), so it scores at most the chance level and the
  leaderboard's chance rule (`core.tasks.learnt`) counts it as not
  trained. Equal probabilities give the null; a higher one for the first
  configuration, the power. It also counts the verdicts "not settled"
  (`decisions.unsettled`: stopped with no verdict while the two trained on
  different shares of seeds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from auxsearch.confirmation.sequential import (
    ALPHA,
    FUTILITY,
    FUTILITY_SEEDS,
    MIN_SEEDS,
    Design,
    look_statistics,
)
from auxsearch.core import rules
from auxsearch.core.tasks import learnt

_CHUNK = 4_000_000  # scores drawn at once (memory, not results)


@dataclass(frozen=True)
class NullRates:
    """What the design did over the simulated confirmations.

    Attributes:
        better: The share of confirmations that called any configuration
            better (with nothing to find: the type-I error of a "better" claim).
        claims: The share that called any configuration better or worse.
        equivalent: The share of configurations that stopped as equivalent.
        trainings: The mean trainings a confirmation spent, the baseline's included.
        most: The most it could spend: (configurations + 1) x max_seeds.
        simulations: How many confirmations were simulated.
        power: The share that called the first configuration better (its
            power where it is the better one).
        unsettled: The share that left the first configuration "not
            settled" (no claim while it and the baseline trained on
            different shares of seeds); 0 where no training fails.
    """

    better: float
    claims: float
    equivalent: float
    trainings: float
    most: int
    simulations: int
    power: float = 0.0
    unsettled: float = 0.0

    @property
    def error(self) -> float:
        """The Monte Carlo standard error of `better` (at least that of 1 in
        `simulations`, so a rate of 0 is not taken as exact)."""
        rate = max(self.better, 1 / self.simulations)
        return math.sqrt(rate * (1 - rate) / self.simulations)


def outcomes(rng: np.random.Generator, accuracy: np.ndarray, examples: int,
              agreement: float) -> np.ndarray:
    """0/1 outcomes (..., trainings, seeds, examples) around each training's accuracy
    (simulations first), the examples' difficulty shared by every training."""
    threshold = special.ndtri(np.clip(accuracy, 1e-3, 1 - 1e-3)).astype(np.float32)[..., None]
    difficulty = rng.standard_normal((len(accuracy), 1, 1, examples), dtype=np.float32)
    noise = rng.standard_normal(accuracy.shape + (examples,), dtype=np.float32)
    latent = math.sqrt(agreement) * difficulty + math.sqrt(1 - agreement) * noise
    return (latent < threshold).astype(np.float32)


def null_scores(rng: np.random.Generator, simulations: int, trainings: int, seeds: int,
                examples: int, mean: float, spread: float, correlation: float = 0.0,
                agreement: float = 0.8) -> np.ndarray:
    """Per-example 0/1 scores (simulations, trainings, seeds, examples), all
    trainings equal in distribution (the normal model)."""
    cov = np.full((trainings, trainings), correlation) + (1 - correlation) * np.eye(trainings)
    shift = rng.multivariate_normal(np.zeros(trainings), cov, size=(simulations, seeds))
    accuracy = np.clip(mean + spread * shift.transpose(0, 2, 1), 1e-3, 1 - 1e-3)
    return outcomes(rng, accuracy, examples, agreement)


def train_or_fail_scores(rng: np.random.Generator, simulations: int, trains: np.ndarray,
                         seeds: int, examples: int, trained_score: float,
                         trained_spread: float, classes: int = 10,
                         agreement: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Per-example 0/1 scores (simulations, trainings, seeds, examples) of the
    train-or-fail model, and each simulation's chance score (its majority
    class's share of the examples), shape (simulations,).

    `trains` holds each training's probability of learning on a seed.
    """
    trainings = len(trains)
    shape = (simulations, trainings, seeds)
    accuracy = np.clip(trained_score + trained_spread * rng.standard_normal(shape), 1e-3,
                       1 - 1e-3)
    scores = outcomes(rng, accuracy, examples, agreement)
    labels = rng.integers(classes, size=(simulations, 1, 1, examples))
    guess = rng.integers(classes, size=shape + (1,))  # a collapsed network's one class
    failed = rng.random(shape) >= np.asarray(trains)[:, None]
    scores = np.where(failed[..., None], (labels == guess).astype(np.float32), scores)
    counts = np.stack([np.count_nonzero(labels == c, axis=-1) for c in range(classes)])
    return scores, counts.max(axis=0).reshape(simulations) / examples


def _check(settings: tuple[tuple[str, float, bool, str], ...], where: str) -> None:
    for key, value, ok, text in settings:
        if not ok:
            rules.fail(key, text, value, where)


def _simulate(draw, simulations: int, configurations: int, max_seeds: int, examples: int,
              design: Design, margin: float | None, seed: int) -> NullRates:
    """Runs the design on `draw(rng, batch)`'s (scores, chance or None), chunk by chunk."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK // ((configurations + 1) * max_seeds * examples))
    looks = np.asarray(design.looks)
    totals = np.zeros(6)  # better, claims, equivalent, trainings, power, unsettled
    for start in range(0, simulations, chunk):
        scores, chance = draw(rng, min(chunk, simulations - start))
        batch = len(scores)
        differences = scores[:, :configurations] - scores[:, configurations:]
        test = design.test(configurations, margin, span=1.0, batch=batch)
        for k in design.looks:
            test.look(*look_statistics(differences[:, :, :k]))
            if test.done:
                break
        seeds = looks[test.stopped]  # (batch, K) seeds each configuration trained on
        better = test.rejected & (test.sign > 0)
        unsettled = 0
        if chance is not None:  # trained seeds by the chance rule, up to each one's stop
            so_far = np.cumsum(learnt(scores.mean(axis=-1), chance[:, None, None], "max"),
                               axis=-1)
            mine = np.take_along_axis(so_far[:, :configurations], seeds[..., None] - 1, -1)
            base = np.take_along_axis(np.broadcast_to(so_far[:, configurations:],
                                                      mine.shape[:2] + (max_seeds,)),
                                      seeds[..., None] - 1, -1)
            undecided = ~(test.rejected | test.equivalent)
            unsettled = np.count_nonzero((undecided & (mine != base)[..., 0])[:, 0])
        totals += (np.count_nonzero(better.any(axis=1)),
                   np.count_nonzero(test.rejected.any(axis=1)),
                   np.count_nonzero(test.equivalent), float(seeds.sum() + seeds.max(axis=1).sum()),
                   np.count_nonzero(better[:, 0]), unsettled)
    better, claims, equivalent, trainings, power, unsettled = totals
    return NullRates(float(better / simulations), float(claims / simulations),
                     float(equivalent / (simulations * configurations)),
                     float(trainings / simulations), (configurations + 1) * max_seeds,
                     simulations, float(power / simulations), float(unsettled / simulations))


def type_one_error(spread: float, examples: int, configurations: int = 3, max_seeds: int = 5,
                   min_seeds: int = MIN_SEEDS, mean: float = 0.9, correlation: float = 0.0,
                   agreement: float = 0.8, margin: float | None = 0.01,
                   simulations: int = 1000, alpha: float = ALPHA, seed: int = 0,
                   futility: float | None = FUTILITY,
                   futility_seeds: int = FUTILITY_SEEDS) -> NullRates:
    """Simulates the sequential confirmation when no configuration differs (the normal model).

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
        futility: The predictive power below which a comparison stops as
            futile (`Design.futility`); None: no futility stops.
        futility_seeds: No futility stop before this many seeds.
        simulations: How many confirmations to simulate.
        alpha: The design's family-wise level.
        seed: The random seed of the draws.

    Returns:
        The rates (`NullRates`); `better` should stay at or below alpha / 2
        (claims at or below alpha) within Monte Carlo error.

    Raises:
        SpaceError: If a setting is out of range.
    """
    _check((("spread", spread, spread >= 0, ">= 0"),
            ("examples", examples, examples >= 1, ">= 1"),
            ("configurations", configurations, configurations >= 1, ">= 1"),
            ("mean", mean, 0 < mean < 1, "in (0, 1)"),
            ("correlation", correlation, 0 <= correlation <= 1, "in [0, 1]"),
            ("agreement", agreement, 0 <= agreement < 1, "in [0, 1)"),
            ("simulations", simulations, simulations >= 1, ">= 1")), "type_one_error")
    design = Design(max_seeds, min_seeds, alpha, futility, futility_seeds)

    def draw(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, None]:
        return null_scores(rng, batch, configurations + 1, max_seeds, examples, mean, spread,
                           correlation, agreement), None

    return _simulate(draw, simulations, configurations, max_seeds, examples, design, margin,
                     seed)


def train_or_fail(baseline: float, trains: Sequence[float], examples: int, max_seeds: int,
                  trained_score: float, trained_spread: float, classes: int = 10,
                  min_seeds: int = MIN_SEEDS, agreement: float = 0.8,
                  margin: float | None = 0.01, simulations: int = 1000, alpha: float = ALPHA,
                  seed: int = 0, futility: float | None = FUTILITY,
                  futility_seeds: int = FUTILITY_SEEDS) -> NullRates:
    """Simulates the sequential confirmation of models that learn on some seeds only.

    Args:
        baseline: The baseline's probability of learning on a seed.
        trains: Each configuration's probability of learning on a seed (K of
            them); all equal to `baseline`: the null (read `better`); the
            first higher: read `power`.
        examples: The test examples each training is scored on.
        max_seeds: The most seeds (`--seeds`).
        trained_score: The mean accuracy of a training that learnt.
        trained_spread: Its standard deviation over seeds.
        classes: The classes; a training that failed predicts one of them.
        min_seeds: The seeds of the first look.
        agreement: How much trainings that learnt agree on which examples
            are hard, in [0, 1).
        margin: The equivalence margin; None: no equivalence stops.
        simulations: How many confirmations to simulate.
        alpha: The design's family-wise level.
        seed: The random seed of the draws.
        futility: As in `type_one_error`.
        futility_seeds: As in `type_one_error`.

    Returns:
        The rates (`NullRates`, `power` and `unsettled` included).

    Raises:
        SpaceError: If a setting is out of range.
    """
    every = [baseline, *trains]
    _check((("trains", every, bool(trains) and all(0 <= p <= 1 for p in every),
             "probabilities in [0, 1], at least one configuration's"),
            ("examples", examples, examples >= 1, ">= 1"),
            ("trained_score", trained_score, 0 < trained_score < 1, "in (0, 1)"),
            ("trained_spread", trained_spread, trained_spread >= 0, ">= 0"),
            ("classes", classes, classes >= 2, ">= 2"),
            ("agreement", agreement, 0 <= agreement < 1, "in [0, 1)"),
            ("simulations", simulations, simulations >= 1, ">= 1")), "train_or_fail")
    design = Design(max_seeds, min_seeds, alpha, futility, futility_seeds)
    probabilities = np.asarray([*trains, baseline], dtype=float)

    def draw(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        return train_or_fail_scores(rng, batch, probabilities, max_seeds, examples,
                                    trained_score, trained_spread, classes, agreement)

    return _simulate(draw, simulations, len(trains), max_seeds, examples, design, margin, seed)
