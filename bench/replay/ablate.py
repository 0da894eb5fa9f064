"""`ablate`: does the ablation of a winner find which of its taps matter? Checked on tables.

Each replay runs the default pipeline on a table: a default search with its
race (the `auxsearch` strategy at one default search's budget), the
sequential confirmation of what the race left (simulated, `confirm`), and
the ablation of the race's winner, whatever the confirmation said (so that
every table judges taps: digits_cnn's winners are never confirmed better).

The ablation is simulated as the confirmation is: each seed is a table seed
drawn with replacement, the same for the winner and every variant (paired),
a training's accuracy is its recorded full-budget score on that seed, and
its per-example outcomes on the table's test examples are drawn around it
(`confirmation.simulation.outcomes`, the trainings agreeing on which
examples are hard). The decisions are the product's: the same
`confirmation.noninferiority.AblationTest`, at confirm's seed limit and its
default margin. A one-tap winner's variant is the baseline (the product
reads that comparison from `confirm` instead). Where two taps or more are
not needed, the smallest configuration (the winner without them) is tested
too, as the product does; it counts in the epochs, not in the verdicts.

A table holds every sub-configuration of a winner on its weight grid, so a
tap's true effect is known: the winner's true score (its mean over the
table's seeds) minus the variant's, on the metric's better side. The grid
cannot replay `--weights` (3x and 1/3 of a weight are off it), which is
left out. Against epsilon (the table's noise, as `replay` defines it):

- `accuracy`: the share of judged taps whose true effect is beyond epsilon
  that get the right verdict: "needed" where removing it costs more than
  epsilon, "not needed" where removing it gains more than epsilon;
- `false_needed`: the share of judged taps whose true |effect| is under
  epsilon / 2 that are called "needed";
- `epochs`: the ablation's mean epochs per replay: every variant's
  trainings and the winner's on every seed the ablation looked at (an
  upper bound: the product reuses the winner's confirm seeds).

The table's seeds are few (3 to 5), resampled up to the seed limit: the
ablation's power here is on those seeds' spread, and its truth shares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from auxsearch.confirmation.noninferiority import AblationDesign
from auxsearch.confirmation.sequential import default_margin, look_statistics
from auxsearch.confirmation.simulation import outcomes
from auxsearch.core import names
from auxsearch.core.tapspace import active_taps
from auxsearch.core.tasks import METRIC_RANGES
from auxsearch.core.verdicts import NEEDED, NOT_NEEDED, SEEDS
from bench.replay.confirm import AGREEMENT, TOP, confirm_trainings
from bench.replay.replay import EXAMPLES, pool_map
from bench.replay.strategies import STRATEGIES, hyperband_epochs, tap_space
from bench.replay.table import Table, load_table

COLUMNS = ["table", "replays", "taps_judged", "accuracy", "false_needed", "epochs"]
DETAIL = ["table", "replay", "winner", "tap", "effect", "verdict", "seeds"]


@lru_cache(maxsize=8)
def _table(path: str) -> Table:
    return load_table(path)


def _index(table: Table) -> dict[str, int]:
    """Each configuration's id by its key (a set of taps)."""
    space = tap_space(table)
    return {space.key(values): i for i, values in enumerate(table.configs)}


def variants_of(table: Table, winner: int) -> tuple[list[str], list[int]]:
    """The winner's taps (layers) and, per tap, the table's configuration without it."""
    space = tap_space(table)
    index = _index(table)
    taps = active_taps(table.configs[winner])
    found = []
    for layer in taps:
        rest = [loss for other, loss in taps.items() if other != layer]
        found.append(index[space.key(space.values_of(rest))])
    return list(taps), found


