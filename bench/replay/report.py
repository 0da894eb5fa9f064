"""What the replays say: one row per table, strategy and budget; a plot; a markdown table.

Columns of `bench/replay.csv`:

- `table, strategy, budget_epochs, replays`;
- `p_within_eps`: the share of replays whose pick's true score (its mean
  over the table's seeds at the full budget) is within epsilon of the
  table's best, epsilon being the table's noise (the median over its
  configurations of the seed-to-seed standard deviation at the full budget);
- `median_regret, q1_regret, q3_regret`: the pick's distance from the best;
- `kt_p_within_at_spent`: Keras Tuner's Hyperband at equal epochs spent:
  on each of the same replays, the share whose `kt-hyperband` incumbent is
  within epsilon after as many epochs as this row's replay spent (read from
  its anytime curve, which it searches out to `REACH` default searches, so
  that it covers what every strategy spends, a race included);
  `budget_epochs` stays the nominal budget;
- `p_vs_kt`: a two-sided Wilcoxon signed-rank test of the regrets against
  `kt-hyperband`'s on the same replays at equal epochs spent (its
  incumbent's regret after as many epochs as each replay spent; HPOBench's
  test: p > 0.05 reads "not worse"; empty for `kt-hyperband` itself; 1 where
  every pair is equal);
- `epochs_to_p90`: from the anytime curves of the largest budget's replays
  (`kt-hyperband`'s: its reach), the fewest epochs after which
  `p_within_eps` is at least 0.9; empty if it never is. The same on every
  row of a strategy;
- `epochs_spent`: the mean epochs a replay trained (a strategy may stop
  short of its budget, or, like `auxsearch`, race and train the baseline's
  extra seeds after its search);
- `p_select`: the share of replays whose pick is within epsilon of the best
  true score among the configurations the search trained to the full budget
  (picking right among what was seen: a race's job); empty for a strategy
  that trains none to the full budget;
- `select_gain_heldout`: the pick checked on seeds that did not choose it:
  on the table's seeds its race did not train on, the mean lead of its
  score over the mean configuration the search trained to the full budget
  (> 0: it picks better than chance among them; `p_select`'s truth shares
  the race's seeds, this does not); empty without a race;
- `epochs_confirmed`: the mean epochs to a confirmed answer, the pipeline's:
  the search, its race and noise floor, and a sequential `confirm` at its
  default seed limit (`core.verdicts.SEEDS`) of those left in the race (at
  most 3, as `confirm` takes by default; simulated on the table's seed
  noise: see `confirm`);
  `epochs_confirmed_today`: today's pipeline on the same search
  (no race, the noise floor, the fixed 20 trainings of `confirm --top 3
  --seeds 5`); `rank1_confirmed_better`: the share of replays whose rank 1
  the confirmation calls better than the baseline; empty for strategies
  without a leaderboard;
- `type_one`: the sequential confirmation's rate of "better" verdicts when
  every configuration equals the baseline, simulated on the table's
  baseline noise (the same on every row of a table).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats

from bench.replay.confirm import type_one
from bench.replay.replay import (
    ANYTIME,
    EXAMPLES,
    REACH,
    REFERENCE,
    SEEDS,
    Replayed,
    _table,
    anytime,
    regret_at,
)
from bench.replay.strategies import hyperband_epochs

COLUMNS = ["table", "strategy", "budget_epochs", "replays", "p_within_eps", "median_regret",
           "q1_regret", "q3_regret", "kt_p_within_at_spent", "p_vs_kt", "epochs_to_p90",
           "epochs_spent", "p_select", "select_gain_heldout", "epochs_confirmed",
           "epochs_confirmed_today", "rank1_confirmed_better", "type_one"]


def summarise(replayed: Sequence[Replayed]) -> pd.DataFrame:
    """One row per table, strategy and budget (see the module's docstring)."""
    groups: dict[tuple[str, str, int], list[Replayed]] = {}
    for one in replayed:
        groups.setdefault((one.job.table, one.job.strategy, one.job.multiple), []).append(one)
    rows = []
    type_one_by_table: dict[str, float] = {}
    for (path, strategy, multiple), ones in groups.items():
        if multiple == REACH and strategy == REFERENCE:
            continue  # the reference's reach: read at equal spending, not a row
        table = _table(path)
        if path not in type_one_by_table:
            examples = table.meta.get("examples", {}).get("test", EXAMPLES)
            type_one_by_table[path] = type_one(table, examples, SEEDS)
        ones = sorted(ones, key=lambda o: o.job.replay)
        regrets = np.array([o.regret for o in ones])
        kt_regrets = _reference_at_spent(groups, path, ones, table)
        p_vs_kt = None
        if kt_regrets is not None and strategy != REFERENCE:
            p_vs_kt = _wilcoxon(regrets, kt_regrets)
        rows.append({
            "table": table.name, "strategy": strategy,
            "budget_epochs": multiple * hyperband_epochs(table), "replays": len(ones),
            "p_within_eps": float(np.mean(regrets <= table.epsilon + 1e-12)),
            "median_regret": float(np.median(regrets)),
            "q1_regret": float(np.quantile(regrets, 0.25)),
            "q3_regret": float(np.quantile(regrets, 0.75)),
            "kt_p_within_at_spent": (None if kt_regrets is None else
                                     float(np.mean(kt_regrets <= table.epsilon + 1e-12))),
            "p_vs_kt": p_vs_kt,
            "epochs_to_p90": _epochs_to_p90(
                groups.get((path, strategy, REACH)) or groups.get((path, strategy, ANYTIME)),
                table),
            "epochs_spent": float(np.mean([o.spent for o in ones])),
            "p_select": _share_within([o.select_regret for o in ones], table.epsilon),
            "select_gain_heldout": _mean([o.heldout_gain for o in ones]),
            "epochs_confirmed": _mean([o.confirmed for o in ones]),
            "epochs_confirmed_today": _mean([o.today for o in ones]),
            "rank1_confirmed_better": (float(np.mean([o.verdict == "better" for o in ones]))
                                       if any(o.verdict for o in ones) else None),
            "type_one": type_one_by_table[path],
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def _reference_at_spent(groups: dict[tuple[str, str, int], list[Replayed]], path: str,
                        ones: Sequence[Replayed], table) -> np.ndarray | None:
    """Keras Tuner's regret on the same replays, each after as many epochs as it spent.

    None without the reference's anytime curves (`REACH`, or at least `ANYTIME`).
    """
    reference = groups.get((path, REFERENCE, REACH)) or groups.get((path, REFERENCE, ANYTIME))
    if not reference:
        return None
    by_replay = {o.job.replay: o for o in reference}
    worst = float(table.regret(np.arange(len(table.configs))).max())
    if any(o.job.replay not in by_replay for o in ones):
        return None
    return np.array([regret_at(by_replay[o.job.replay], o.spent, worst) for o in ones])


def _mean(values: Sequence[float]) -> float | None:
    known = [v for v in values if not np.isnan(v)]
    return float(np.mean(known)) if known else None


def _share_within(regrets: Sequence[float], epsilon: float) -> float | None:
    known = np.array([r for r in regrets if not np.isnan(r)])
    return float(np.mean(known <= epsilon + 1e-12)) if len(known) else None


def _wilcoxon(a: np.ndarray, b: np.ndarray) -> float:
    if np.allclose(a, b):
        return 1.0
    return float(scipy.stats.wilcoxon(a, b, zero_method="zsplit").pvalue)


def _epochs_to_p90(ones: Sequence[Replayed] | None, table) -> int | None:
    if not ones:
        return None
    until = max(spent for one in ones for spent, _ in one.curve)
    epochs, within, _ = anytime(ones, table.epsilon, until)
    reached = np.flatnonzero(within >= 0.9)
    return int(epochs[reached[0]]) if len(reached) else None


def plot(replayed: Sequence[Replayed], out: Path) -> Path:
    """Draws each table's median regret against the epochs spent (largest budget)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves: dict[str, dict[str, list[Replayed]]] = {}
    for one in replayed:
        if one.job.multiple == ANYTIME:  # the reference's reach apart: every strategy alike
            curves.setdefault(one.job.table, {}).setdefault(one.job.strategy, []).append(one)
    fig, axes = plt.subplots(1, max(1, len(curves)), figsize=(6 * max(1, len(curves)), 4),
                             squeeze=False)
    for ax, (path, strategies) in zip(axes[0], curves.items()):
        table = _table(path)
        until = ANYTIME * hyperband_epochs(table)
        for strategy, ones in strategies.items():
            epochs, _, median = anytime(ones, table.epsilon, until)
            ax.step(epochs, np.where(np.isinf(median), np.nan, median), where="post",
                    label=strategy)
        ax.axhline(table.epsilon, color="grey", linestyle=":", label="epsilon (seed noise)")
        ax.set(title=f"{table.name}: median regret of the incumbent", xlabel="epochs spent",
               ylabel=f"regret ({table.meta['objective']})", xscale="log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def markdown(frame: pd.DataFrame) -> str:
    """The summary as a markdown table (for docs/)."""
    def cell(value: object, digits: int = 3) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float):
            return f"{value:.{digits}g}" if abs(value) < 1 else f"{value:.0f}"
        return str(value)

    head = ["table", "strategy", "budget", "p_within_eps", "median regret [q1, q3]",
            "kt at equal epochs", "p_vs_kt", "epochs_to_p90", "epochs spent", "p_select",
            "epochs to confirmed (today)", "rank 1 confirmed better"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in frame.itertuples():
        lines.append("| " + " | ".join([
            row.table, row.strategy, str(row.budget_epochs), f"{row.p_within_eps:.2f}",
            f"{row.median_regret:.4f} [{row.q1_regret:.4f}, {row.q3_regret:.4f}]",
            cell(row.kt_p_within_at_spent, 2), cell(row.p_vs_kt), cell(row.epochs_to_p90),
            f"{row.epochs_spent:.0f}", cell(row.p_select, 2),
            "" if _missing(row.epochs_confirmed) else
            f"{row.epochs_confirmed:.0f} ({row.epochs_confirmed_today:.0f})",
            cell(row.rank1_confirmed_better, 2)]) + " |")
    return "\n".join(lines) + "\n"


def targets(frame: pd.DataFrame, tables: Sequence, strategy: str = "auxsearch") -> str:
    """Issue 26's targets for a strategy, per table and budget, as a markdown table.

    `p_select` >= 0.9; `p_within_eps` at most 0.03 below Keras Tuner's at
    equal epochs spent; where the best configuration's true gain over the
    baseline exceeds 2 epsilon, 0.9 reached in <= 0.5x Keras Tuner's epochs.
    """
    by_name = {table.name: table for table in tables}
    head = ["table", "gain / eps", "budget", "p_select (>= 0.9)", "p_within_eps",
            "kt at equal epochs", "difference (>= -0.03)", "epochs to 0.9: this / kt"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in frame[frame["strategy"] == strategy].itertuples():
        table = by_name[row.table]
        gain = float(table.regret(table.baseline)) / table.epsilon
        kt = frame[(frame["table"] == row.table) & (frame["strategy"] == REFERENCE)]
        kt_p90 = kt["epochs_to_p90"].iloc[0] if len(kt) else None
        mine, theirs = ("never" if _missing(v) else f"{v:.0f}" for v in (row.epochs_to_p90,
                                                                           kt_p90))
        difference = (None if _missing(row.kt_p_within_at_spent)
                      else row.p_within_eps - row.kt_p_within_at_spent)
        lines.append("| " + " | ".join([
            row.table, f"{gain:.2f}", str(row.budget_epochs),
            "" if _missing(row.p_select) else f"{row.p_select:.2f}",
            f"{row.p_within_eps:.2f}",
            "" if difference is None else f"{row.kt_p_within_at_spent:.2f}",
            "" if difference is None else f"{difference:+.2f}",
            f"{mine} / {theirs}" + ("" if gain > 2 else " (gain <= 2 eps: no target)")])
            + " |")
    return "\n".join(lines) + "\n"

