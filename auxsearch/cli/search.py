"""The search commands: `run` and `chief` search a space, `worker` trains a chief's trials."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from auxsearch.core import rules
from auxsearch.core.errors import AuxSearchError
from auxsearch.core.rundir import RunDir
from auxsearch.core.space import load_space  # imports no Keras, as `--version` must not

_TOP = 5  # configurations printed at the end of a search


def run_command(args: argparse.Namespace) -> int:
    """Runs a search here (`run`) or serves it to workers (`chief`, `run --workers`)."""
    from auxsearch.cli.leaderboard import print_flags, print_noise, print_race, summary
    from auxsearch.cli.progress import SearchProgress
    from auxsearch.search.run import Search, check_tensorboard, with_overrides

    chief = args.mode == "chief"
    _check_search_options(args, chief)
    space = with_overrides(load_space(args.space), seed=args.seed, max_epochs=args.max_epochs,
                           pack=args.pack, sampler=args.sampler, race_seeds=args.race_seeds)
    run_dir = args.out or Path("results") / space.name
    if chief or args.workers:
        from auxsearch.search.chief import Chief

        host, port = (args.host, args.port) if chief else ("127.0.0.1", 0)
        search = Chief(space, run_dir, host=host, port=port, workers=args.workers,
                       trial_timeout=args.trial_timeout)
    else:
        search = Search(space, run_dir)
    if not args.overwrite:  # refuse another space's run before printing anything
        search.check_resumable()
    check_tensorboard(args.tensorboard)
    search.preflight()  # and a model or data that cannot train
    search.claim(args.overwrite)  # another search's tables go, in a line, before the bar
    band = space.hyperband
    trials, epochs = search.planned
    raced, race_epochs = search.planned_race
    race = (f", then a race of up to {raced} configurations on {band.race_seeds} paired seeds"
            if raced else ", then the baseline on more seeds")
    print(f"auxsearch: {space.name}, Hyperband max_epochs={band.max_epochs} "
          f"factor={band.factor}: {trials} trials, {epochs} epochs planned{race} "
          f"(at most {race_epochs} epochs more); writing {search.run_dir}", file=sys.stderr)
    if chief:
        print(f"serving on {search.address}: start workers with `auxsearch worker "
              f"--out {search.run_dir} --chief {search.address}`", file=sys.stderr)
    elif args.workers:
        print(f"training in {args.workers} worker processes (logs: "
              f"{search.run_dir.logs})", file=sys.stderr)
    progress = SearchProgress(trials, epochs, sys.stderr)
    progress.start()

    def raced(config: str, taps: str, seed: int, score: float | None, seconds: float) -> None:
        what = f"config {config} ({taps})" if taps else f"the baseline ({config})"
        print(f"race, seed {seed}: {what} {'diverged' if score is None else f'{score:.4f}'}"
              f"  {seconds:.1f}s", file=sys.stderr)

    try:
        result = search.run(args.overwrite, args.verbose, on_trial_end=progress,
                            tensorboard=args.tensorboard, on_race=raced)
    finally:
        progress.close()
    board = result.leaderboard
    packed = f", {result.pack} trained at once" if result.pack > 1 else ""
    print(f"\n{len(result.trials)} trials, {len(board)} configurations in "
          f"{result.seconds:.0f}s{packed}; top {_TOP} by "
          f"{board['objective'].iloc[0] if len(board) else 'score'}:")
    print(summary(board, _TOP))
    print_race(search.run_dir, board)
    print_noise(search.run_dir, board)
    print_flags(board)
    print(f"\nleaderboard: {result.leaderboard_path}")
    if getattr(args, "confirm", False):  # `run --confirm`: on to the answer
        from auxsearch.cli.runs import confirm_run
        from auxsearch.core.verdicts import SEEDS

        print()
        confirm_run(search.run_dir, None, SEEDS, None, args.pack)
    return 0


def worker_command(args: argparse.Namespace) -> int:
    """Trains the trials a chief hands out until it says stop."""
    from auxsearch.search.run import with_overrides
    from auxsearch.search.worker import run_worker

    space = load_space(args.space) if args.space else None
    if args.pack is not None:
        rules.check("pack", args.pack, key="--pack")
        space = with_overrides(space or load_space(RunDir(args.out).space), pack=args.pack)
    ended = run_worker(args.out, args.chief, args.tuner_id, space, args.verbose,
                       args.tensorboard)
    print(f"worker: {ended} trials trained; the chief says stop", file=sys.stderr)
    return 0


def _check_search_options(args: argparse.Namespace, chief: bool) -> None:
    """Checks the options of `run` and `chief` before anything is loaded."""
    rules.check("max_epochs", args.max_epochs, key="--max-epochs")
    if args.seed is not None:
        rules.check("seed", args.seed, key="--seed")
    rules.check("workers", args.workers, key="--workers")
    if args.pack is not None:
        rules.check("pack", args.pack, key="--pack")
    if args.sampler is not None:
        rules.check("sampler", args.sampler, key="--sampler")
    if args.race_seeds is not None:
        rules.check("race_seeds", args.race_seeds, key="--race-seeds")
    rules.check("trial_timeout", args.trial_timeout, key="--trial-timeout")
    if chief:
        rules.check("port", args.port, key="--port")
    elif not args.workers and "KERASTUNER_ORACLE_IP" in os.environ:
        # Keras Tuner would make this one process a chief or a worker on its own.
        raise AuxSearchError("KERASTUNER_ORACLE_IP is set: use `auxsearch chief` and "
                             "`auxsearch worker` for a distributed search, or unset it")
