"""The commands on a finished run directory: `show`, `export`, `confirm` (with its ablation
and the answer block), `export-model`, `plot`, `explain`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from auxsearch.core import rules
from auxsearch.core.rundir import RunDir

if TYPE_CHECKING:
    import pandas as pd


def show_command(args: argparse.Namespace) -> int:
    """Prints a run's leaderboard as a table, and what failed or was flagged."""
    from auxsearch.cli.leaderboard import print_flags, print_noise, summary
    from auxsearch.results.rows import finished
    from auxsearch.results.tables import saved_leaderboard

    rules.check("shown", args.top, key="--top")
    board = saved_leaderboard(_run_dir(args.run_dir))
    print(f"{args.run_dir}: {len(board)} configurations, "
          f"{len(finished(board))} trained for the full budget; "
          f"by {board['objective'].iloc[0] if len(board) else 'score'}")
    print(summary(board, args.top))
    print_noise(args.run_dir, board)
    failed = board[board["status"] != "COMPLETED"]
    for row in failed.itertuples():
        print(f"  {row.status.lower()}: config {row.config} ({row.taps or 'baseline'}): "
              f"{row.message}")
    print_flags(board)
    print_answer(RunDir(args.run_dir))
    return 0


def export_command(args: argparse.Namespace) -> int:
    """Rebuilds a run's two CSVs from its saved state and prints their paths."""
    from auxsearch.results.write import write_leaderboards

    for path in write_leaderboards(_run_dir(args.run_dir).require_trials(
            "to rebuild the CSVs from")):
        print(path)
    return 0


def confirm_command(args: argparse.Namespace) -> int:
    """Retrains the top configurations and the baseline seed by seed; prints the verdicts."""
    from auxsearch.confirmation.sequential import check_margin, check_seeds

    if args.top is not None:
        rules.check("top", args.top, key="--top")
    check_seeds(args.seeds, key="--seeds")
    margin = check_margin(_number(args.margin), key="--margin")
    if args.pack is not None:
        rules.check("pack", args.pack, key="--pack")
    confirm_run(_run_dir(args.run_dir), args.top, args.seeds, margin, args.pack,
                ablation=not args.no_ablation, weights=args.weights)
    return 0


def confirm_run(run_dir: RunDir, top: int | None, seeds: int, margin: float | None,
                pack: int | str | None, ablation: bool = True, weights: bool = False) -> None:
    """Confirms a run, ablates its winner (unless not `ablation`), prints the answer block."""
    from auxsearch.confirmation.run import confirm
    from auxsearch.core.verdicts import NOT_SETTLED

    def report(config: str, seed: int, score: float) -> None:
        print(f"  config {config} seed {seed}: {score:.4f}", file=sys.stderr)

    table = confirm(run_dir, top, seeds, on_score=report, pack=pack, margin=margin)
    print(f"{table['metric'].iloc[0]} on the test split, up to {seeds} paired seeds each; "
          "verdicts by a paired t-test over seeds and test examples after every seed:")
    for line in table.sort_values("baseline", kind="stable")["line"]:
        print(f"  {line}")
    spent, most = int(table["n_seeds"].sum()), len(table) * seeds
    kept = table.attrs.get("kept", 0)
    print(f"{spent} of {most} trainings"
          + (" (the verdicts were settled early)" if spent < most else "")
          + (f"; {kept} read back from an earlier confirm with these settings" if kept else ""))
    print(f"design: {table.attrs['design']}")
    if (table["verdict"] == NOT_SETTLED).any():
        print(f"{NOT_SETTLED}: one side trained on more seeds than the other; more seeds would "
              f"tell (--seeds above {seeds})")
    columns = ["config", "taps", "trained", "n_seeds", "mean", "ci_low", "ci_high",
               "delta_vs_baseline", "delta_low", "delta_high", "p_value", "verdict"]
    shown = table[columns].copy()
    shown["taps"] = shown["taps"].fillna("").replace("", "(baseline: no taps)")
    print()
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nconfirmed: {run_dir.confirmed}")
    if ablation:
        _ablate(run_dir, table, seeds, weights, pack, report)
    else:  # an earlier confirmation's ablation would not be this one's
        run_dir.ablation.unlink(missing_ok=True)
    print_answer(run_dir)


def _ablate(run_dir: RunDir, table: pd.DataFrame, seeds: int, weights: bool,
            pack: int | str | None, report: Callable[[str, int, float], None]) -> None:
    """Ablates the confirmed winner, its cost said first; prints a line per variant."""
    from auxsearch.confirmation.ablation import Ablation
    from auxsearch.confirmation.answer import tap_line

    ablation = Ablation(run_dir, table, seeds, weights, pack)
    if ablation.winner is None:  # nothing beats the baseline: the answer says so
        ablation.run()  # an empty ablation.csv, in place of an earlier confirmation's
        return
    trainings, epochs = ablation.planned
    print(f"\nablation of config {ablation.winner}: {len(ablation.variants)} variants, at most "
          f"{trainings} trainings, {epochs} epochs", file=sys.stderr)
    found = ablation.run(report)
    print(f"\nablation of config {ablation.winner} (the winner minus each variant, on the "
          "test split):")
    for _, row in found.iterrows():
        print(f"  {tap_line(row)}")
    print(f"design: {found.attrs['design']}")
    print(f"ablation: {run_dir.ablation}")


def print_answer(run_dir: RunDir) -> None:
    """Prints the run's answer block, if it has a confirmation."""
    from auxsearch.confirmation.answer import answer

    lines = answer(run_dir)
    if lines:
        print()
        for line in lines:
            print(line)


def _number(text: str | None) -> float | str | None:
    """An option's number, or its text as given (refused later, in one line)."""
    try:
        return None if text is None else float(text)
    except ValueError:
        return text


def export_model_command(args: argparse.Namespace) -> int:
    """Saves the deployable model of a leaderboard row, heads removed."""
    from auxsearch.search.export import check_out, export_model

    check_out(args.out, key="--out")
    rules.check("rank", args.rank, key="--rank")
    path = export_model(_run_dir(args.run_dir), args.out, args.rank)
    print(f"model of rank {args.rank}, auxiliary heads removed, weights from its "
          f"checkpoint: {path}")
    return 0


def plot_command(args: argparse.Namespace) -> int:
    """Draws a run's results as a PNG and prints its path."""
    from auxsearch.results.plots import plot_run

    print(plot_run(_run_dir(args.run_dir), args.out))
    return 0


def explain_command(args: argparse.Namespace) -> int:
    """Prints which layers help (a verdict line, then the table) and writes effects.csv."""
    from auxsearch.results.explain import RANKS_LAYERS, explain

    run_dir = _run_dir(args.run_dir)
    table = explain(run_dir)
    print(table.attrs["verdict"])
    print(table.attrs["importance"])
    columns = ["layer", "configs_on", "configs_off", "effect", "effect_low", "effect_high",
               "verdict", "weight_low", "weight_high"] + (["importance"] if RANKS_LAYERS else [])
    if len(table):
        print()
        print(table[columns].to_string(index=False, na_rep="", float_format=lambda v: f"{v:.3g}"))
    print(f"\neffects: {run_dir.effects}")
    return 0


def _run_dir(path: Path) -> RunDir:
    return RunDir(path).require()  # refuses anything but a run directory
