"""`python -m bench.backends`: the same searches on each Keras backend.

Runs each workload of `bench.workloads` (the default space, and a
compute-bound one) on each backend, each in a fresh Python process (Keras
fixes its backend when it is imported), and measures the search's wall
time, the steady-state training step with 2 taps, and the first epoch
(tracing included). Writes the table as a section of `bench/results.md`
(or `--out`), replacing that machine's earlier section and keeping the rest,
and prints it.

    python -m bench.backends                    # tensorflow and jax: about 8 minutes on 2 cores
    python -m bench.backends --backends jax --smoke    # tiny: checks that it runs

A backend runs in the Python named by `AUXSEARCH_<BACKEND>_PYTHON` if set,
else in this one (which must then have the backend's package).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.workloads import TWO_TAPS, WORKLOADS, space_file

HERE = Path(__file__).resolve().parent
BACKENDS = ("tensorflow", "jax", "torch")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backends",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax",
                        help="comma-separated, of tensorflow, jax, torch (default tensorflow,jax)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help=f"comma-separated, of {', '.join(WORKLOADS)} (default: both)")
    parser.add_argument("--reps", type=int, default=1,
                        help="searches per workload and backend, backends alternating; "
                             "the median is reported (default 1)")
    parser.add_argument("--smoke", action="store_true",
                        help="max_epochs=1 and one steady epoch: checks that it runs")
    parser.add_argument("--out", type=Path, default=HERE / "results.md",
                        help="the results file whose section this writes "
                             "(default bench/results.md)")
    parser.add_argument("--measure", nargs=2, metavar=("WORKLOAD", "RUN_DIR"),
                        help=argparse.SUPPRESS)  # the measuring process itself
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure, smoke=args.smoke)))
        return 0
    backends = [b for b in args.backends.split(",") if b]
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = sorted(set(backends) - set(BACKENDS)) + sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown backend or workload: {', '.join(unknown)}")

    results: dict[tuple[str, str], list[dict]] = {}
    for workload in workloads:
        for rep in range(args.reps):
            order = backends if rep % 2 == 0 else backends[::-1]
            for backend in order:
                result = _measure_in(backend, workload, args.smoke)
                results.setdefault((workload, backend), []).append(result)
                print(f"  {workload} on {backend} {rep + 1}/{args.reps}: search "
                      f"{result['wall_seconds']:.1f} s, {result['trials']} trials, step "
                      f"{result['step_seconds'] * 1000:.2f} ms", file=sys.stderr)
    heading, section = _section(results, args.reps, args.smoke, backends, workloads)
    write_section(args.out, heading, section)
    print(section)
    print(f"written: {args.out}", file=sys.stderr)
    return 0


def measure(workload: str, run_dir: str, smoke: bool = False) -> dict:
    """One workload's search and step times on this process's backend."""
    import dataclasses

    import keras

    from auxsearch.core.space import load_space
    from auxsearch.search.run import Search
    from bench.measures import _epoch_times, _taps

    folder = Path(tempfile.mkdtemp(prefix="bench-space-"))
    space = load_space(space_file(workload, folder))
    if smoke:
        space = dataclasses.replace(space, hyperband=dataclasses.replace(
            space.hyperband, max_epochs=1, baseline_seeds=0, race_seeds=0))
    started = time.perf_counter()
    result = Search(space, run_dir).run(overwrite=True)
    wall = time.perf_counter() - started
    trials = result.trials

    # A fresh hypermodel: its first epoch traces the training step.
    prepared = Search(space, tempfile.mkdtemp(prefix="bench-steps-"))
    hm, data = prepared.hypermodel, prepared.data
    hp = _taps(hm, TWO_TAPS[workload])
    epochs = _epoch_times(hm, hp, hm.build(hp), data, 2 if smoke else 4, validation=False)
    n_steps = -(-len(data.x_train) // hm.trainer.batch_size())
    return {"backend": keras.backend.backend(), "device": _device(),
            "versions": _versions(), "wall_seconds": wall, "trials": len(trials),
            "epochs": int(trials["epochs"].sum()), "best": float(trials["score"].max()),
            "step_seconds": statistics.median(epochs[1:]) / n_steps,
            "first_epoch_seconds": epochs[0]}


def write_section(path: Path, heading: str, body: str) -> None:
    """Writes `body` under `heading` in `path`, replacing that section only.

    A section runs from its `## ` heading to the next one; the rest of the
    file is kept. A new heading is appended.
    """
    text = path.read_text() if path.exists() else ""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line == heading), None)
    if start is None:
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + body
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        kept_after = "\n".join(lines[end:])
        text = "\n".join(lines[:start]) + "\n" + body + ("\n" + kept_after if kept_after else "")
    path.write_text(text.rstrip("\n") + "\n")


def _measure_in(backend: str, workload: str, smoke: bool) -> dict:
    """Runs `measure` in a fresh process on `backend`."""
    python = os.environ.get(f"AUXSEARCH_{backend.upper()}_PYTHON")
    if not python:
        if importlib.util.find_spec(backend) is None:
            sys.exit(f"bench: no {backend} in this Python; install it or set "
                     f"AUXSEARCH_{backend.upper()}_PYTHON")
        python = sys.executable
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent),
                                                      os.environ.get("PYTHONPATH")]))
    run_dir = tempfile.mkdtemp(prefix=f"bench-{workload}-{backend}-")
    command = [python, "-m", "bench.backends", "--measure", workload, run_dir]
    done = subprocess.run(command + (["--smoke"] if smoke else []), capture_output=True,
                          text=True, env=env, cwd=HERE.parent)
    if done.returncode:
        sys.exit(f"bench: {workload} on {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _device() -> str:
    """The accelerator the backend computes on, in words ("CPU" if none)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return "CPU" if device.platform == "cpu" else f"GPU {device.device_kind}"
    if backend == "torch":
        import torch

        return f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"GPU ({len(gpus)})" if gpus else "CPU"
    return "?"