def simulate(table: Table, winner: int, variants: list[int], max_seeds: int, margin: float,
             examples: int, rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """One simulated ablation of `winner` against `variants`; verdicts and seeds each."""
    seeds = rng.integers(len(table.meta["seeds"]), size=max_seeds)
    rows = np.array([winner] + variants)
    accuracy = table.final[rows[:, None], seeds[None, :]]  # (K + 1, seeds)
    scores = outcomes(rng, accuracy[None], examples, AGREEMENT)[0]
    sign = 1.0 if table.maximize else -1.0
    differences = sign * (scores[:1] - scores[1:])  # (K, seeds, examples)
    design = AblationDesign(max_seeds)
    test = design.test(len(variants), margin, span=1.0)
    for k in design.looks:
        test.look(*look_statistics(differences[None, :, :k]))
        if test.done:
            break
    looks = np.asarray(design.looks)
    return [str(v) for v in test.verdicts()[0]], [int(s) for s in looks[test.stopped[0]]]


def ablate_replay(path: str, replay: int, max_seeds: int = SEEDS) -> tuple[list[dict], int]:
    """One replay of the pipeline on a table: each judged tap's row, and the epochs spent."""
    table = _table(path)
    [outcome] = STRATEGIES["auxsearch"](table, [hyperband_epochs(table)], replay)
    winner = outcome.choice
    if winner == table.baseline:
        return [], 0
    low, high = METRIC_RANGES.get(names.objective_metric(table.meta["objective"]),
                                  (None, None))
    margin = default_margin(low, high, float(table.truth[table.baseline]))
    examples = table.meta.get("examples", {}).get("test", EXAMPLES)
    rng = np.random.default_rng([replay, 27])
    top = (outcome.survivors or [c for c in outcome.ranked if c != table.baseline])[:TOP]
    confirm_trainings(table, top, max_seeds, True, examples, rng)  # its draws come first
    layers, variants = variants_of(table, winner)
    verdicts, seeds = simulate(table, winner, variants, max_seeds, margin, examples, rng)
    trainings = sum(seeds) + max(seeds)
    sign = 1.0 if table.maximize else -1.0
    rows = [{"table": table.name, "replay": replay, "winner": table.meta["configs"][winner][
        "taps"], "tap": layer, "effect": sign * float(table.truth[winner] - table.truth[v]),
        "verdict": verdict, "seeds": s}
        for layer, v, verdict, s in zip(layers, variants, verdicts, seeds)]
    dropped = [layer for layer, verdict in zip(layers, verdicts) if verdict == NOT_NEEDED]
    if len(dropped) >= 2 and len(dropped) < len(layers):  # the smallest, as the product tests it
        space, taps = tap_space(table), active_taps(table.configs[winner])
        smallest = _index(table)[space.key(space.values_of(
            [loss for layer, loss in taps.items() if layer not in dropped]))]
        _, more = simulate(table, winner, [smallest], max_seeds, margin, examples, rng)
        trainings += more[0] + max(0, more[0] - max(seeds))
    return rows, trainings * table.max_epochs


def _work(job: tuple[str, int, int]) -> tuple[list[dict], int]:
    return ablate_replay(*job)


def summarise(detail: pd.DataFrame, epochs: dict[str, list[int]],
              epsilon: dict[str, float]) -> pd.DataFrame:
    """One row per table: taps judged, accuracy, false_needed, mean ablation epochs."""
    out = []
    for name, spent in epochs.items():
        rows = detail[detail["table"] == name] if len(detail) else detail
        eps = epsilon[name]
        beyond = rows[rows["effect"].abs() > eps] if len(rows) else rows
        right = ((beyond["effect"] > 0) & (beyond["verdict"] == NEEDED)) | (
            (beyond["effect"] < 0) & (beyond["verdict"] == NOT_NEEDED)) if len(beyond) else []
        small = rows[rows["effect"].abs() < eps / 2] if len(rows) else rows
        out.append({"table": name, "replays": len(spent), "taps_judged": len(rows),
                    "accuracy": float(np.mean(right)) if len(beyond) else float("nan"),
                    "false_needed": float(np.mean(small["verdict"] == NEEDED)) if len(small)
                    else float("nan"),
                    "epochs": float(np.mean(spent))})
    return pd.DataFrame(out, columns=COLUMNS)


def ablate_tables(paths: Sequence[str | Path], replays: int = 100,
                  workers: int | None = None, max_seeds: int = SEEDS
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The CSV of `python -m bench.replay ablate` (one row per table), and every judged tap.

    Args:
        paths: Table folders.
        replays: Integer, pipelines replayed per table.
        workers: Processes (default: the CPUs).
        max_seeds: The seed limit of the confirmation and the ablation (`confirm --seeds`).
    """
    jobs = [(str(p), r, max_seeds) for p in paths for r in range(replays)]
    done = pool_map(_work, jobs, workers)
    epochs: dict[str, list[int]] = {}
    epsilon: dict[str, float] = {}
    for (path, _, _), (_, spent) in zip(jobs, done):
        table = _table(path)
        epochs.setdefault(table.name, []).append(spent)
        epsilon[table.name] = table.epsilon
    detail = pd.DataFrame([row for rows, _ in done for row in rows], columns=DETAIL)
    return summarise(detail, epochs, epsilon), detail
