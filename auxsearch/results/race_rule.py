"""The race's rule: which configurations drop out, seed after seed.

After the search, the configurations that reached the full budget and the
baseline are trained on more seeds, the same seeds for all (paired: a seed
gives every configuration the same initial weights of the user's model and
the same batch order). After each seed from the second on, every
configuration still in the race is compared with the leader (the best mean
over the seeds so far) by a one-sided paired t-test on its per-seed
differences from the leader, as irace does (F-Race: Birattari et al. 2002;
irace: López-Ibáñez et al. 2016). Those the test calls worse drop out.

The family-wise error of dropping a configuration that is as good as the
leader is kept at `alpha`: Holm's step-down over the comparisons of a look,
each look at `alpha / looks` (Bonferroni over the looks: the race looks
once per seed from the second on). The baseline races as every
configuration does and drops out when the test calls it worse than the
leader; its noise floor does not depend on that, since it trains on its
`baseline_seeds` seeds in any case (`search.race`). The race ends when one
configuration is left, or the seeds are spent.

`replay_race` replays the rule on saved scores (the leaderboard's columns:
`race_table`), and `race_verdict` says in one line whether anything beats
the baseline beyond seed noise. This module is pure (numpy, scipy): the
replay benchmark runs the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.stats

from auxsearch.results.holm import holm

ALPHA = 0.05  # the family-wise error of the drops


def greater_p(differences: np.ndarray) -> float:
    """The one-sided paired t-test's p that per-seed differences are above 0.

    E.g. the leader's per-seed scores minus a configuration's, signed so that
    a positive difference means the configuration is worse. Equal
    differences on every seed have no spread: p is 0 if they are positive,
    else 1.
    """
    d = np.asarray(differences, dtype=float)
    if np.ptp(d) == 0:
        return 0.0 if d[0] > 0 else 1.0
    return float(scipy.stats.ttest_1samp(d, 0.0, alternative="greater").pvalue)


def leader(scores: Mapping[Hashable, Sequence[float]], racing: Sequence[Hashable],
           maximize: bool) -> Hashable:
    """The configuration in the race with the best mean (ties: the first)."""
    sign = 1 if maximize else -1
    return max(racing, key=lambda c: sign * float(np.mean(scores[c])))


def race_look(scores: Mapping[Hashable, Sequence[float]], racing: Sequence[Hashable],
              maximize: bool, looks: int, alpha: float = ALPHA) -> list[Hashable]:
    """Returns the configurations that drop out at this look.

    Args:
        scores: Each configuration's scores on the race's seeds so far, in
            seed order (those in the race have the same number).
        racing: The configurations still in the race.
        maximize: Boolean, whether a higher score is better.
        looks: Integer, how many looks the whole race may have (seeds - 1).
        alpha: The family-wise error of the drops.
    """
    seeds = min(len(scores[c]) for c in racing)
    if seeds < 2 or len(racing) < 2:
        return []
    best = leader(scores, racing, maximize)
    sign = 1 if maximize else -1
    others = [c for c in racing if c != best]
    p = [greater_p(sign * (np.asarray(scores[best][:seeds]) - np.asarray(scores[c][:seeds])))
         for c in others]
    rejected = holm(p) < alpha / max(1, looks)
    return [c for c, out in zip(others, rejected) if out]


def race_over(racing: Sequence[Hashable]) -> bool:
    """Whether the race is decided: one configuration is left."""
    return len(racing) <= 1


@dataclass
class Replayed:
    """The race as its rule ran on some scores.

    Attributes:
        racing: Those still in the race at its end.
        dropped: Per dropped configuration, after how many seeds.
        seeds: The seeds those still in it were compared on at its last look.
    """

    racing: list[Hashable] = field(default_factory=list)
    dropped: dict[Hashable, int] = field(default_factory=dict)
    seeds: int = 0


def run_rule(configs: Sequence[Hashable], race_seeds: int, maximize: bool,
             score: Callable[[Hashable, int], float | None], alpha: float = ALPHA) -> Replayed:
    """Runs a race: each seed, every configuration still in it scores, then a look.

    Args:
        configs: The configurations that start the race.
        race_seeds: Integer, the seeds the race may use.
        maximize: Boolean, whether a higher score is better.
        score: Returns a configuration's score on the i-th seed (0-based),
            training it if need be; it is called in the race's order.
            `None` (not trained: a race read back before its end) stops the
            race there.
        alpha: The family-wise error of the drops.
    """
    racing = list(configs)
    scores: dict[Hashable, list[float]] = {c: [] for c in racing}
    result = Replayed()
    for seed in range(race_seeds):
        values = [score(config, seed) for config in racing]
        if any(v is None for v in values):
            break
        for config, value in zip(racing, values):
            scores[config].append(value)
        result.seeds = seed + 1
        for config in race_look(scores, racing, maximize, race_seeds - 1, alpha):
            result.dropped[config] = seed + 1
            racing.remove(config)
        if race_over(racing):
            break
    result.racing = racing
    return result


def replay_race(scores: Mapping[Hashable, Sequence[float]], race_seeds: int, maximize: bool,
                alpha: float = ALPHA) -> Replayed:
    """Runs the race's rule on saved per-seed scores (in seed order).

    Args:
        scores: Every raced configuration's scores, the first `race_seeds` of
            which are the race's (the baseline may have more: its noise
            floor); a race cut short has fewer, and the replay stops there.
        race_seeds: Integer, the seeds the race may use.
        maximize: Boolean, whether a higher score is better.
        alpha: The family-wise error of the drops.
    """
    return run_rule(list(scores), race_seeds, maximize,
                    lambda c, i: scores[c][i] if i < len(scores[c]) else None, alpha)


def t_interval(values: Sequence[float], low: float | None, high: float | None,
                  level: float = 1 - ALPHA) -> tuple[float, float]:
    """The t-interval of a mean over seeds, clipped to the metric's range.

    With one seed there is no spread: the interval is the metric's range.
    """
    v = np.asarray(values, dtype=float)
    lo, hi = -np.inf, np.inf
    if len(v) > 1:
        half = scipy.stats.t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
        lo, hi = v.mean() - half, v.mean() + half
    return (lo if low is None else max(lo, low)), (hi if high is None else min(hi, high))


def race_table(scores: Mapping[Hashable, Sequence[float]], race_seeds: int, maximize: bool,
               low: float | None, high: float | None) -> pd.DataFrame:
    """Each raced configuration's race: seeds, mean, interval and how it ended.

    Columns: `config, race_seeds` (the seeds it trained on in the race),
    `race_mean`, `race_low`, `race_high` (a t-interval over those seeds,
    inside the metric's range), `race` ("won": the one left, or the best of
    those left when the seeds ran out; "left": left but not best; "dropped
    after k seeds"). A diverged training counts as the value given for it.
    """
    replayed = replay_race(scores, race_seeds, maximize)
    best = leader({c: scores[c][:replayed.seeds] for c in replayed.racing}, replayed.racing,
                  maximize) if replayed.racing else None
    rows = []
    for config, values in scores.items():
        raced = list(values[:race_seeds])
        if config in replayed.dropped:
            raced = raced[:replayed.dropped[config]]
            how = f"dropped after {replayed.dropped[config]} seeds"
        else:
            raced = raced[:replayed.seeds]
            how = "won" if config == best else "left"
        lo, hi = t_interval(raced, low, high)
        rows.append({"config": config, "race_seeds": len(raced),
                     "race_mean": float(np.mean(raced)), "race_low": lo, "race_high": hi,
                     "race": how})
    return pd.DataFrame(rows, columns=["config", "race_seeds", "race_mean", "race_low",
                                       "race_high", "race"])


def race_verdict(scores: Mapping[Hashable, Sequence[float]], baseline: Hashable,
                 race_seeds: int, maximize: bool, names: Mapping[Hashable, str] | None = None,
                 alpha: float = ALPHA) -> str:
    """One line: whether any raced configuration beats the baseline beyond seed noise.

    Each raced configuration against the baseline on the seeds both trained
    on in the race: a one-sided paired t-test, Holm-adjusted over the
    configurations (a quick read: `confirm` tests on held-out data).
    """
    others = [c for c in scores if c != baseline]
    if baseline not in scores or not others:
        return "no race: nothing to compare with the baseline"
    sign = 1 if maximize else -1
    p, deltas, seeds = [], {}, {}
    for c in others:
        n = min(len(scores[c]), len(scores[baseline]), race_seeds)
        d = sign * (np.asarray(scores[c][:n]) - np.asarray(scores[baseline][:n]))
        deltas[c], seeds[c] = float(np.mean(d)) * sign, n
        p.append(greater_p(d) if n > 1 else 1.0)
    better = [c for c, out in zip(others, holm(p) < alpha) if out]
    label = (names or {}).get
    if not better:
        return (f"Nothing beats the baseline beyond seed noise: {len(others)} configurations "
                f"raced on up to {race_seeds} paired seeds (one-sided paired t-tests, Holm, "
                f"alpha {alpha}); `confirm` tests on the test split")
    best = max(better, key=lambda c: sign * deltas[c])
    return (f"{len(better)} of {len(others)} raced configurations beat the baseline beyond "
            f"seed noise; the most, {label(best) or best}, by {deltas[best]:+.4f} on "
            f"{seeds[best]} paired seeds (one-sided paired t-tests, Holm, alpha {alpha})")
