"""`python -m bench`: auxsearch against a plain Keras Tuner search, on this machine.

Every measurement runs in a fresh Python process; searches alternate between
the reference and auxsearch so that both see the same machine. Writes
`bench/results.md` (or `--out`) and prints the same table.

    python -m bench              # the full benchmark: about 20 minutes on 2 cores
    python -m bench --smoke      # every measurement, tiny: under a minute (CI)
    python -m bench --workload segmentation   # the segmentation example: a section of its own

`--workload segmentation` times the search of the shipped segmentation
example (`search_spaces/digits_segmentation.toml`, without the race) against
the same search written by hand with Keras Tuner (`bench.reference`), and
the steady-state training step with 2 dense taps (at 1/2 and 1/4 of the
input's resolution) against 0 taps; it writes its own section of the
results file, keeping the rest.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.backends import _cpu, write_section
from bench.workloads import SEGMENTATION, TWO_TAPS

HERE = Path(__file__).resolve().parent
TARGETS = {"ratio": 0.35, "overhead": 0.25, "two_taps": 1.10, "graph": 2.0, "memory": 0.10,
           "segmentation_ratio": 0.5, "dense_two_taps": 1.15}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3,
                        help="repetitions of each search (default 3)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny settings, one repetition: checks that the benchmark runs")
    parser.add_argument("--out", type=Path, help="results file (default bench/results.md; "
                        "with --smoke, a temporary file)")
    parser.add_argument("--workload", choices=("default", SEGMENTATION), default="default",
                        help="default: the default space, every measure; segmentation: the "
                        "segmentation example's search and dense step times")
    args = parser.parse_args(argv)
    reps = 1 if args.smoke else args.reps
    max_epochs = "1" if args.smoke else ""
    inner = "1" if args.smoke else "10"
    out = args.out or (
        Path(tempfile.mkdtemp()) / "results.md" if args.smoke else HERE / "results.md")
    if args.workload == SEGMENTATION:
        return _segmentation(args.smoke, reps, max_epochs, inner, out)

    searches = _searches(args.smoke, reps, max_epochs, "default")
    timings = _run(args.smoke, "measures", "steps", inner)
    epoch, steps = timings["epoch_seconds"], timings["step_seconds"]
    graph = _run(args.smoke, "measures", "graph")
    if args.smoke:  # the smoke search's own trials stand in for a long search
        memory = {"trials": len(searches["auxsearch"][-1]["rss_mb"]),
                  "rss_mb": searches["auxsearch"][-1]["rss_mb"]}
    else:
        memory = _run(False, "measures", "memory", "30")
    # Whole commands, TensorFlow start-up included: workers are processes.
    workers = {} if args.smoke else {k: _command_seconds(k) for k in (0, 1, 2)}

    report = _report(searches, epoch, steps, graph, memory, workers, reps, args.smoke)
    out.write_text(report + _other_sections(out))
    print(report)
    print(f"written: {out}", file=sys.stderr)
    return 0


def _searches(smoke: bool, reps: int, max_epochs: str, workload: str) -> dict[str, list[dict]]:
    """The reference's and auxsearch's searches of `workload`, `reps` each, alternating."""
    searches: dict[str, list[dict]] = {"reference": [], "auxsearch": []}
    for rep in range(reps):
        order = ["reference", "auxsearch"] if rep % 2 == 0 else ["auxsearch", "reference"]
        for name in order:
            run_dir = tempfile.mkdtemp(prefix=f"bench-{name}-")
            if name == "reference":
                result = _run(smoke, "reference", "main", run_dir, max_epochs, workload)
            else:
                result = _run(smoke, "measures", "search", run_dir, max_epochs, workload)
            searches[name].append(result)
            print(f"  {workload}: {name} search {rep + 1}/{reps}: "
                  f"{result['wall_seconds']:.1f} s, {result['trials']} trials, "
                  f"{result['epochs']} epochs, best {result['best']:.4f}", file=sys.stderr)
    return searches


def _segmentation(smoke: bool, reps: int, max_epochs: str, inner: str, out: Path) -> int:
    """The segmentation example's measures, written as a section of `out`."""
    searches = _searches(smoke, reps, max_epochs, SEGMENTATION)
    steps = _run(smoke, "measures", "steps", inner, SEGMENTATION)
    heading, section = segmentation_section(searches, steps, reps, smoke)
    write_section(out, heading, section)
    print(section)
    print(f"written: {out}", file=sys.stderr)
    return 0


