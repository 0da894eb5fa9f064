"""The command line: `python -m auxsearch run|taps ...`.

It parses the arguments, calls the library and prints; only this module
prints, the library logs. An error ends the command with one `error: ...`
line (a traceback only with `--debug`) and an exit code: 2 for bad input
(an `AuxSearchError`), 1 for a search that failed (`SearchFailed`, or an
unexpected error), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from auxsearch import __version__, backend, rules
from auxsearch.errors import AuxSearchError, RunDirError, SearchFailed
from auxsearch.rundir import RunDir
from auxsearch.space import load_space  # imports no Keras, as `--version` must not

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_TOP = 5
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
        with backend.loaded(quiet=not (args.verbose or args.debug), tracebacks=args.debug):
            return args.command(args)
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
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
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return code


def _one_line(message: str) -> str:
    # Some errors carry a traceback: its first and last lines say enough.
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return f"{lines[0]} ... {lines[-1]}" if len(lines) > 1 else "".join(lines)


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
        commands, common, "run", _run, "run a Hyperband search, write the leaderboards",
        "Run the Hyperband search a space file describes and write a ranked leaderboard.csv "
        "(one row per configuration) and trials.csv. An existing run directory is resumed.",
        mode="run")
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="run directory (default: results/<space name>)")
    _search_options(run)
    chief = _command(
        commands, common, "chief", _run, "serve a search to workers, train nothing",
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
        commands, common, "worker", _worker, "train a chief's trials",
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
        commands, common, "taps", _taps, "list the layers a space can tap",
        "List the model's candidate tap layers with their output shapes, and which of them "
        "the space selects."))
    _space_argument(_command(
        commands, common, "validate", _validate, "check a space without training",
        "Check a space without training: build the model once, resolve the taps, load and "
        "check the data, and print the candidates, the size of the search space and the "
        "Hyperband budget."))

    show = _command(
        commands, common, "show", _show, "print a run's leaderboard as a table",
        "Print the leaderboard of a run directory as a table: taps and weights, score, "
        "difference from the baseline, epochs.", run_dir=True)
    show.add_argument("--top", type=int, default=10, metavar="N",
                      help="rows to show (default 10; the baseline is always shown)")
    _command(
        commands, common, "export", _export, "rebuild a run's CSVs from its saved state",
        "Rebuild leaderboard.csv and trials.csv from the saved search state: during a "
        "search, after a crash, after a resume.", run_dir=True)
    confirm = _command(
        commands, common, "confirm", _confirm, "retrain the best configurations, test them",
        "Retrain the top configurations and the baseline from scratch at the full epoch "
        "budget with several seeds, score them on the test split the search never saw, and "
        "write confirmed.csv.", run_dir=True)
    confirm.add_argument("--top", type=int, default=3, metavar="K",
                         help="configurations to confirm besides the baseline (default 3)")
    confirm.add_argument("--seeds", type=int, default=3, metavar="S",
                         help="trainings per configuration (default 3)")
    _pack_option(confirm, "train K of the trainings at once (default: the space's "
                 "training.pack)")
    export_model = _command(
        commands, common, "export-model", _export_model,
        "save a configuration's model, heads removed",
        "Save the deployable model of a leaderboard row: the main output only, with the "
        "weights of its checkpoint, as a .keras file that plain keras.models.load_model "
        "reads.", run_dir=True)
    export_model.add_argument("--rank", type=int, default=1, metavar="N",
                              help="the leaderboard rank to export (default 1)")
    export_model.add_argument("--out", type=Path, required=True, metavar="PATH",
                              help="the .keras file to write")
    plot = _command(
        commands, common, "plot", _plot, "draw a run's results as a PNG",
        "Draw the top configurations against the baseline (with the confirmed intervals "
        "when present) and which layers and weights the good configurations tap.",
        run_dir=True)
    plot.add_argument("--out", type=Path, metavar="PATH",
                      help="the PNG to write (default RUN/leaderboard.png)")
    return parser


def _space_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", nargs="?", type=Path, help="search-space TOML file "
                        "(default: the embedded digits_cnn space)")


def _search_options(parser: argparse.ArgumentParser) -> None:
    """The options `run` and `chief` share: the space, overrides, workers."""
    _space_argument(parser)
    parser.add_argument("--seed", type=int, metavar="N", help="override the space's seed")
    parser.add_argument("--max-epochs", type=int, metavar="N", help="override hyperband.max_epochs")
    _pack_option(parser, "override training.pack")
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
) -> argparse.ArgumentParser:
    """Adds a subcommand; `mode` says how a search command searches."""
    parser = commands.add_parser(name, parents=[common], help=summary,
                                 description=description)
    if run_dir:
        parser.add_argument("run_dir", type=Path, metavar="RUN",
                            help="a run directory of `auxsearch run`")
    parser.set_defaults(command=handler, mode=mode)
    return parser


def _run(args: argparse.Namespace) -> int:
    from auxsearch.leaderboards import summary
    from auxsearch.progress import SearchProgress
    from auxsearch.search import Search, check_tensorboard, with_overrides

    chief = args.mode == "chief"
    _check_search_options(args, chief)
    space = with_overrides(load_space(args.space), seed=args.seed, max_epochs=args.max_epochs,
                           pack=args.pack)
    run_dir = args.out or Path("results") / space.name
    if chief or args.workers:
        from auxsearch.distributed import Chief

        host, port = (args.host, args.port) if chief else ("127.0.0.1", 0)
        search = Chief(space, run_dir, host=host, port=port, workers=args.workers,
                       trial_timeout=args.trial_timeout)
    else:
        search = Search(space, run_dir)
    if not args.overwrite:  # refuse another space's run before printing anything
        search.check_resumable()
    check_tensorboard(args.tensorboard)
    search.preflight()  # and a model or data that cannot train
    band = space.hyperband
    trials, epochs = search.planned
    print(f"auxsearch: {space.name}, Hyperband max_epochs={band.max_epochs} "
          f"factor={band.factor}: {trials} trials, {epochs} epochs planned; "
          f"writing {search.run_dir}", file=sys.stderr)
    if chief:
        print(f"serving on {search.address}: start workers with `auxsearch worker "
              f"--out {search.run_dir} --chief {search.address}`", file=sys.stderr)
    elif args.workers:
        print(f"training in {args.workers} worker processes (logs: "
              f"{search.rundir.logs})", file=sys.stderr)
    progress = SearchProgress(trials, epochs, sys.stderr)
    progress.start()

    def baseline(seed: int, score: float, seconds: float) -> None:
        print(f"baseline, seed {seed}: {score:.4f}  {seconds:.1f}s (the noise floor)",
              file=sys.stderr)

    try:
        result = search.run(args.overwrite, args.verbose, on_trial_end=progress,
                            tensorboard=args.tensorboard, on_baseline=baseline)
    finally:
        progress.close()
    board = result.leaderboard
    packed = f", {result.pack} trained at once" if result.pack > 1 else ""
    print(f"\n{len(result.trials)} trials, {len(board)} configurations in "
          f"{result.seconds:.0f}s{packed}; top {_TOP} by "
          f"{board['objective'].iloc[0] if len(board) else 'score'}:")
    print(summary(board, _TOP))
    _print_noise(search.rundir, board)
    _print_flags(board)
    print(f"\nleaderboard: {result.leaderboard_path}")
    return 0


def _check_search_options(args: argparse.Namespace, chief: bool) -> None:
    """Checks the options of `run` and `chief` before anything is loaded."""
    rules.check("max_epochs", args.max_epochs, key="--max-epochs")
    if args.seed is not None:
        rules.check("seed", args.seed, key="--seed")
    rules.check("workers", args.workers, key="--workers")
    if args.pack is not None:
        rules.check("pack", args.pack, key="--pack")
    rules.check("trial_timeout", args.trial_timeout, key="--trial-timeout")
    if chief:
        rules.check("port", args.port, key="--port")
    elif not args.workers and "KERASTUNER_ORACLE_IP" in os.environ:
        # Keras Tuner would make this one process a chief or a worker on its own.
        raise AuxSearchError("KERASTUNER_ORACLE_IP is set: use `auxsearch chief` and "
                             "`auxsearch worker` for a distributed search, or unset it")


def _worker(args: argparse.Namespace) -> int:
    from auxsearch.distributed import run_worker
    from auxsearch.search import with_overrides

    space = load_space(args.space) if args.space else None
    if args.pack is not None:
        rules.check("pack", args.pack, key="--pack")
        space = with_overrides(space or load_space(RunDir(args.out).space), pack=args.pack)
    ended = run_worker(args.out, args.chief, args.tuner_id, space, args.verbose,
                       args.tensorboard)
    print(f"worker: {ended} trials trained; the chief says stop", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from auxsearch.leaderboards import leaderboard, summary

    rules.check("shown", args.top, key="--top")
    board = leaderboard(_run_dir(args.run_dir))
    done = board[board["status"] == "COMPLETED"]
    print(f"{args.run_dir}: {len(board)} configurations, "
          f"{int(done['full_budget'].sum())} trained for the full budget; "
          f"by {board['objective'].iloc[0] if len(board) else 'score'}")
    print(summary(board, args.top))
    _print_noise(args.run_dir, board)
    failed = board[board["status"] != "COMPLETED"]
    for row in failed.itertuples():
        print(f"  {row.status.lower()}: config {row.config} ({row.taps or 'baseline'}): "
              f"{row.message}")
    _print_flags(board)
    return 0


def _print_noise(run_dir: Path | RunDir, board) -> None:  # board: pandas.DataFrame
    """Says how far the baseline moves with its seed, if it was trained on several."""
    from auxsearch.leaderboards import noise_summary

    line = noise_summary(run_dir, board)
    if line:
        print(f"  {line}")


def _print_flags(board) -> None:  # board: pandas.DataFrame
    """Names the configurations whose score is no better than chance."""
    flagged = board[board["flag"].notna()] if "flag" in board else board.iloc[:0]
    for row in flagged.itertuples():
        print(f"  flagged: config {row.config} ({row.taps or 'baseline'}): {row.flag}")


def _export(args: argparse.Namespace) -> int:
    from auxsearch.leaderboards import write_leaderboards

    for path in write_leaderboards(_run_dir(args.run_dir)):
        print(path)
    return 0


def _confirm(args: argparse.Namespace) -> int:
    from auxsearch.confirmation import confirm

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


def _export_model(args: argparse.Namespace) -> int:
    from auxsearch.export import check_out, export_model

    check_out(args.out, key="--out")
    rules.check("rank", args.rank, key="--rank")
    path = export_model(_run_dir(args.run_dir), args.out, args.rank)
    print(f"model of rank {args.rank}, auxiliary heads removed, weights from its "
          f"checkpoint: {path}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from auxsearch.plots import plot_run

    print(plot_run(_run_dir(args.run_dir), args.out))
    return 0


def _run_dir(path: Path) -> RunDir:
    return RunDir(path).require()  # refuses anything but a run directory


def _taps(args: argparse.Namespace) -> int:
    from auxsearch.validation import list_taps

    listing = list_taps(load_space(args.space))
    selected = set(listing.selected)
    print(f"{listing.space.name}: model {listing.model_name!r}, {listing.layers} layers, "
          f"{len(listing.candidates)} candidate taps, {len(selected)} selected by the space")
    width = max([len(tap.name) for tap in listing.candidates] + [5])
    print(f"{'pos':>4}  {'layer':<{width}}  {'output shape':<20}  selected")
    for tap in listing.candidates:
        mark = "yes" if tap.name in selected else "-"
        print(f"{tap.index:>4}  {tap.name:<{width}}  {str(tap.shape):<20}  {mark}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from auxsearch.validation import validate

    report = validate(load_space(args.space))
    taps, band = report.space.taps, report.space.hyperband
    hints = f"; hint targets for {', '.join(report.hints)}" if report.hints else ""
    slots = f"up to {taps.max_taps} taps per configuration" if taps.max_taps else "any subset"
    low, high = taps.weight_range
    train, val, test = report.examples
    trials, epochs = report.budget
    print(f"{report.space.path}: valid ({report.seconds:.1f}s)")
    print(f"  model       {report.model_source}: {report.model_name!r}, {report.layers} "
          f"layers, output {report.output_shape}")
    print(f"  data        {report.data_source}: {report.task}, {train} train / {val} "
          f"validation / {test} test examples of shape {report.input_shape}{hints}")
    print(f"  taps        {len(report.candidates)} candidates of {report.tappable} "
          f"tappable layers: {', '.join(report.candidates)}")
    print(f"  space       {report.configurations:,} tap configurations ({slots}; kinds "
          f"{', '.join(taps.kinds)}; schedules {', '.join(taps.schedules)}; head widths "
          f"{', '.join(map(str, taps.head_units))}), weights log-uniform in "
          f"[{low:g}, {high:g}]")
    print(f"  objective   {' '.join(report.objective)}")
    print(f"  hyperband   max_epochs={band.max_epochs} factor={band.factor} "
          f"iterations={band.hyperband_iterations}: {trials} trials, {epochs} epochs")
    print(f"  preflight   one training and one evaluation step with every candidate output: "
          f"{report.preflight_seconds:.2f}s")
    return 0
