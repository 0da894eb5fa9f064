"""`python -m bench.replay`: record tables, replay strategies on them."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record", help="train every configuration of a space's grid")
    record.add_argument("space", help="a search-space file, or 'default'")
    record.add_argument("--out", type=Path, required=True, help="the table's folder")
    record.add_argument("--seeds", type=int, default=3, help="seeds per configuration (>= 3)")
    record.add_argument("--max-epochs", type=int, help="the full budget (default: the space's)")
    record.add_argument("--weights", help="the weight grid, e.g. 0.03,0.3 (default: --grid "
                        "centres of the space's log weight range)")
    record.add_argument("--grid", type=int, default=2, help="points of the default grid")
    record.add_argument("--chains", type=int, default=24,
                        help="pairs trained as a promotion chain too (default 24)")
    run = commands.add_parser("run", help="replay the strategies on tables")
    run.add_argument("tables", nargs="+", type=Path, help="table folders")
    run.add_argument("--replays", type=int, default=100, help="replays per strategy, table "
                     "and budget (default 100)")
    run.add_argument("--strategies", help="comma-separated (default: "
                     + ", ".join(DEFAULT_STRATEGIES) + ")")
    run.add_argument("--out", type=Path, default=Path("bench/replay.csv"),
                     help="the CSV to write (default bench/replay.csv); the plot goes beside it")
    run.add_argument("--workers", type=int, help="processes (default: the CPUs)")
    explain = commands.add_parser("explain", help="check `auxsearch explain` against tables")
    explain.add_argument("tables", nargs="+", type=Path, help="table folders")
    explain.add_argument("--replays", type=int, default=100, help="default searches replayed "
                         "per table (default 100)")
    explain.add_argument("--out", type=Path, default=Path("bench/explain.csv"),
                         help="the CSV to write (default bench/explain.csv)")
    ablate = commands.add_parser("ablate", help="check the ablation of the winner against "
                                 "tables")
    ablate.add_argument("tables", nargs="+", type=Path, help="table folders")
    ablate.add_argument("--replays", type=int, default=100, help="pipelines replayed per "
                        "table (default 100)")
    ablate.add_argument("--out", type=Path, default=Path("bench/ablate.csv"),
                        help="the CSV to write (default bench/ablate.csv)")
    ablate.add_argument("--workers", type=int, help="processes (default: the CPUs)")
    ablate.add_argument("--seeds", type=int, help="the seed limit of the confirmation and "
                        "the ablation (default: confirm's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "ablate":
        return _ablate(args)
    if args.command == "record":
        return _record(args)
    if args.command == "explain":
        return _explain(args)
    return _run(args)


def _check_tables(tables: list[Path], replays: int) -> bool:
    """Says what is wrong with the tables or the replays, in one line; False if anything."""
    for table in tables:
        if not (table / "table.json").is_file():
            print(f"error: {table}: not a replay table (no table.json)", file=sys.stderr)
            return False
    if replays < 1:
        print(f"error: --replays must be >= 1; got {replays}", file=sys.stderr)
        return False
    return True


def _explain(args: argparse.Namespace) -> int:
    import time

    from bench.replay.explain import explain_tables

    if not _check_tables(args.tables, args.replays):
        return 2
    started = time.perf_counter()
    frame = explain_tables(args.tables, args.replays)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.4g")
    print(frame.to_string(index=False))
    print(f"{time.perf_counter() - started:.1f}s; wrote {args.out}")
    return 0


def _ablate(args: argparse.Namespace) -> int:
    import time

    from bench.replay.ablate import ablate_tables

    if not _check_tables(args.tables, args.replays):
        return 2
    started = time.perf_counter()
    from auxsearch.core.verdicts import SEEDS

    frame, _ = ablate_tables(args.tables, args.replays, args.workers, args.seeds or SEEDS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.4g")
    print(frame.to_string(index=False))
    print(f"{time.perf_counter() - started:.1f}s; wrote {args.out}")
    return 0


# The strategies `run` replays by default: the six; the sampler's
# variants (see `strategies`) on request.
DEFAULT_STRATEGIES = ("baseline", "random-search", "one-epoch-topk", "kt-hyperband",
                      "model-hyperband", "auxsearch")


def _run(args: argparse.Namespace) -> int:
    import time

    from auxsearch.core.suggest import did_you_mean
    from bench.replay.replay import _table, replay
    from bench.replay.report import markdown, plot, summarise, targets
    from bench.replay.strategies import STRATEGIES

    strategies = args.strategies.split(",") if args.strategies else list(DEFAULT_STRATEGIES)
    for name in strategies:
        if name not in STRATEGIES:
            print(f"error: --strategies: unknown strategy {name!r}"
                  f"{did_you_mean(name, list(STRATEGIES))}; known: {', '.join(STRATEGIES)}",
                  file=sys.stderr)
            return 2
    if not _check_tables(args.tables, args.replays):
        return 2
    started = time.perf_counter()
    replayed = replay(args.tables, strategies, args.replays, workers=args.workers)
    frame = summarise(replayed)
    seconds = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False, float_format="%.6g")
    figure = plot(replayed, args.out.with_suffix(".png"))
    print(markdown(frame))
    if "auxsearch" in strategies:
        print(targets(frame, [_table(str(t)) for t in args.tables]))
    print(f"{len(replayed)} replays in {seconds:.1f}s; wrote {args.out} and {figure}")
    return 0


def _record(args: argparse.Namespace) -> int:
    from auxsearch.core.errors import AuxSearchError
    from auxsearch.core.space import load_space
    from bench.replay.record import Recorder

    try:
        space = load_space(None if args.space == "default" else args.space)
        weights = tuple(float(w) for w in args.weights.split(",")) if args.weights else None
        recorder = Recorder(space, args.out, args.seeds, weights, args.grid, args.max_epochs,
                            args.chains)
    except (AuxSearchError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(recorder.plan(), flush=True)

    def progress(done: int, total: int, seconds: float) -> None:
        if done == total or done % 25 == 0:
            left = seconds / done * (total - done)
            print(f"[{done}/{total} trainings  {seconds / 60:.1f} min  ~{left / 60:.0f} min "
                  "left]", flush=True)

    path = recorder.run(progress)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