def segmentation_section(searches: dict[str, list[dict]], steps: dict, reps: int,
                         smoke: bool) -> tuple[str, str]:
    """The segmentation section's heading and text, from the measurements.

    Args:
        searches: `reference` and `auxsearch`: each search's measurements.
        steps: `bench.measures.steps` of the segmentation workload.
        reps: Searches of each.
        smoke: Whether the settings were the smoke run's.
    """
    import keras
    import keras_tuner
    import tensorflow

    ref, aux = searches["reference"], searches["auxsearch"]
    ref_wall, aux_wall = _median(ref, "wall_seconds"), _median(aux, "wall_seconds")
    ratio = aux_wall / ref_wall
    step = steps["step_seconds"]
    two, plain = step["2"] / step["0"], step["0"] / step["plain"]
    first, second = TWO_TAPS[SEGMENTATION]

    def search_row(rows: list[dict]) -> str:
        return (f"{_median(rows, 'wall_seconds'):.1f} s; {rows[0]['trials']} trials, "
                f"{rows[0]['epochs']} epochs, best val mean IoU {_median(rows, 'best'):.4f}")

    rows = [
        ("search wall, reference (hand-written Keras Tuner)", search_row(ref), "", ""),
        ("search wall, auxsearch (no race, no baseline seeds)", search_row(aux), "", ""),
        ("search speed: auxsearch / reference", f"{ratio:.2f}",
         f"<= {TARGETS['segmentation_ratio']}",
         "yes" if ratio <= TARGETS["segmentation_ratio"] else "**no**"),
        (f"step time, 2 dense taps ({first} at 1/2, {second} at 1/4) / 0 taps",
         f"{two:.2f} ({step['2'] * 1000:.1f} / {step['0'] * 1000:.1f} ms)",
         f"<= {TARGETS['dense_two_taps']}",
         "yes" if two <= TARGETS["dense_two_taps"] else "**no**"),
        ("step time, 0 taps / plain model without heads",
         f"{plain:.2f} ({step['0'] * 1000:.1f} / {step['plain'] * 1000:.1f} ms)", "", ""),
        ("epoch, 2 taps, training and validation", f"{steps['epoch_seconds']:.3f} s", "", ""),
    ]
    heading = f"## Segmentation example: {_cpu()}" + (" (smoke run)" if smoke else "")
    lines = [
        heading,
        "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        (f"- versions: Python {platform.python_version()}, TensorFlow {tensorflow.__version__}, "
         f"Keras {keras.__version__}, keras-tuner {keras_tuner.__version__}"),
        (f"- command: `python -m bench --workload segmentation{' --smoke' if smoke else ''}"
         f"{f' --reps {reps}' if reps != 3 and not smoke else ''}`; searches: median of "
         f"{reps} (reference and auxsearch alternating), each in a fresh process; step "
         "times: median of the steady-state epochs after a first, tracing one, per step"),
        ("- workload: `search_spaces/digits_segmentation.toml` (12x20 canvases of two digits, "
         "11 classes per pixel; a plain encoder-decoder of 15 convs; 15 candidates, up to 2 "
         "taps; batch 32); the reference is `bench/reference.py`'s `SegmentationHyperModel`: "
         "the same model, data, slots, weights and Hyperband settings, heads by hand (a 1x1 "
         "conv, bilinear resize to the mask), objective `val_main_mean_iou`"),
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
        f"ratio (segmentation): {ratio:.2f}",
        "",
    ]
    return heading, "\n".join(lines)


def _other_sections(out: Path) -> str:
    """The sections other benchmarks wrote into `out` (`## ` headings on), kept."""
    if not out.exists():
        return ""
    text = "\n" + out.read_text()
    start = text.find("\n## ")
    return "" if start < 0 else text[start:]


