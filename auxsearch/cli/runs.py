"""The commands on a finished run directory: `show`, `export`, `confirm`, `export-model`, `plot`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from auxsearch.core import rules
from auxsearch.core.rundir import RunDir


def show_command(args: argparse.Namespace) -> int:
    """Prints a run's leaderboard as a table, and what failed or was flagged."""
    from auxsearch.cli.leaderboard import print_flags, print_noise, summary
    from auxsearch.results.tables import leaderboard

    rules.check("shown", args.top, key="--top")
    board = leaderboard(_run_dir(args.run_dir))
    done = board[board["status"] == "COMPLETED"]
    print(f"{args.run_dir}: {len(board)} configurations, "
          f"{int(done['full_budget'].sum())} trained for the full budget; "
          f"by {board['objective'].iloc[0] if len(board) else 'score'}")
    print(summary(board, args.top))
    print_noise(args.run_dir, board)
    failed = board[board["status"] != "COMPLETED"]
    for row in failed.itertuples():
        print(f"  {row.status.lower()}: config {row.config} ({row.taps or 'baseline'}): "
              f"{row.message}")
    print_flags(board)
    return 0


def export_command(args: argparse.Namespace) -> int:
    """Rebuilds a run's two CSVs from its saved state and prints their paths."""
    from auxsearch.results.write import write_leaderboards

    for path in write_leaderboards(_run_dir(args.run_dir)):
        print(path)
    return 0


def confirm_command(args: argparse.Namespace) -> int:
    """Retrains the top configurations and the baseline; prints the verdicts."""
    from auxsearch.confirmation.run import confirm

    rules.check("top", args.top, key="--top")
    rules.check("seeds", args.seeds, key="--seeds")
    if args.pack is not None:
        rules.check("pack", args.pack, key="--pack")

    def report(config: str, seed: int, score: float) -> None:
        print(f"  config {config} seed {seed}: {score:.4f}", file=sys.stderr)

    run = _run_dir(args.run_dir)
    table = confirm(run, args.top, args.seeds, on_score=report, pack=args.pack)
    print(f"{table['metric'].iloc[0]} on the test split, {args.seeds} paired seeds each; "
          "verdicts by a paired bootstrap over seeds and test examples, Holm-adjusted:")
    for line in table.sort_values("baseline", kind="stable")["line"]:
        print(f"  {line}")
    columns = ["config", "taps", "trained", "mean", "ci_low", "ci_high", "delta_vs_baseline",
               "delta_low", "delta_high", "p_value", "verdict"]
    shown = table[columns].copy()
    shown["taps"] = shown["taps"].fillna("").replace("", "(baseline: no taps)")
    print()
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nconfirmed: {run.confirmed}")
    return 0


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


def _run_dir(path: Path) -> RunDir:
    return RunDir(path).require()  # refuses anything but a run directory