def _versions() -> str:
    import keras
    import keras_tuner

    backend = keras.backend.backend()
    package = __import__(backend)
    return (f"{backend} {package.__version__}, Keras {keras.__version__}, "
            f"keras-tuner {keras_tuner.__version__}")


def _cpu() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _section(results: dict[tuple[str, str], list[dict]], reps: int, smoke: bool,
             backends: list[str], workloads: list[str]) -> tuple[str, str]:
    """The section's heading and text: one table row per workload and backend."""
    devices = sorted({r["device"] for rows in results.values() for r in rows} - {"CPU"})
    machine = f"{', '.join(devices)}; " if devices else ""
    heading = f"## Backends: {machine}{_cpu()}" + (" (smoke run)" if smoke else "")
    rows = [
        ("| workload | backend (device) | search wall | trials, epochs, best | step, 2 taps "
         "| first epoch (traces) | search wall / TensorFlow's |"),
        "|---|---|---|---|---|---|---|",
    ]
    versions = []
    for workload in workloads:
        walls = {b: statistics.median(r["wall_seconds"] for r in results[(workload, b)])
                 for b in backends}
        for backend in backends:
            runs = results[(workload, backend)]
            first = runs[0]
            versions.append(first["versions"])
            step = statistics.median(r["step_seconds"] for r in runs)
            trace = statistics.median(r["first_epoch_seconds"] for r in runs)
            best = statistics.median(r["best"] for r in runs)
            relative = (f"{walls[backend] / walls['tensorflow']:.2f}"
                        if "tensorflow" in walls and backend != "tensorflow" else "")
            rows.append(
                f"| {workload} | {backend} ({first['device']}) | {walls[backend]:.1f} s "
                f"| {first['trials']}, {first['epochs']}, {best:.4f} | {step * 1000:.2f} ms "
                f"| {trace:.2f} s | {relative} |")
    how = (f"median of {reps} searches, backends alternating" if reps > 1
           else "one search each")
    options = (" --smoke" if smoke else "") + (f" --reps {reps}" if reps != 1 else "")
    lines = [
        heading,
        "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- versions: Python {platform.python_version()}; {'; '.join(sorted(set(versions)))}",
        (f"- command: `python -m bench.backends --backends {','.join(backends)}{options}`; "
         f"{how}; each in a fresh process"),
        ("- workloads (`bench/workloads.py`): `default` is the default space (8x8 digits, "
         "six 16-filter convs); `compute` is the digits upsampled to 32x32 with six convs "
         "of 32 to 128 filters, Hyperband max_epochs=3, no baseline seeds"),
        ("- step: the steady-state training step with taps conv2 and conv5, batch 64, "
         "median of the epochs after the first; first epoch: that fit's first epoch, "
         "tracing included"),
        "",
        *rows,
        "",
    ]
    return heading, "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
