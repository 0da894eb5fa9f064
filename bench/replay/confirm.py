"""The confirmation after a replayed search, simulated on the table's seed noise.

`confirm --top 3 --seeds S` retrains the leaderboard's top 3 and the
baseline on the test split. A table has validation curves, not test
examples, so a confirmation is simulated: on each of its seeds (a table
seed, drawn with replacement, the same for every configuration: paired),
a configuration's accuracy is its recorded full-budget score on that seed,
and its per-example outcomes on `examples` test examples are drawn around it
with `confirmation.simulation`'s noise model (the trainings agree on which
examples are hard). Then the design runs on them: today's fixed design (one
look at S seeds, Holm) or the sequential one (a look after every seed,
stopping when settled), by the same test `confirm` runs.

Only accuracy is simulated (a 0/1 score per example).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from auxsearch.confirmation.sequential import Design, look_statistics
from auxsearch.confirmation.simulation import type_one_error
from bench.replay.table import Table

AGREEMENT = 0.8  # how much trainings agree on which examples are hard (the simulation's)
TOP = 3  # configurations confirmed besides the baseline (confirm's default)


def per_example(accuracy: np.ndarray, examples: int, rng: np.random.Generator) -> np.ndarray:
    """0/1 outcomes (trainings, seeds, examples) around each training's accuracy."""
    threshold = special.ndtri(np.clip(accuracy, 1e-3, 1 - 1e-3))[..., None]
    difficulty = rng.standard_normal((1, 1, examples))
    noise = rng.standard_normal(accuracy.shape + (examples,))
    latent = math.sqrt(AGREEMENT) * difficulty + math.sqrt(1 - AGREEMENT) * noise
    return (latent < threshold).astype(np.float64)


def confirm_trainings(table: Table, configs: list[int], max_seeds: int, sequential: bool,
                      examples: int, rng: np.random.Generator) -> tuple[int, list[str]]:
    """Simulates `confirm` of `configs` against the baseline; its trainings and verdicts.

    Args:
        table: The table.
        configs: The configurations confirmed (the baseline apart), best first.
        max_seeds: `--seeds`: the most seeds each trains.
        sequential: Whether the sequential design runs (else one look at the end).
        examples: Test examples per training.
        rng: The replay's generator.

    Returns:
        The trainings spent (the baseline's included) and each configuration's
        verdict ("better", "worse", "equivalent", "no detectable difference").
    """
    if not configs:
        return 0, []
    seeds = rng.integers(len(table.meta["seeds"]), size=max_seeds)
    rows = configs + [table.baseline]
    accuracy = table.final[np.array(rows)][:, seeds]
    scores = per_example(accuracy, examples, rng)
    differences = scores[:-1] - scores[-1:]  # (K, seeds, examples)
    design = Design(max_seeds, max_seeds if not sequential else min(2, max_seeds))
    test = design.test(len(configs), 0.01 if sequential else None, span=1.0)
    for k in design.looks:
        test.look(*[np.asarray(a)[None] for a in look_statistics(differences[:, :k])])
        if test.done:
            break
    looks = np.asarray(design.looks)
    trained = looks[test.stopped[0]]
    verdicts = []
    for i in range(len(configs)):
        if test.rejected[0, i]:
            verdicts.append("better" if test.sign[0, i] > 0 else "worse")
        elif test.equivalent[0, i]:
            verdicts.append("equivalent")
        else:
            verdicts.append("no detectable difference")
    return int(trained.sum() + trained.max()), verdicts


def type_one(table: Table, examples: int, max_seeds: int = 5) -> float:
    """The sequential design's rate of "better" when every configuration equals the baseline.

    Simulated on the table's noise: the baseline's mean and its seed-to-seed
    spread at the full budget.
    """
    final = table.final[table.baseline]
    mean = float(np.clip(final.mean(), 0.02, 0.98))
    rates = type_one_error(float(final.std(ddof=1)), examples, TOP, max_seeds, mean=mean,
                           simulations=4000)
    return rates.better