def _run(in_process: bool, module: str, function: str, *args: str) -> dict:
    """Runs `bench.<module>.<function>(*args)`, in a fresh process unless told."""
    if in_process:  # the smoke run: one TensorFlow start-up instead of seven
        import importlib

        return getattr(importlib.import_module(f"bench.{module}"), function)(*args)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "bench.measures", function, *args]
    if module == "reference":
        command = [sys.executable, "-m", "bench.reference", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=HERE.parent)
    if done.returncode:
        sys.exit(f"bench: {' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _command_seconds(workers: int) -> dict:
    """Times `python -m auxsearch run` of the default space with N workers."""
    run_dir = tempfile.mkdtemp(prefix=f"bench-workers{workers}-")
    command = [sys.executable, "-m", "auxsearch", "run", "--out", run_dir, "--overwrite"]
    if workers:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - started
    trials = sum(1 for _ in open(Path(run_dir) / "trials.csv")) - 1
    print(f"  run --workers {workers}: {wall:.1f} s, {trials} trials", file=sys.stderr)
    return {"wall_seconds": wall, "trials": trials}


def _median(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def _report(searches, epoch, steps, graph, memory, workers, reps, smoke) -> str:
    ref, aux = searches["reference"], searches["auxsearch"]
    ref_wall, aux_wall = _median(ref, "wall_seconds"), _median(aux, "wall_seconds")
    ratio = aux_wall / ref_wall
    aux_epochs = _median(aux, "epochs")
    training = epoch * aux_epochs
    overhead = 1 - training / aux_wall
    two, every, plain = (steps[k] / steps["0"] for k in ("2", "all", "plain"))
    graph_seconds = graph["discovery_seconds"] + graph["build_seconds"]
    rss = memory["rss_mb"]
    growth = (rss[-1] - rss[0]) / rss[0]

    per_minute = "not run in the smoke run (worker processes)"
    if workers:
        rates = " / ".join(f"{60 * w['trials'] / w['wall_seconds']:.1f}" for w in workers.values())
        walls = " / ".join(f"{w['wall_seconds']:.0f} s" for w in workers.values())
        per_minute = f"{rates} ({walls}, {workers[0]['trials']} trials)"

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    import keras
    import keras_tuner
    import tensorflow

    rows = [
        ("search wall, reference (plain Keras Tuner)",
         (f"{ref_wall:.1f} s; {ref[0]['trials']} trials, "
          f"{ref[0]['epochs']} epochs, best {_median(ref, 'best'):.4f}"), "", ""),
        ("search wall, auxsearch",
         (f"{aux_wall:.1f} s; {aux[0]['trials']} trials, "
          f"{aux[0]['epochs']} epochs, best {_median(aux, 'best'):.4f}"), "", ""),
        ("search speed: auxsearch / reference", f"{ratio:.2f}", f"<= {TARGETS['ratio']}",
         met(ratio <= TARGETS["ratio"])),
        ("overhead: 1 - epoch time x epochs / search wall",
         (f"{overhead:.0%} ({epoch:.3f} s/epoch x {aux_epochs:.0f} epochs = {training:.1f} s "
          f"of {aux_wall:.1f} s)"),
         f"<= {TARGETS['overhead']:.0%}", met(overhead <= TARGETS["overhead"])),
        ("step time, 2 taps / 0 taps",
         f"{two:.2f} ({steps['2'] * 1000:.1f} / {steps['0'] * 1000:.1f} ms)",
         f"<= {TARGETS['two_taps']}", met(two <= TARGETS["two_taps"])),
        ("step time, all 6 taps / 0 taps", f"{every:.2f}", "", ""),
        ("step time, 0 taps / plain model without heads (the cost of tracing once)",
         f"{1 / plain:.2f} ({steps['0'] * 1000:.1f} / {steps['plain'] * 1000:.1f} ms)", "", ""),
        (f"graph scale: {graph['model']}, {graph['layers']} layers",
         (f"{graph_seconds:.2f} s ({graph['candidates']} candidates found in "
          f"{graph['discovery_seconds'] * 1000:.1f} ms; trial build with {graph['taps']} taps "
          f"{graph['build_seconds']:.2f} s)"), f"< {TARGETS['graph']:.0f} s",
         met(graph_seconds < TARGETS["graph"])),
        (f"memory: resident growth over {memory['trials']} trials",
         (f"{growth:+.1%} ({rss[0]:.0f} MB after trial 1, {rss[-1]:.0f} MB after trial "
          f"{memory['trials']})"), f"< {TARGETS['memory']:.0%}", met(growth < TARGETS["memory"])),
        (("workers: trials per minute, whole `run` command, 1 process / `--workers 1` / "
          "`--workers 2`"), per_minute, "", ""),
    ]
    table = ["| measure | value | target | met |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()
    header = [
        "# Benchmark results" + (" (smoke run: tiny settings, not a measurement)" if smoke else ""),
        "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        (f"- versions: Python {platform.python_version()}, TensorFlow {tensorflow.__version__}, "
         f"Keras {keras.__version__}, keras-tuner {keras_tuner.__version__}"),
        (f"- command: `python -m bench{' --smoke' if smoke else ''}`; searches: median of {reps} "
         "(reference and auxsearch alternating); step and epoch times: median of the steady-state "
         "epochs after a first, tracing one"),
        "",
    ]
    return "\n".join(header + table + ["", f"ratio: {ratio:.2f}", ""])


if __name__ == "__main__":
    sys.exit(main())
