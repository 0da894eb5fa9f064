"""Confirmation: the best configurations retrained on paired seeds, tested.

Hyperband's scores are short-budget validation scores of one seed, on the
split the search selected on: the winners' are biased upwards. `confirm`
retrains the top configurations and the no-tap baseline from scratch at the
full epoch budget with the same S seeds (a seed fixes the batch order and
the initial weights of the user's model, so each configuration's results
pair with the baseline's), scores every test example the search never saw,
and compares each configuration with the baseline (see `stats`). Its verdict
lines are the numbers to quote.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import keras
import numpy as np
import pandas as pd

from auxsearch.confirmation import stats
from auxsearch.core import names, rules
from auxsearch.core.errors import AuxSearchError
from auxsearch.core.files import atomic_open
from auxsearch.core.rundir import RunPath
from auxsearch.core.tasks import METRIC_RANGES
from auxsearch.packing.policy import resolve_pack
from auxsearch.results.rows import row_values
from auxsearch.results.tables import leaderboard
from auxsearch.search.run import Search, open_run
from auxsearch.trial.routing import VALIDATION_BATCH, main_labels
from auxsearch.trial.trainer import PackedTrial

logger = logging.getLogger(__name__)

ALPHA = stats.ALPHA


def confirm(
    run_dir: RunPath,
    top: int = 3,
    seeds: int = 3,
    on_score: Callable[[str, int, float], None] | None = None,
    pack: int | str | None = None,
) -> pd.DataFrame:
    """Retrains the top configurations and the baseline; writes `confirmed.csv`.

    Each configuration is trained from fresh weights for `max_epochs` epochs
    on the training split, once per seed, with the same seeds for every
    configuration (`AuxLossHyperModel.seeded(..., paired=True)`), and each
    test example's score (correct or not; for MAE its absolute error) is
    kept. The search's HyperModel is left as it was. The verdict comes from
    a paired bootstrap over seeds and examples, Holm-adjusted over the
    configurations (see `stats.summarise` for every column and why).

    Args:
        run_dir: A run directory of a search (a path or a `RunDir`).
        top: Integer, how many of the best configurations that reached the
            full budget to confirm (the baseline is always added).
        seeds: Integer, trainings per configuration (5 or more for a
            seed-level test that can reach p < 0.05).
        on_score: Called with `(config, seed, score)` after each training.
        pack: Integer, how many of the trainings train at once in one
            packed model (see `packing`), or "auto"; default: the space's
            `training.pack`. Packed or not, each training is the same.

    Returns:
        The table of `confirmed.csv`, best mean first; its `line` column is
        the verdict a person reads.

    Raises:
        SpaceError: If `top` or `seeds` is below 1.
        RunDirError: If `run_dir` is not a run directory of a search.
        AuxSearchError: If the run has no test split or no baseline yet.
    """
    rules.check("top", top, key="top")
    rules.check("seeds", seeds, key="seeds")
    search = open_run(run_dir)
    data = search.data
    if not len(data.y_test):
        raise AuxSearchError(
            f"{search.space.path}: data.test_fraction is 0, so there is no test split "
            "to confirm on"
        )
    objective = search.hypermodel.objective
    board = leaderboard(search.run_dir, objective)
    done = board[(board["status"] == "COMPLETED") & board["full_budget"]]
    baseline = done[done["n_taps"] == 0]
    if baseline.empty:
        raise AuxSearchError(
            f"{search.run_dir}: the baseline has not completed its full budget yet"
        )
    rows = pd.concat([done[done["n_taps"] > 0].head(top), baseline])
    metric = names.objective_metric(objective.name)
    jobs = [(row["config"], row_values(row), seed)
            for _, row in rows.iterrows() for seed in range(seeds)]
    pack = rules.check("pack", search.space.training.pack if pack is None else pack, key="pack")
    pack = resolve_pack(search.hypermodel.trainer, pack, data.x_train, data.labels("train"), {})
    per_job: dict[tuple[str, int], np.ndarray] = {}
    for start in range(0, len(jobs), pack):
        group = jobs[start:start + pack]
        trained = (_train_packed(search, group) if len(group) > 1 else
                   [_train_and_test(search, group[0][1], group[0][2])])
        for (config, _, seed), per_example in zip(group, trained):
            per_job[config, seed] = per_example
            score = float(per_example.mean())
            logger.info("confirm %s seed %d: %.4f", config, seed, score)
            if on_score:
                on_score(config, seed, score)
    scores = {config: np.stack([per_job[config, seed] for seed in range(seeds)])
              for config in rows["config"]}
    low, high = METRIC_RANGES.get(metric, (None, None))
    table = stats.summarise(scores, baseline.iloc[0]["config"], objective.direction,
                            search.hypermodel.task.chance_score(data.y_test, metric), low, high)
    about = rows.set_index("config")[["taps", "n_taps"]]
    table.insert(1, "taps", table["config"].map(about["taps"]))
    table.insert(2, "n_taps", table["config"].map(about["n_taps"]))
    table.insert(3, "metric", f"test_{names.MAIN}_{metric}")
    with atomic_open(search.rundir.confirmed) as stream:
        table.to_csv(stream, index=False)
    return table


def seed_of(search: Search, repetition: int) -> int:
    """The seed of a confirmation's repetition: the same for every
    configuration (paired), none equal to the search's."""
    return search.space.seed + 1000 * (repetition + 1)


