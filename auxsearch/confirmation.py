"""Confirmation: the best configurations retrained on several seeds, tested.

Hyperband's scores are short-budget validation scores of one seed, on the
split the search selected on: the winners' are biased upwards. `confirm`
retrains the top configurations and the no-tap baseline from scratch at the
full epoch budget, with several seeds, and scores them on the test split
that the search never saw. Its table is the number to quote.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Callable

import keras
import pandas as pd

from auxsearch.errors import AuxSearchError
from auxsearch.files import atomic_open
from auxsearch.hypermodel import MAIN, TASKS, AuxLossHyperModel
from auxsearch.leaderboards import leaderboard, row_values
from auxsearch.search import Search, open_run

logger = logging.getLogger(__name__)

FILENAME = "confirmed.csv"
ALPHA = 0.05  # the significance level of Welch's t-test against the baseline


def confirm(
    run_dir: str | Path,
    top: int = 3,
    seeds: int = 3,
    on_score: Callable[[str, int, float], None] | None = None,
) -> pd.DataFrame:
    """Retrains the top configurations and the baseline; writes `confirmed.csv`.

    Each configuration is trained from fresh weights for `max_epochs` epochs
    on the training split, once per seed, and its main output's accuracy is
    measured on the test split (the search's objective metric). Per configuration the table holds the mean,
    the standard deviation, a 95% t-interval of the mean, the difference
    from the baseline's mean and the p-value of Welch's t-test against the
    baseline's scores (`significant`: p < 0.05).

    Args:
        run_dir: A run directory of `auxsearch run`.
        top: Integer, how many of the best configurations that reached the
            full budget to confirm (the baseline is always added).
        seeds: Integer, trainings per configuration (at least 2 for an
            interval and a test).
        on_score: Called with `(config, seed, score)` after each training.

    Returns:
        The table of `confirmed.csv`, best mean first.

    Raises:
        AuxSearchError: If the run has no test split, no baseline, or
            `top`/`seeds` are below 1.
    """
    if top < 1 or seeds < 1:
        raise AuxSearchError(f"--top and --seeds must be >= 1; got {top} and {seeds}")
    search = open_run(run_dir)
    data = search.data
    if not len(data.y_test):
        raise AuxSearchError(
            f"{search.space.path}: data.test_fraction is 0, so there is no test split "
            "to confirm on"
        )
    board = leaderboard(search.run_dir, search.hypermodel.objective)
    done = board[(board["status"] == "COMPLETED") & board["full_budget"]]
    baseline = done[done["n_taps"] == 0]
    if baseline.empty:
        raise AuxSearchError(
            f"{search.run_dir}: the baseline has not completed its full budget yet"
        )
    rows = pd.concat([done[done["n_taps"] > 0].head(top), baseline])
    metric = "test_" + search.hypermodel.objective.name.removeprefix("val_")
    scores = {
        row["config"]: [_train_and_test(search, row_values(row), seed, on_score, row["config"])
                        for seed in range(seeds)]
        for _, row in rows.iterrows()
    }
    table = _summarise(rows, scores, baseline.iloc[0]["config"], metric)
    with atomic_open(search.run_dir / FILENAME) as stream:
        table.to_csv(stream, index=False)
    return table


def _train_and_test(search: Search, values: dict, seed: int,
                    on_score: Callable | None, config: str) -> float:
    hypermodel: AuxLossHyperModel = search.hypermodel
    hp = hypermodel.hyperparameters(values)
    # A seed of its own for each repetition, none equal to the search's.
    hypermodel.seed = search.space.seed + 1000 * (seed + 1)
    data = search.data
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, data.x_train, data.labels("train"),
                   epochs=search.space.hyperband.max_epochs, verbose=0)
    # The test split has only the main labels: score the main output alone.
    main = keras.Model(model.inputs, model.outputs[model.output_names.index(MAIN)])
    _, loss, metric, _ = TASKS[hypermodel.task]
    main.compile(loss=loss, metrics=[metric])
    results = main.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0,
                            return_dict=True)
    score = float(results[hypermodel.objective.name.removeprefix(f"val_{MAIN}_")])
    logger.info("confirm %s seed %d: %.4f", config, seed, score)
    if on_score:
        on_score(config, seed, score)
    return score


def _summarise(rows: pd.DataFrame, scores: dict[str, list[float]], baseline: str,
               metric: str) -> pd.DataFrame:
    from scipy import stats

    reference = scores[baseline]
    table = []
    for _, row in rows.iterrows():
        values = scores[row["config"]]
        n = len(values)
        mean = sum(values) / n
        std = float(pd.Series(values).std()) if n > 1 else math.nan
        half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n) if n > 1 else math.nan
        p_value = math.nan
        if row["config"] != baseline and n > 1 and len(reference) > 1:
            p_value = float(stats.ttest_ind(values, reference, equal_var=False).pvalue)
        table.append({
            "config": row["config"],
            "taps": row["taps"],
            "n_taps": row["n_taps"],
            "baseline": row["config"] == baseline,
            "seeds": n,
            "metric": metric,
            "mean": mean,
            "std": std,
            "ci_low": mean - half,
            "ci_high": mean + half,
            "delta_vs_baseline": mean - sum(reference) / len(reference),
            "p_value": p_value,
            "significant": bool(p_value < ALPHA) if not math.isnan(p_value) else False,
            "scores": ";".join(f"{v:.4f}" for v in values),
        })
    return (pd.DataFrame(table).sort_values("mean", ascending=False, kind="stable")
            .reset_index(drop=True))
