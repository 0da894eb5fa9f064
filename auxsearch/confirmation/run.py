"""Confirmation: the best configurations retrained on paired seeds, tested as they train.

Hyperband's scores are short-budget validation scores of one seed, on the
split the search selected on: the winners' are biased upwards. `confirm`
retrains the top configurations and the no-tap baseline from scratch at the
full epoch budget, seed by seed (a seed fixes the batch order and the
initial weights of the user's model, so each configuration's results pair
with the baseline's), scores every test example the search never saw, and
after every seed from the second on tests each configuration against the
baseline (`sequential`): a configuration stops as soon as a boundary
settles its verdict, the baseline as soon as none is left. Its verdict
lines are the numbers to quote.

Each finished training's per-example scores are kept in the run directory
(`store`): a confirm killed midway, run again with the same settings, trains
only what it lacks and reaches the same verdicts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import keras
import numpy as np
import pandas as pd

from auxsearch.confirmation import stats
from auxsearch.confirmation.decisions import decisions
from auxsearch.confirmation.sequential import (
    Design,
    SequentialTest,
    check_margin,
    check_seeds,
    default_margin,
    look_statistics,
)
from auxsearch.confirmation.store import ScoreStore, split_fingerprint
from auxsearch.core import names, rules, verdicts
from auxsearch.core.atomic import atomic_open
from auxsearch.core.errors import AuxSearchError
from auxsearch.core.rundir import RunPath
from auxsearch.core.tasks import METRIC_RANGES
from auxsearch.packing.policy import resolve_pack
from auxsearch.results.rows import baseline_rows, finished, row_values, tapped_rows
from auxsearch.results.tables import saved_leaderboard
from auxsearch.search.run import Search, open_run
from auxsearch.trial.dense import per_example_scores
from auxsearch.trial.routing import VALIDATION_BATCH, main_labels
from auxsearch.trial.trainer import PackedTrial

logger = logging.getLogger(__name__)

ALPHA = stats.ALPHA
TOP = 3  # configurations confirmed besides the baseline, at most, by default
SEEDS = verdicts.SEEDS  # the default upper limit of seeds per configuration (one source)


def confirm(
    run_dir: RunPath,
    top: int | None = None,
    seeds: int = SEEDS,
    on_score: Callable[[str, int, float], None] | None = None,
    pack: int | str | None = None,
    margin: float | None = None,
) -> pd.DataFrame:
    """Retrains the top configurations and the baseline seed by seed; writes `confirmed.csv`.

    Each configuration is trained from fresh weights for `max_epochs` epochs
    on the training split, once per seed, with the same seeds for every
    configuration (`AuxLossHyperModel.seeded(..., paired=True)`), and each
    test example's score (correct or not; for MAE its absolute error) is
    kept. After each seed from the second on, the configurations still
    undecided are tested against the baseline's first seeds (the look test,
    Lan–DeMets O'Brien–Fleming-type boundaries, Holm with recycling over
    the configurations, equivalence within `margin`: see `sequential`); a
    decided configuration trains no more, and the baseline trains while any
    configuration does. The search's HyperModel is left as it was.

    Args:
        run_dir: A run directory of a search (a path or a `RunDir`).
        top: Integer, how many of the best configurations that reached the
            full budget to confirm (the baseline is always added). Default:
            those still in the race at its end (at most `TOP`), the race
            having shown the others worse than its leader; without a race,
            `TOP`.
        seeds: Integer >= 2, the most seeds a configuration trains on.
        on_score: Called with `(config, seed, score)` after each training.
        pack: Integer, how many of a seed's trainings train at once in one
            packed model (see `packing`), or "auto"; default: the space's
            `training.pack`. Packed or not, each training is the same.
        margin: A difference within ±margin counts as equivalent (stops a
            configuration early); default: 1 point of a bounded metric's
            range (0.01 for accuracy), else 1% of the baseline's mean at the
            first look.

    Returns:
        The table of `confirmed.csv`, best mean first; its `line` column is
        the verdict a person reads; `attrs["design"]` says the design in a
        line. `seeds` lists each configuration's seeds, `n_seeds` counts them.
        `attrs["kept"]` counts the trainings read back from an earlier confirm
        (an interrupted one) with the same settings instead of trained.

    Raises:
        SpaceError: If `top` is below 1, `seeds` below 2, or `margin` not > 0.
        RunDirError: If `run_dir` is not a run directory of a search.
        AuxSearchError: If the run has no test split, no baseline or no
            tapped configuration at the full budget yet.
    """
    if top is not None:
        rules.check("top", top, key="top")
    check_seeds(seeds)
    margin = check_margin(margin)
    search = open_run(run_dir)
    # tf.data's seeded shuffles also read the global seed, which `run` sets to the
    # space's for its search and race: so a paired seed trains here as it did there.
    keras.utils.set_random_seed(search.space.seed)
    data = search.data
    if not len(data.y_test):
        raise AuxSearchError(
            f"{search.space.path}: data.test_fraction is 0, so there is no test split "
            "to confirm on"
        )
    objective = search.hypermodel.objective
    board = saved_leaderboard(search.run_dir, objective)
    done = finished(board)
    baseline = baseline_rows(done)
    if baseline.empty:
        raise AuxSearchError(
            f"{search.run_dir}: the baseline has not completed its full budget yet"
        )
    tapped = tapped_rows(done)
    if top is None:  # the race's survivors, or the top TOP
        left = tapped["race"].isin(["won", "left"]) if "race" in tapped else tapped["n_taps"] < 0
        top = min(TOP, int(left.sum())) if left.any() else TOP
    tapped = tapped.head(top)
    if tapped.empty:
        raise AuxSearchError(
            f"{search.run_dir}: no tapped configuration has completed its full budget yet, "
            "so there is nothing to confirm"
        )
    rows = pd.concat([tapped, baseline])
    configs, base = list(tapped["config"]), baseline.iloc[0]["config"]
    values = {row["config"]: row_values(row) for _, row in rows.iterrows()}
    metric = names.objective_metric(objective.name)
    low, high = METRIC_RANGES.get(metric, (None, None))
    pack = rules.check("pack", search.space.training.pack if pack is None else pack, key="pack")
    pack = resolve_pack(search.hypermodel.trainer, pack, data.x_train, data.labels("train"), {})
    design = Design(seeds)
    # A training is reused only by a confirm of the same search that would conclude alike.
    store = ScoreStore(search.run_dir.confirm_scores, {
        "run_id": search.run_dir.run_id(), "configs": configs, "baseline": base,
        "seeds": seeds, "margin": margin,
        "test_split": split_fingerprint(data.x_test, data.y_test)})
    per_seed: dict[str, list[np.ndarray]] = {config: [] for config in values}
    test: SequentialTest | None = None
    training, kept = list(configs), 0
    for repetition in range(seeds):
        jobs = [(config, values[config], repetition) for config in training + [base]]
        kept += train_round(search, jobs, pack, per_seed, on_score, store)
        if repetition + 1 < design.looks[0]:
            continue
        if test is None:  # the first look fixes the margin
            if margin is None:
                margin = default_margin(low, high, float(np.mean(per_seed[base])))
            test = design.test(len(configs), margin,
                               None if low is None or high is None else high - low)
        _look(test, configs, per_seed, base)
        training = [config for config, open_ in zip(configs, test.open[0]) if open_]
        if not training:
            break
    assert test is not None  # seeds >= 2 = the first look
    found = dict(zip(configs, decisions(test, design.looks, objective.direction, ALPHA)))
    scores = {config: np.stack(per_seed[config]) for config in values}
    table = stats.summarise(scores, base, objective.direction,
                            _chance(search.hypermodel, data.y_test, metric), low, high,
                            decisions=found)
    about = rows.set_index("config")[["taps", "n_taps"]]
    table.insert(1, "taps", table["config"].map(about["taps"]))
    table.insert(2, "n_taps", table["config"].map(about["n_taps"]))
    table.insert(3, "metric", f"test_{names.MAIN}_{metric}")
    table.insert(5, "seeds", [";".join(str(seed_of(search, r)) for r in range(n))
                              for n in table["n_seeds"]])
    with atomic_open(search.run_dir.confirmed) as stream:
        table.to_csv(stream, index=False)
    table.attrs["design"] = design.describe(len(configs), margin)
    table.attrs["kept"] = kept
    # What the ablation of the winner reuses (`ablation`): the winner is not retrained.
    table.attrs["scores"], table.attrs["margin"] = scores, margin
    logger.info("confirm: %s", table.attrs["design"])
    if kept:
        logger.info("confirm: %d trainings read back from an earlier confirm (%s)", kept,
                    store.folder)
    return table


def train_round(search: Search, jobs: list[tuple[str, dict, int]], pack: int,
                 per_seed: dict[str, list[np.ndarray]],
                 on_score: Callable[[str, int, float], None] | None,
                 store: ScoreStore) -> int:
    """Trains one seed's `(config, values, repetition)`s, `pack` at a time.

    Those the store holds are read instead; each training is stored as it
    ends, before `on_score` hears of it.

    Returns:
        How many were read from the store.
    """
    saved = {config: store.get(config, values, seed_of(search, repetition))
             for config, values, repetition in jobs}  # a configuration once per seed
    for config, per_example in saved.items():
        if per_example is not None:
            per_seed[config].append(per_example)
    jobs = [job for job in jobs if saved[job[0]] is None]
    for start in range(0, len(jobs), pack):
        group = jobs[start:start + pack]
        trained = (_train_packed(search, group) if len(group) > 1 else
                   [_train_and_test(search, group[0][1], group[0][2])])
        for (config, values, repetition), per_example in zip(group, trained):
            store.put(config, values, seed_of(search, repetition), per_example)
            per_seed[config].append(per_example)
            score = float(per_example.mean())
            logger.info("confirm %s seed %d: %.4f", config, repetition, score)
            if on_score:
                on_score(config, repetition, score)
    return sum(per_example is not None for per_example in saved.values())


def _look(test: SequentialTest, configs: list[str], per_seed: dict[str, list[np.ndarray]],
          base: str) -> None:
    """Tests each open configuration's seeds so far against the baseline's first ones."""
    delta, se = np.full((1, len(configs)), np.nan), np.full((1, len(configs)), np.nan)
    df = 1
    for h, config in enumerate(configs):
        if test.open[0, h]:
            mine = np.stack(per_seed[config])
            reference = np.stack(per_seed[base][:len(mine)])
            delta[0, h], se[0, h], df = look_statistics(mine - reference)
    test.look(delta, se, df)


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


def _chance(hypermodel, y: np.ndarray, metric: str) -> float | None:
    """The chance score on the scale of `_per_example`'s mean.

    Per position, a constant prediction of the majority class scored image
    by image (its per-image mean IoU is not the dataset-level one); else the
    task's `chance_score`.
    """
    assembly = hypermodel.trainer.assembly
    if not (hypermodel.task.positions and metric in ("mean_iou", "accuracy")):
        return hypermodel.task.chance_score(y, metric, assembly.ignore_label)
    y = np.asarray(main_labels(y))
    counted = y if assembly.ignore_label is None else y[y != assembly.ignore_label]
    if not counted.size:
        return None
    constant = np.zeros((*y.shape, max(assembly.units, 2)))
    constant[..., np.bincount(counted.astype(int).ravel()).argmax()] = 1.0
    if assembly.units == 1:  # one probability: 1.0 for class 1, 0.0 for class 0
        constant = constant[..., 1:]
    return float(np.nanmean(per_example_scores(y, constant, metric, False,
                                               assembly.ignore_label)))


def _per_example(hypermodel, y: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Each test example's score by the objective's metric (its mean is the metric).

    Accuracy: 1 if correct, else 0; MAE: the absolute error, averaged over
    the outputs; the loss: the example's loss. A logits output is scored as
    its probabilities would be. Per position (segmentation), each image's
    (sequence's) own mean IoU over the classes in its labels or prediction,
    or its per-position accuracy, ignored positions left out (see
    `dense.per_example_scores`); an image with every position ignored has no
    score and is left out (of every configuration alike: it depends on the
    labels only). The mean of these is not the leaderboard's dataset-level
    mean IoU.
    """
    metric = names.objective_metric(hypermodel.objective.name)
    assembly = hypermodel.trainer.assembly
    y = np.asarray(y)
    predictions = np.asarray(predictions, dtype="float64")
    if hypermodel.task.positions and metric in ("mean_iou", "accuracy"):
        scores = per_example_scores(y, predictions, metric, assembly.logits,
                                    assembly.ignore_label)
        return scores[~np.isnan(scores)]
    if metric == "accuracy" and assembly.units > 1:
        return (predictions.argmax(axis=-1) == y).astype("float64")
    if metric == "accuracy":  # binary: a probability above 0.5, a logit above 0
        threshold = 0.0 if assembly.logits else 0.5
        return ((predictions[:, 0] > threshold) == (y > 0.5)).astype("float64")
    if metric == "mae":
        return np.abs(predictions - y.reshape(len(y), -1)).mean(axis=-1)
    loss = keras.losses.get(assembly.main_loss())  # per example, unreduced
    losses = loss.call(y, predictions) if isinstance(loss, keras.losses.Loss) else loss(
        y, predictions)
    losses = keras.ops.convert_to_numpy(losses).astype("float64")
    return losses.reshape(len(y), -1).mean(axis=-1)  # per position: the example's mean