def _train_and_test(search: Search, values: dict, repetition: int) -> np.ndarray:
    """Trains one configuration with one seed; returns its per-example scores."""
    hypermodel = search.hypermodel.seeded(seed_of(search, repetition), paired=True)
    hp = hypermodel.hyperparameters(values)
    data = search.data
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, data.x_train, data.labels("train"),
                   epochs=search.space.hyperband.max_epochs, verbose=0)
    # The test split has only the main labels: score the main output alone.
    predictions = model.predict(data.x_test, batch_size=VALIDATION_BATCH, verbose=0)[names.MAIN]
    return _per_example(hypermodel, main_labels(data.y_test), predictions)


def _train_packed(search: Search, group: list[tuple[str, dict, int]]) -> list[np.ndarray]:
    """Trains `(config, values, repetition)`s at once; returns each one's per-example scores.

    Each starts from the weights and batch order of its repetition's seed,
    as `_train_and_test` trains it (paired).

    Raises:
        keras_tuner.errors.FailedTrialError: If one's loss diverged.
    """
    hypermodel, data = search.hypermodel, search.data
    trials = [PackedTrial(hypermodel.hyperparameters(values), seed_of(search, repetition))
              for _, values, repetition in group]
    results, packed = hypermodel.fit_packed(
        trials, data.x_train, data.labels("train"),
        epochs=search.space.hyperband.max_epochs, pack=len(group))
    for result in results:
        if isinstance(result, Exception):
            raise result
    predictions = packed.model.predict(packed.inputs(data.x_test), batch_size=VALIDATION_BATCH,
                                        verbose=0)
    return [_per_example(hypermodel, main_labels(data.y_test),
                         predictions[names.packed_output(i, names.MAIN)])
            for i in range(len(group))]


def _per_example(hypermodel, y: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Each test example's score by the objective's metric (its mean is the metric).

    Accuracy: 1 if correct, else 0; MAE: the absolute error, averaged over
    the outputs; the loss: the example's loss. A logits output is scored as
    its probabilities would be.
    """
    metric = names.objective_metric(hypermodel.objective.name)
    assembly = hypermodel.trainer.assembly
    y = np.asarray(y)
    predictions = np.asarray(predictions, dtype="float64")
    if metric == "accuracy" and hypermodel.task.name == "multiclass":
        return (predictions.argmax(axis=-1) == y).astype("float64")
    if metric == "accuracy":  # binary: a probability above 0.5, a logit above 0
        threshold = 0.0 if assembly.logits else 0.5
        return ((predictions[:, 0] > threshold) == (y > 0.5)).astype("float64")
    if metric == "mae":
        return np.abs(predictions - y.reshape(len(y), -1)).mean(axis=-1)
    loss = keras.losses.get(assembly.main_loss())  # per example, unreduced
    losses = loss.call(y, predictions) if isinstance(loss, keras.losses.Loss) else loss(
        y, predictions)
    return keras.ops.convert_to_numpy(losses).astype("float64")
