"""The command line: `python -m auxsearch run|taps ...`: its parser and exit codes.

It parses the arguments and hands them to a command (`search`, `spaces`,
`runs`), which calls the library and prints; only the command line prints,
the library logs. An error ends the command with one `error: ...` line (a
traceback only with `--debug`) and an exit code: 2 for bad input (an
`AuxSearchError`), 1 for a search that failed (`SearchFailed`, or an
unexpected error), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from auxsearch import __version__
from auxsearch.cli import backend
from auxsearch.cli.runs import (
    confirm_command,
    explain_command,
    export_command,
    export_model_command,
    plot_command,
    show_command,
)
from auxsearch.cli.search import run_command, worker_command
from auxsearch.cli.spaces import taps_command, validate_command
from auxsearch.core import verdicts
from auxsearch.core.errors import AuxSearchError, RunDirError, SearchFailed
from auxsearch.core.messages import one_line

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Added to a run directory's refusal that discarding it would lift.
_DISCARD_HINT = "; use --overwrite to discard it, or --out for another directory"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(message)s",
        stream=sys.stderr,
    )
    try:
        if not args.keras:  # reads tables only: no TensorFlow start-up (seconds)
            return args.command(args)
        with backend.loaded(quiet=not (args.verbose or args.debug), tracebacks=args.debug):
            return args.command(args)
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `auxsearch show RUN | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:
        if args.debug:
            raise
        return _report(err)


def _report(err: Exception) -> int:
    """Prints an error as one line; returns its exit code."""
    if isinstance(err, AuxSearchError):
        message = str(err)
        if isinstance(err, RunDirError) and err.discardable:
            message += _DISCARD_HINT
        code = EXIT_FAILED if isinstance(err, SearchFailed) else EXIT_USAGE
    else:  # a failed search: say why
        message = f"{type(err).__name__}: {err} (--debug shows the traceback)"
        code = EXIT_FAILED
    # Some errors carry a traceback: its first and last lines say enough.
    print(f"error: {one_line(message, first=True)}", file=sys.stderr)
    return code


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show Keras' per-epoch output and library logs")
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="auxsearch", description="Search which intermediate layers of a Keras model "
        "should get an auxiliary loss, and with what weight.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", required=True)

    run = _command(
        commands, common, "run", run_command, "run a Hyperband search, write the leaderboards",
        "Run the Hyperband search a space file describes and write a ranked leaderboard.csv "
        "(one row per configuration) and trials.csv. An existing run directory is resumed.",
        mode="run")
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="run directory (default: results/<space name>)")
    _search_options(run)
    run.add_argument("--confirm", action="store_true",
                     help="then confirm the race's survivors on the test split, ablate the "
                     "winner, and print the answer block (as `confirm` does by default)")
    chief = _command(
        commands, common, "chief", run_command, "serve a search to workers, train nothing",
        "Run a search as Keras Tuner's chief: serve its oracle over gRPC to `auxsearch "
        "worker` processes sharing the run directory, train nothing, and write the "
        "leaderboards when every trial ended.", mode="chief")
    chief.add_argument("--out", type=Path, metavar="DIR", required=True,
                       help="run directory, on a filesystem every worker shares")
    chief.add_argument("--host", default="0.0.0.0",
                       help="address to listen on (default 0.0.0.0: every interface)")
    chief.add_argument("--port", type=int, default=8000,
                       help="port to listen on (default 8000; 0: a free one)")
    _search_options(chief)
    worker = _command(
        commands, common, "worker", worker_command, "train a chief's trials",
        "Train the trials an `auxsearch chief` hands out, into its run directory, until it "
        "says stop. A worker never overwrites anything.", mode="worker")
    worker.add_argument("space", nargs="?", type=Path, help="search-space TOML file "
                        "(default: the run directory's space.toml); must be the chief's")
    worker.add_argument("--out", type=Path, metavar="DIR", required=True,
                        help="the chief's run directory")
    worker.add_argument("--chief", required=True, metavar="HOST:PORT", help="the chief's address")
    worker.add_argument("--id", metavar="ID", dest="tuner_id", help="this worker's unique "
                        "id, e.g. tuner3 (default: from host name and process id)")
    worker.add_argument("--tensorboard", type=Path, metavar="DIR",
                        help="log every trial this worker trains to DIR")
    _pack_option(worker, "override the space's training.pack for this worker")

    _space_argument(_command(
        commands, common, "taps", taps_command, "list the layers a space can tap",
        "List the model's candidate tap layers with their output shapes, and which of them "
        "the space selects."))
    _space_argument(_command(
        commands, common, "validate", validate_command, "check a space without training",
        "Check a space without training: build the model once, resolve the taps, load and "
        "check the data, and print the candidates, the size of the search space and the "
        "Hyperband budget."))

    show = _command(
        commands, common, "show", show_command, "print a run's leaderboard as a table",
        "Print the leaderboard of a run directory as a table: taps and weights, score, "
        "difference from the baseline, epochs.", run_dir=True)
    show.add_argument("--top", type=int, default=10, metavar="N",
                      help="rows to show (default 10; the baseline is always shown)")
    _command(
        commands, common, "export", export_command, "rebuild a run's CSVs from its saved state",
        "Rebuild leaderboard.csv and trials.csv from the saved search state: during a "
        "search, after a crash, after a resume.", run_dir=True)
    confirm = _command(
        commands, common, "confirm", confirm_command, "retrain the best configurations, test them",
        "Retrain the top configurations and the baseline from scratch at the full epoch "
        "budget, seed by seed, score them on the test split the search never saw, test each "
        "against the baseline after every seed (stopping a configuration once its verdict is "
        "settled), and write confirmed.csv; then ablate the best configuration it calls "
        "better (one variant per tap, that tap removed, tested as not worse within the "
        "margin), write ablation.csv, and print the answer block.", run_dir=True)
    confirm.add_argument("--top", type=int, metavar="K",
                         help="configurations to confirm besides the baseline (default: those "
                         "left in the race, at most 3; without a race, 3)")
    confirm.add_argument("--seeds", type=int, default=verdicts.SEEDS, metavar="S",
                         help="the most seeds per configuration, >= 2 (default "
                         f"{verdicts.SEEDS})")
    confirm.add_argument("--margin", metavar="D",
                         help="a difference within ±D counts as equivalent and stops early; "
                         "a tap whose removal costs less than D is not needed (default: 0.01 "
                         "for accuracy, 1%% of the baseline's mean otherwise)")
    _pack_option(confirm, "train K of the trainings at once (default: the space's "
                 "training.pack)")
    _ablation_options(confirm)
    export_model = _command(
        commands, common, "export-model", export_model_command,
        "save a configuration's model, heads removed",
        "Save the deployable model of a leaderboard row: the main output only, with the "
        "weights of its checkpoint, as a .keras file that plain keras.models.load_model "
        "reads.", run_dir=True)
    export_model.add_argument("--rank", type=int, default=1, metavar="N",
                              help="the leaderboard rank to export (default 1)")
    export_model.add_argument("--out", type=Path, required=True, metavar="PATH",
                              help="the .keras file to write")
    plot = _command(
        commands, common, "plot", plot_command, "draw a run's results as a PNG",
        "Draw the top configurations against the baseline (with the confirmed intervals "
        "when present) and which layers and weights the good configurations tap.",
        run_dir=True)
    plot.add_argument("--out", type=Path, metavar="PATH",
                      help="the PNG to write (default RUN/leaderboard.png)")
    _command(
        commands, common, "explain", explain_command, "say which layers help, with intervals",
        "Estimate from the trials a search ran, per candidate layer in the model's order, the "
        "effect of tapping it on the objective (on against off, with a 95% interval and a "
        "verdict) and the weights where it helped; write RUN/effects.csv with each tap "
        "setting's importance (conditional PED-ANOVA), which is not printed as a ranking: "
        "the replay shows a search's trials cannot rank layers (confirm's ablation says "
        "which taps are needed).", run_dir=True, keras=False)
    return parser


def _ablation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-ablation", action="store_true",
                        help="skip the ablation of the winner (each of its taps removed, "
                        "on its seeds)")
    parser.add_argument("--weights", action="store_true",
                        help="in the ablation, also train each tap at 3x and 1/3 of its "
                        "weight (clipped to the space's range)")


def _space_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", nargs="?", type=Path, help="search-space TOML file "
                        "(default: the embedded digits_cnn space)")


def _search_options(parser: argparse.ArgumentParser) -> None:
    """The options `run` and `chief` share: the space, overrides, workers."""
    _space_argument(parser)
    parser.add_argument("--seed", type=int, metavar="N", help="override the space's seed")
    parser.add_argument("--max-epochs", type=int, metavar="N", help="override hyperband.max_epochs")
    _pack_option(parser, "override training.pack")
    parser.add_argument("--sampler", metavar="NAME", help="override hyperband.sampler: "
                        "'random' (Keras Tuner's) or 'model' (TPE-style, from the results "
                        "so far)")
    parser.add_argument("--race-seeds", type=int, metavar="N", help="override "
                        "hyperband.race_seeds: race the full-budget configurations on N more "
                        "paired seeds (0: no race)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard an existing search in the run directory "
                        "(never done by workers)")
    parser.add_argument("--tensorboard", type=Path, metavar="DIR",
                        help="log every trial to DIR, with its hyperparameters "
                        "(HParams); with workers, the local ones log there")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="train in N worker processes on this machine, "
                        "served by this one (default 0: train here)")
    parser.add_argument("--trial-timeout", type=float, default=3600.0, metavar="S",
                        help="end a trial as failed when its worker sends no "
                        "result for S seconds (default 3600; 0: never)")


def _pack_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--pack", type=_pack, metavar="K", help=f"{what}: K trials "
                        "trained at once in one model, or 'auto' (timed at the start)")


def _pack(text: str) -> int | str:
    """`--pack`'s value: an integer, or a word (checked later, with the others)."""
    try:
        return int(text)
    except ValueError:
        return text


def _command(
    commands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    description: str,
    run_dir: bool = False,
    mode: str | None = None,
    keras: bool = True,
) -> argparse.ArgumentParser:
    """Adds a subcommand; `mode` says how a search command searches, `keras`
    whether it needs Keras and its backend loaded."""
    parser = commands.add_parser(name, parents=[common], help=summary,
                                 description=description)
    if run_dir:
        parser.add_argument("run_dir", type=Path, metavar="RUN",
                            help="a run directory of `auxsearch run`")
    parser.set_defaults(command=handler, mode=mode, keras=keras)
    return parser
