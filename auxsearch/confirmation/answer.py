"""The answer block: what to use, how much it helps, which taps are needed, what it cost.

Read from the run directory's files only (`confirmed.csv`, `ablation.csv`,
`trials.csv`, `race.csv`, `baseline_seeds.csv`, `space.toml`), so that `run
--confirm` and `show` print the same block from one source, and a committed
run prints it without retraining. It imports no Keras.

The epochs of each phase: the search's, the sum of its trials' `epochs`;
the race's, its trainings (`race.csv`, the baseline's noise floor among
them; `baseline_seeds.csv` without a race) at the full budget; confirm's,
every configuration's seeds at the full budget; the ablation's, every
variant's seeds, and the winner's beyond those confirm gave it.
"""

from __future__ import annotations

import pandas as pd

from auxsearch.core.rundir import RunDir, RunPath
from auxsearch.core.space import load_space
from auxsearch.core.verdicts import BETTER, NEEDED, NOT_NEEDED

PHASES = ("search", "race", "confirm", "ablation")
_BASELINE, _SMALLEST = "baseline", "smallest"  # `ablation.COLUMNS`' variant words


def _read(path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype={"config": str, "seeds": str, "tap": str}, keep_default_na=False,
                       na_values=[""])


def _count(seeds) -> int:
    return 0 if pd.isna(seeds) or seeds == "" else len(str(seeds).split(";"))


def phase_epochs(run_dir: RunPath) -> dict[str, int]:
    """The epochs each phase trained, by `PHASES` (0 for a phase that did not run)."""
    run_dir = RunDir(run_dir)
    full = load_space(run_dir.space).hyperband.max_epochs
    trials = _read(run_dir.trials)
    search = 0 if trials is None else int(pd.to_numeric(trials["epochs"], errors="coerce")
                                          .fillna(0).sum())
    race = _read(run_dir.race)
    race = race if race is not None and len(race) else _read(run_dir.baseline_seeds)
    confirmed, ablation = _read(run_dir.confirmed), _read(run_dir.ablation)
    confirm = 0 if confirmed is None else int(confirmed["n_seeds"].sum())
    ablated = 0
    if ablation is not None and len(ablation):
        trained = ablation[ablation["variant"] != _BASELINE]
        counts = [_count(s) for s in trained["seeds"]]
        winner = str(ablation["config"].iloc[0])
        have = 0 if confirmed is None else int(
            confirmed.set_index("config")["n_seeds"].get(winner, 0))
        ablated = sum(counts) + max(0, max(counts, default=0) - have)
    return {"search": search, "race": full * (0 if race is None else len(race)),
            "confirm": full * confirm, "ablation": full * ablated}


def tap_line(row: pd.Series) -> str:
    """One ablation row for people: the tap, the verdict, the difference [interval]."""
    numbers = f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]"
    seeds = _count(row["seeds"])
    what = {"without": "without it", "x3": "at 3x its weight", "x1/3": "at 1/3 its weight",
            _BASELINE: "without it (the baseline, by confirm)",
            _SMALLEST: "the smallest configuration"}.get(row["variant"], row["variant"])
    return (f"{row['tap']} {what}: {row['verdict']}, the winner minus it {numbers} after "
            f"{seeds} seeds")


def answer(run_dir: RunPath) -> list[str] | None:
    """The answer block's lines (three to six; one where nothing beats the baseline),
    or None where the run has no confirmation."""
    run_dir = RunDir(run_dir)
    confirmed = _read(run_dir.confirmed)
    if confirmed is None or confirmed.empty:
        return None
    epochs = phase_epochs(run_dir)
    spent = "epochs: " + ", ".join(f"{phase} {epochs[phase]}" for phase in PHASES)
    better = confirmed[confirmed["verdict"] == BETTER]
    if better.empty:
        nothing = "answer: nothing beats the baseline on the test split; keep the model without "
        return [nothing + f"taps ({spent})"]
    winner = better.iloc[0]
    ablation = _read(run_dir.ablation)
    if ablation is not None and (ablation.empty or ablation["config"].iloc[0] != winner["config"]):
        ablation = None  # another confirmation's
    use, lines = winner["taps"], []
    if ablation is not None:
        smallest = ablation[ablation["variant"] == _SMALLEST]
        dropped = ablation[(ablation["variant"] == "without")
                           & (ablation["verdict"] == NOT_NEEDED)]
        if len(smallest) and smallest["verdict"].iloc[0] == NOT_NEEDED:
            use = smallest["tap"].iloc[0]
            lines.append(f"{use} alone is as good as {winner['taps']}")
        elif len(smallest) == 0 and len(dropped) == 1 and len(ablation[
                ablation["variant"] == "without"]) >= 2:
            gone = dropped["tap"].iloc[0]
            use = ";".join(t for t in str(winner["taps"]).split(";") if t != gone)
            lines.append(f"{use} alone is as good as {winner['taps']}")
    gain = (f"gain on the test split: {winner['delta_vs_baseline']:+.3f} "
            f"[{winner['delta_low']:+.3f}, {winner['delta_high']:+.3f}] over the baseline "
            f"({winner['metric']}, config {winner['config']}, better after "
            f"{int(winner['n_seeds'])} seeds)")
    head = [f"answer: use {use} (config {winner['config']}"
            + (", without its not-needed taps)" if use != winner["taps"] else ")"), gain]
    if ablation is None:
        taps = "taps: not ablated (confirm --no-ablation); which are needed is not known"
    else:
        per_tap = ablation[ablation["variant"].isin(["without", _BASELINE])]
        taps = "taps: " + "; ".join(
            f"{row.tap} {row.verdict}"
            + (f" ({row.difference:+.3f} [{row.low:+.3f}, {row.high:+.3f}] without it)"
               if row.verdict == NEEDED else "")
            for row in per_tap.itertuples())
    return head + lines + [taps, spent]
