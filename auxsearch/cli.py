"""The command line: `python -m auxsearch run|taps ...`.

Only this module prints; the library logs. Errors that auxsearch raises on
purpose end the command with one `error: ...` line and exit code 2 (a
traceback only with `--debug`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Callable, Iterator, Sequence

from auxsearch.errors import AuxSearchError

EXIT_FAILED = 1
EXIT_USAGE = 2
_TOP = 5


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
        _load_backend(quiet=not (args.verbose or args.debug))
        return args.command(args)
    except AuxSearchError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume",
              file=sys.stderr)
        return 130
    except Exception as err:  # a failed search: say why in one line
        if args.debug:
            raise
        print(f"error: {type(err).__name__}: {err} (--debug shows the traceback)",
              file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="show Keras' per-epoch output and library logs")
    common.add_argument("--debug", action="store_true",
                        help="show tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="auxsearch",
        description="Search which intermediate layers of a Keras model "
        "should get an auxiliary loss, and with what weight.",
    )
    commands = parser.add_subparsers(title="commands", required=True)

    run = _command(
        commands, common, "run", _run, "run a Hyperband search, write the leaderboards",
        "Run the Hyperband search a space file describes and write a ranked "
        "leaderboard.csv (one row per configuration) and trials.csv. An "
        "existing run directory is resumed.",
    )
    run.add_argument("--out", type=Path, metavar="DIR",
                     help="run directory (default: results/<space name>)")
    _search_options(run)
    chief = _command(
        commands, common, "chief", _run, "serve a search to workers, train nothing",
        "Run a search as Keras Tuner's chief: serve its oracle over gRPC to "
        "`auxsearch worker` processes sharing the run directory, train "
        "nothing, and write the leaderboards when every trial ended.",
    )
    chief.add_argument("--out", type=Path, metavar="DIR", required=True,
                       help="run directory, on a filesystem every worker shares")
    chief.add_argument("--host", default="0.0.0.0",
                       help="address to listen on (default 0.0.0.0: every interface)")
    chief.add_argument("--port", type=int, default=8000,
                       help="port to listen on (default 8000; 0: a free one)")
    _search_options(chief)
    worker = _command(
        commands, common, "worker", _worker, "train a chief's trials",
        "Train the trials an `auxsearch chief` hands out, into its run "
        "directory, until it says stop. A worker never overwrites anything.",
    )
    worker.add_argument("space", nargs="?", type=Path,
                        help="search-space TOML file (default: the run "
                        "directory's space.toml); must be the chief's")
    worker.add_argument("--out", type=Path, metavar="DIR", required=True,
                        help="the chief's run directory")
    worker.add_argument("--chief", required=True, metavar="HOST:PORT",
                        help="the chief's address")
    worker.add_argument("--id", metavar="ID", dest="tuner_id",
                        help="this worker's unique id, e.g. tuner3 (default: "
                        "from host name and process id)")
    worker.add_argument("--tensorboard", type=Path, metavar="DIR",
                        help="log every trial this worker trains to DIR")

    taps = _command(
        commands, common, "taps", _taps, "list the layers a space can tap",
        "List the model's candidate tap layers with their output shapes, and "
        "which of them the space selects.",
    )
    taps.add_argument("space", type=Path, help="search-space TOML file")

    validate = _command(
        commands, common, "validate", _validate, "check a space without training",
        "Check a space without training: build the model once, resolve the "
        "taps, load and check the data, and print the candidates, the size "
        "of the search space and the Hyperband budget.",
    )
    validate.add_argument("space", type=Path, help="search-space TOML file")

    show = _command(
        commands, common, "show", _show, "print a run's leaderboard as a table",
        "Print the leaderboard of a run directory as a table: taps and weights, "
        "score, difference from the baseline, epochs.", run_dir=True,
    )
    show.add_argument("--top", type=int, default=10, metavar="N",
                      help="rows to show (default 10; the baseline is always shown)")

    _command(
        commands, common, "export", _export, "rebuild a run's CSVs from its saved state",
        "Rebuild leaderboard.csv and trials.csv from the saved search state: "
        "during a search, after a crash, after a resume.", run_dir=True,
    )

    confirm = _command(
        commands, common, "confirm", _confirm, "retrain the best configurations, test them",
        "Retrain the top configurations and the baseline from scratch at the "
        "full epoch budget with several seeds, score them on the test split the "
        "search never saw, and write confirmed.csv.", run_dir=True,
    )
    confirm.add_argument("--top", type=int, default=3, metavar="K",
                         help="configurations to confirm besides the baseline (default 3)")
    confirm.add_argument("--seeds", type=int, default=3, metavar="S",
                         help="trainings per configuration (default 3)")

    export_model = _command(
        commands, common, "export-model", _export_model,
        "save a configuration's model, heads removed",
        "Save the deployable model of a leaderboard row: the main output only, "
        "with the weights of its checkpoint, as a .keras file that plain "
        "keras.models.load_model reads.", run_dir=True,
    )
    export_model.add_argument("--rank", type=int, default=1, metavar="N",
                              help="the leaderboard rank to export (default 1)")
    export_model.add_argument("--out", type=Path, required=True, metavar="PATH",
                              help="the .keras file to write")

    plot = _command(
        commands, common, "plot", _plot, "draw a run's results as a PNG",
        "Draw the top configurations against the baseline (with the confirmed "
        "intervals when present) and which layers and weights the good "
        "configurations tap.", run_dir=True,
    )
    plot.add_argument("--out", type=Path, metavar="PATH",
                      help="the PNG to write (default RUN/leaderboard.png)")
    return parser


def _search_options(parser: argparse.ArgumentParser) -> None:
    """The options `run` and `chief` share: the space, overrides, workers."""
    parser.add_argument("space", nargs="?", type=Path,
                        help="search-space TOML file (default: the embedded "
                        "digits_cnn space)")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="override the space's seed")
    parser.add_argument("--max-epochs", type=int, metavar="N",
                        help="override hyperband.max_epochs")
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


def _command(
    commands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    summary: str,
    description: str,
    run_dir: bool = False,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, parents=[common], help=summary,
                                 description=description)
    if run_dir:
        parser.add_argument("run_dir", type=Path, metavar="RUN",
                            help="a run directory of `auxsearch run`")
    parser.set_defaults(command=handler)
    return parser


def _run(args: argparse.Namespace) -> int:
    from auxsearch.progress import SearchProgress
    from auxsearch.search import Search

    _check_overrides(args)
    _check_distributed(args)
    space = _space(args.space)
    band = space.hyperband
    if args.max_epochs is not None:
        band = dataclasses.replace(band, max_epochs=args.max_epochs)
    space = dataclasses.replace(
        space,
        hyperband=band,
        seed=space.seed if args.seed is None else args.seed,
    )
    run_dir = args.out or Path("results") / space.name
    is_chief = hasattr(args, "host")  # `chief`, not `run`
    if args.workers or is_chief:
        from auxsearch.distributed import Chief

        search = Chief(space, run_dir, host=getattr(args, "host", "127.0.0.1"),
                       port=getattr(args, "port", 0), workers=args.workers,
                       trial_timeout=args.trial_timeout)
    else:
        search = Search(space, run_dir)
    if not args.overwrite:  # refuse another space's run before printing anything
        search.check_resumable()
    trials, epochs = search.planned
    print(f"auxsearch: {space.name}, Hyperband max_epochs={band.max_epochs} "
          f"factor={band.factor}: {trials} trials, {epochs} epochs planned; "
          f"writing {search.run_dir}", file=sys.stderr)
    if is_chief:
        print(f"serving on {search.address}: start workers with `auxsearch worker "
              f"--out {search.run_dir} --chief {search.address}`", file=sys.stderr)
    elif args.workers:
        print(f"training in {args.workers} worker processes (logs: "
              f"{search.run_dir / 'logs'})", file=sys.stderr)
    progress = SearchProgress(trials, epochs, sys.stderr)
    progress.start()
    try:
        result = search.run(args.overwrite, args.verbose, on_trial_end=progress,
                            tensorboard=args.tensorboard)
    finally:
        progress.close()
    board = result.leaderboard
    print(f"\n{len(result.trials)} trials, {len(board)} configurations in "
          f"{result.seconds:.0f}s; top {_TOP} by "
          f"{board['objective'].iloc[0] if len(board) else 'score'}:")
    print(_summary(board, _TOP))
    _print_flags(board)
    print(f"\nleaderboard: {result.leaderboard_path}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from auxsearch.distributed import run_worker

    space = _space(args.space) if args.space else None
    ended = run_worker(args.out, args.chief, args.tuner_id, space, args.verbose,
                       args.tensorboard)
    print(f"worker: {ended} trials trained; the chief says stop", file=sys.stderr)
    return 0


def _check_distributed(args: argparse.Namespace) -> None:
    from auxsearch.errors import SpaceError

    if args.workers < 0:
        raise SpaceError(f"--workers must be >= 0; got {args.workers}")
    if args.trial_timeout < 0:
        raise SpaceError(f"--trial-timeout must be >= 0; got {args.trial_timeout:g}")
    if not 0 <= getattr(args, "port", 0) < 65536:
        raise SpaceError(f"--port must be in 0..65535; got {args.port}")
    if not args.workers and not hasattr(args, "host") and "KERASTUNER_ORACLE_IP" in os.environ:
        # Keras Tuner would make this one process a chief or a worker on its own.
        raise AuxSearchError("KERASTUNER_ORACLE_IP is set: use `auxsearch chief` and "
                             "`auxsearch worker` for a distributed search, or unset it")


def _show(args: argparse.Namespace) -> int:
    from auxsearch.leaderboards import leaderboard

    if args.top < 0:
        raise AuxSearchError(f"--top must be >= 0; got {args.top}")
    board = leaderboard(_run_dir(args.run_dir))
    done = board[board["status"] == "COMPLETED"]
    print(f"{args.run_dir}: {len(board)} configurations, "
          f"{int(done['full_budget'].sum())} trained for the full budget; "
          f"by {board['objective'].iloc[0] if len(board) else 'score'}")
    print(_summary(board, args.top))
    failed = board[board["status"] != "COMPLETED"]
    for row in failed.itertuples():
        print(f"  {row.status.lower()}: config {row.config} ({row.taps or 'baseline'}): "
              f"{row.message}")
    _print_flags(board)
    return 0


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
    from auxsearch.confirmation import FILENAME, confirm

    def report(config: str, seed: int, score: float) -> None:
        print(f"  config {config} seed {seed}: {score:.4f}", file=sys.stderr)

    table = confirm(_run_dir(args.run_dir), args.top, args.seeds, on_score=report)
    columns = ["config", "taps", "seeds", "mean", "std", "ci_low", "ci_high",
               "delta_vs_baseline", "p_value", "significant"]
    shown = table[columns].copy()
    shown["taps"] = shown["taps"].fillna("").replace("", "(baseline: no taps)")
    print(f"{table['metric'].iloc[0]}, {args.seeds} seeds each, Welch's t-test "
          "against the baseline:")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\nconfirmed: {args.run_dir / FILENAME}")
    return 0


def _export_model(args: argparse.Namespace) -> int:
    from auxsearch.export import export_model

    path = export_model(_run_dir(args.run_dir), args.out, args.rank)
    print(f"model of rank {args.rank}, auxiliary heads removed, weights from its "
          f"checkpoint: {path}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from auxsearch.plots import plot_run

    print(plot_run(_run_dir(args.run_dir), args.out))
    return 0


def _run_dir(path: Path) -> Path:
    from auxsearch.search import run_space

    run_space(path)  # refuses anything but a run directory
    return path


def _taps(args: argparse.Namespace) -> int:
    from auxsearch.search import load_dataset, make_hypermodel
    from auxsearch.taps import find_taps

    space = _space(args.space)
    hypermodel = make_hypermodel(space, load_dataset(space))
    model = hypermodel.build_model()
    selected = {tap.name for tap in hypermodel.taps}
    candidates = find_taps(model)
    print(f"{space.name}: model {model.name!r}, {len(model.layers)} layers, "
          f"{len(candidates)} candidate taps, {len(selected)} selected by the space")
    width = max([len(tap.name) for tap in candidates] + [5])
    print(f"{'pos':>4}  {'layer':<{width}}  {'output shape':<20}  selected")
    for tap in candidates:
        mark = "yes" if tap.name in selected else "-"
        print(f"{tap.index:>4}  {tap.name:<{width}}  {str(tap.shape):<20}  {mark}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    import time

    from auxsearch.search import load_dataset, make_hypermodel
    from auxsearch.space import objective_of
    from auxsearch.taps import find_taps
    from auxsearch.tuner import hyperband_budget

    started = time.perf_counter()
    space = _space(args.space)
    data = load_dataset(space)
    hypermodel = make_hypermodel(space, data)
    model = hypermodel.build_model()
    spec, taps, band = space.model, space.taps, space.hyperband
    source = spec.builtin or spec.builder or spec.file
    hints = f"; hint targets for {', '.join(data.hints)}" if data.hints else ""
    trials, epochs = hyperband_budget(band.max_epochs, band.factor, band.hyperband_iterations)
    slots = f"up to {taps.max_taps} taps per configuration" if taps.max_taps else "any subset"
    low, high = taps.weight_range
    print(f"{args.space}: valid ({time.perf_counter() - started:.1f}s)")
    print(f"  model       {source}: {model.name!r}, {len(model.layers)} layers, "
          f"output {tuple(model.outputs[0].shape)}")
    print(f"  data        {space.data.builtin or space.data.file}: {data.task}, "
          f"{len(data.y_train)} train / {len(data.y_val)} validation / "
          f"{len(data.y_test)} test examples of shape {data.input_shape}{hints}")
    print(f"  taps        {len(hypermodel.taps)} candidates of {len(find_taps(model))} "
          f"tappable layers: {', '.join(tap.name for tap in hypermodel.taps)}")
    print(f"  space       {hypermodel.count_configurations():,} tap configurations "
          f"({slots}; kinds {', '.join(taps.kinds)}; schedules "
          f"{', '.join(taps.schedules)}; head widths "
          f"{', '.join(map(str, taps.head_units))}), weights log-uniform in "
          f"[{low:g}, {high:g}]")
    print(f"  objective   {' '.join(objective_of(space))}")
    print(f"  hyperband   max_epochs={band.max_epochs} factor={band.factor} "
          f"iterations={band.hyperband_iterations}: {trials} trials, {epochs} epochs")
    return 0


def _space(path: Path | None):  # -> SearchSpace
    from auxsearch.space import load_space

    return load_space(path)


def _check_overrides(args: argparse.Namespace) -> None:
    from auxsearch.errors import SpaceError

    if args.max_epochs is not None and args.max_epochs < 1:
        raise SpaceError(f"--max-epochs must be >= 1; got {args.max_epochs}")
    if args.seed is not None and args.seed < 0:
        raise SpaceError(f"--seed must be >= 0; got {args.seed}")


def _summary(board, top: int) -> str:  # board: pandas.DataFrame
    """The top rows and, if it is not among them, the baseline row."""
    import pandas as pd

    columns = ["rank", "config", "taps", "score", "delta_vs_baseline", "epochs",
               "trials"]
    done = board[board["status"] == "COMPLETED"]
    rows = done.head(top)
    baseline = done[done["n_taps"] == 0]
    if len(baseline) and baseline.index[0] not in rows.index:
        rows = pd.concat([rows, baseline.head(1)])
    table = rows[columns].copy()
    table["taps"] = table["taps"].fillna("").replace("", "(baseline: no taps)")
    table["epochs"] = [f"{e}" if full else f"{e} (partial)"
                       for e, full in zip(table["epochs"], rows["full_budget"])]
    return table.to_string(index=False, formatters={
        "score": "{:.4f}".format,
        "delta_vs_baseline": lambda v: "" if v != v else f"{v:+.4f}",  # NaN: none
    })


def _load_backend(quiet: bool) -> None:
    """Imports TensorFlow and Keras Tuner, without their start-up noise."""
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_silenced(quiet):
        import keras
        import keras_tuner  # noqa: F401

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices()  # probes for GPUs, noisily
    if quiet:
        # Expected on every Hyperband promotion: Keras Tuner reloads the
        # parent's weights but, by design, not its optimizer state.
        warnings.filterwarnings("ignore", message="Skipping variable loading")
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


@contextlib.contextmanager
def _native_stderr_silenced(active: bool) -> Iterator[None]:
    # TensorFlow's C++ start-up messages bypass Python; mute file descriptor 2.
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
