"""`python -m bench.profile`: where the default search's time goes besides training.

Runs the default search (`Search(load_space(None), tmp).run(overwrite=True)`,
baseline seeds included) in a fresh process per repetition, with a timer
around each phase (`HOOKS`). Phase times are exclusive (a phase inside
another is not counted twice), so they add up to the wall time. Prints the
medians over the repetitions, and the overhead as `python -m bench` measures
it, `1 - steady epoch x epochs / search wall`, with the steady epoch timed in
the same search (the median of every epoch but each fit's first); and a second
reading that counts each epoch as it ran, so that epochs a busy machine slowed
count as training: `(wall - every epoch + the traces) / wall`.

    python -m bench.profile                      # 3 repetitions
    python -m bench.profile --reps 1 --cprofile out.prof
    python -m bench.profile --keep DIR           # copies each leaderboard.csv into DIR
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BASELINE = "baseline seeds"  # the context of the race and the baseline's extra seeds

# Every phase, by the group the table sums it into, in the table's order.
GROUPS = {
    "training": ["train steps", "validation steps"],
    "tracing": ["tracing (train and test steps)", "tracing (other functions)"],
    "keras loop": ["keras fit loop (iterators, metrics)", "keras evaluate (validation) other"],
    "callbacks": ["callbacks: loss-weight schedule", "callbacks: best-epoch copy in memory",
                  "callbacks: logs, NaN check", "callbacks: other (Keras' own, History)"],
    "checkpoints": ["checkpoint write (.weights.h5)", "checkpoint write: best epoch's weights back",
                    "checkpoint read (parent: kept, or .weights.h5)"],
    "fresh weights": ["fresh weights: build a new model",
                      "fresh weights: redraw from the initializers",
                      "fresh weights: assign to the traced model", "loss weights: assign"],
    "compile": ["compile (first trial)"],
    "hypermodel": ["trial build other (declare, seed)",
                   "trial fit other (labels, records, report)", "input pipeline (tf.data)"],
    "Keras Tuner": ["oracle: create trial", "oracle: update trial", "oracle: end trial",
                    "state files (oracle.json, trial.json, tuner)",
                    "tuner: trial other (build config json, checks)",
                    "tuner: on_trial_begin/end, progress hook", "tuner: search loop"],
    "setup": ["tuner setup (project, oracle)", "preflight", "search other (space.toml, seeding)"],
    "leaderboards": ["leaderboards (CSV)"],
}
PHASES = {phase: group for group, phases in GROUPS.items() for phase in phases}

# What is timed: (module, attribute or Class.attribute, phase). These names are
# the profile's contract with the package: a hook whose target is gone stops the
# profile (`missing_hooks`, and a test, say which), since a phase left untimed
# would land in "not timed" and misstate the overhead.
HOOKS = [
    ("auxsearch.search.run", "Search.run", "search other (space.toml, seeding)"),
    ("auxsearch.search.run", "Search.preflight", "preflight"),
    ("auxsearch.search.run", "make_tuner", "tuner setup (project, oracle)"),
    ("auxsearch.search.run", "leaderboard", "leaderboards (CSV)"),
    ("auxsearch.search.run", "trials", "leaderboards (CSV)"),
    ("auxsearch.search.run", "write_leaderboards", "leaderboards (CSV)"),
    ("auxsearch.kt.loop", "HyperbandTunerBase.search", "tuner: search loop"),
    ("auxsearch.kt.loop", "HyperbandTunerBase._run_group",
     "tuner: trial other (build config json, checks)"),
    ("auxsearch.kt.loop", "HyperbandTunerBase.save",
     "state files (oracle.json, trial.json, tuner)"),
    ("auxsearch.kt.oracle", "HyperbandOracleBase.create_trial", "oracle: create trial"),
    ("auxsearch.kt.oracle", "HyperbandOracleBase.update_trial", "oracle: update trial"),
    ("auxsearch.kt.oracle", "HyperbandOracleBase.end_trial", "oracle: end trial"),
    ("auxsearch.kt.oracle", "HyperbandOracleBase.save",
     "state files (oracle.json, trial.json, tuner)"),
    ("auxsearch.kt.oracle", "HyperbandOracleBase._save_trial",
     "state files (oracle.json, trial.json, tuner)"),
    ("auxsearch.search.tuner", "Hyperband.on_trial_begin",
     "tuner: on_trial_begin/end, progress hook"),
    ("auxsearch.search.tuner", "Hyperband.on_trial_end",
     "tuner: on_trial_begin/end, progress hook"),
    ("auxsearch.search.hypermodel", "AuxLossHyperModel.build",
     "trial build other (declare, seed)"),
    ("auxsearch.search.hypermodel", "AuxLossHyperModel.fit",
     "trial fit other (labels, records, report)"),
    ("auxsearch.trial.routing", "fit_inputs", "input pipeline (tf.data)"),
    ("auxsearch.trial.routing", "route_validation", "input pipeline (tf.data)"),
    ("auxsearch.trial.assembly", "Assembly.model", "fresh weights: build a new model"),
    ("auxsearch.trial.traced", "TracedModel.__init__", "compile (first trial)"),
    ("auxsearch.trial.traced", "TracedModel.start", "fresh weights: assign to the traced model"),
    ("auxsearch.trial.traced", "TracedModel.reset", "fresh weights: assign to the traced model"),
    ("auxsearch.trial.traced", "Redraw.draw", "fresh weights: redraw from the initializers"),
    ("auxsearch.trial.traced", "TracedModel.set_loss_weights", "loss weights: assign"),
    ("auxsearch.trial.traced", "TracedModel.values", "callbacks: best-epoch copy in memory"),
    ("auxsearch.trial.traced", "TracedModel.save", "checkpoint write: best epoch's weights back"),
    ("auxsearch.trial.records", "TrialRecords.on_epoch_begin", "callbacks: loss-weight schedule"),
    ("auxsearch.trial.records", "TrialRecords.on_epoch_end", "callbacks: logs, NaN check"),
    ("auxsearch.trial.records", "TrialRecords.on_train_batch_end", "callbacks: logs, NaN check"),
    ("auxsearch.trial.checkpoints", "write", "checkpoint write (.weights.h5)"),
    ("auxsearch.trial.checkpoints", "read", "checkpoint read (parent: kept, or .weights.h5)"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer.fit",
     "keras fit loop (iterators, metrics)"),
    ("keras.src.backend.tensorflow.trainer", "TensorFlowTrainer.evaluate",
     "keras evaluate (validation) other"),
    *(("keras.src.callbacks.callback_list", f"CallbackList.on_{name}",
       "callbacks: other (Keras' own, History)")
      for name in ("epoch_begin", "epoch_end", "train_begin", "train_end", "train_batch_begin",
                   "train_batch_end", "test_begin", "test_end", "test_batch_begin",
                   "test_batch_end")),
]


RACE = ("auxsearch.search.run", "Search.race")  # the race and the noise floor, timed apart


class Clock:
    """Exclusive wall time per phase, and variable assignments per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.assigns: dict[str, int] = defaultdict(int)
        self.stack: list[str] = []
        self.context = ""
        self.mark = time.perf_counter()
        self.epochs: list[tuple[str, list[float]]] = []  # (context, seconds of each epoch)

    def key(self, phase: str) -> str:
        return f"{self.context}: {phase}" if self.context else phase

    def _switch(self) -> None:
        now = time.perf_counter()
        if self.stack:
            self.seconds[self.stack[-1]] += now - self.mark
        self.mark = now

    @contextlib.contextmanager
    def phase(self, phase: str) -> Iterator[None]:
        self._switch()
        key = self.key(phase)
        self.stack.append(key)
        self.calls[key] += 1
        try:
            yield
        finally:
            self._switch()
            self.stack.pop()

    def clear(self) -> None:
        """Forgets everything timed so far (e.g. the search's set-up)."""
        for table in (self.seconds, self.calls, self.assigns):
            table.clear()
        self.epochs.clear()

    def assigned(self) -> None:
        self.assigns[self.stack[-1] if self.stack else "?"] += 1


def _wrap(restore: list[Callable[[], None]], owner: Any, attr: str,
          around: Callable[[Callable, tuple, dict], Any]) -> None:
    """Replaces `owner.attr` by `around(original, args, kwargs)`; `restore` undoes it."""
    original = vars(owner).get(attr) or getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return around(original, args, kwargs)

    setattr(owner, attr, wrapper)
    restore.append(lambda: setattr(owner, attr, original))


def _target(module: str, path: str) -> tuple[Any, str] | None:
    """`(owner, attribute)` of a hook, or `None` if its target is gone."""
    import importlib

    try:
        owner: Any = importlib.import_module(module)
    except ImportError:
        return None
    *classes, attr = path.split(".")
    for name in classes:
        owner = getattr(owner, name, None)
    return (owner, attr) if owner is not None and hasattr(owner, attr) else None


def missing_hooks() -> list[str]:
    """The hooks whose target is gone, as `module.path` (none, while the names hold)."""
    return [f"{module}.{path}" for module, path, _ in [*HOOKS, (*RACE, "")]
            if _target(module, path) is None]


def install(clock: Clock) -> list[Callable[[], None]]:
    """Puts a timer around every phase; returns what takes them off again."""
    import keras
    from keras.src.backend.tensorflow.trainer import TensorFlowTrainer
    from keras.src.callbacks.callback_list import CallbackList

    missing = missing_hooks()
    if missing:
        raise SystemExit(f"bench.profile: cannot time {', '.join(missing)}: the package renamed "
                         "or removed them; update HOOKS")
    restore: list[Callable[[], None]] = []

    for module, path, phase in HOOKS:
        target = _target(module, path)

        def around(original: Callable, args: tuple, kwargs: dict, phase=phase) -> Any:
            with clock.phase(phase):
                return original(*args, **kwargs)
        _wrap(restore, *target, around)

    def trace(original: Callable, args: tuple, kwargs: dict) -> Any:
        name = str(args[0] if args else kwargs.get("name", ""))
        steps = "multi_step_on_iterator" in name or "one_step_on" in name
        with clock.phase(f"tracing ({'train and test steps' if steps else 'other functions'})"):
            return original(*args, **kwargs)
    _wrap(restore, *_target("tensorflow.python.framework.func_graph",
                            "func_graph_from_py_func"), trace)

    def baseline(original: Callable, args: tuple, kwargs: dict) -> Any:
        clock.context = BASELINE
        try:
            return original(*args, **kwargs)
        finally:
            clock.context = ""
    _wrap(restore, *_target(*RACE), baseline)

    # The step functions: wrapped where Keras makes them, so each call is timed.
    for maker, phase in (("make_train_function", "train steps"),
                         ("make_test_function", "validation steps")):
        attr = maker.replace("make_", "")

        def make(original: Callable, args: tuple, kwargs: dict, attr=attr, phase=phase) -> Any:
            result = original(*args, **kwargs)
            model = args[0]
            function = getattr(model, attr)
            if function is not None and not getattr(function, "_profiled", False):
                def step(*a: Any, _function=function, **k: Any) -> Any:
                    with clock.phase(phase):
                        return _function(*a, **k)
                step._profiled = True
                setattr(model, attr, step)
            return result
        _wrap(restore, TensorFlowTrainer, maker, make)

    # Epochs, as bench.measures times them: on_epoch_begin to on_epoch_end.
    started: list[float] = []

    def epoch_begin(original: Callable, args: tuple, kwargs: dict) -> Any:
        started[:] = [time.perf_counter()]
        return original(*args, **kwargs)

    def epoch_end(original: Callable, args: tuple, kwargs: dict) -> Any:
        result = original(*args, **kwargs)
        clock.epochs[-1][1].append(time.perf_counter() - started[0])
        return result

    def train_begin(original: Callable, args: tuple, kwargs: dict) -> Any:
        clock.epochs.append((clock.context, []))
        return original(*args, **kwargs)

    # Outside the phase timers of the same methods: they time whole epochs.
    _wrap(restore, CallbackList, "on_epoch_begin", epoch_begin)
    _wrap(restore, CallbackList, "on_epoch_end", epoch_end)
    _wrap(restore, CallbackList, "on_train_begin", train_begin)

    def assign(original: Callable, args: tuple, kwargs: dict) -> Any:
        clock.assigned()
        return original(*args, **kwargs)
    _wrap(restore, keras.Variable, "assign", assign)
    return restore


def profile_search(run_dir: str, cprofile: str = "") -> dict:
    """Runs the default search once with the timers on; returns what they measured."""
    import keras  # noqa: F401  (TensorFlow's start-up is not the search's)

    from auxsearch.core.space import load_space
    from auxsearch.search.run import Search

    clock = Clock()
    restore = install(clock)
    try:
        started = time.perf_counter()
        search = Search(load_space(None), run_dir)
        setup = time.perf_counter() - started
        clock.clear()
        profiler = None
        if cprofile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        result = search.run(overwrite=True)
        wall = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(cprofile)
    finally:
        for undo in reversed(restore):
            undo()
    fits = [fit for context, fit in clock.epochs if context != BASELINE]
    return {"wall": wall, "search_init": setup, "seconds": clock.seconds, "calls": clock.calls,
            "assigns": clock.assigns, "epochs": int(result.trials["epochs"].sum()),
            "baseline_epochs": sum(len(f) for c, f in clock.epochs if c == BASELINE),
            "fits": len(fits), "epoch_seconds": sum(sum(fit) for fit in fits),
            "baseline_epoch_seconds": sum(sum(f) for c, f in clock.epochs if c == BASELINE),
            "steady_epoch": statistics.median(e for fit in fits for e in fit[1:]),
            "leaderboard": str(result.leaderboard_path)}


def summarise(runs: list[dict]) -> dict:
    """Medians over repetitions, per phase and per measure."""
    keys = sorted({k for run in runs for k in run["seconds"]})
    summary = {table: {k: statistics.median(run[table].get(k, 0) for run in runs) for k in keys}
               for table in ("seconds", "assigns", "calls")}
    summary.update({k: statistics.median(run[k] for run in runs)
                    for k in ("wall", "search_init", "steady_epoch", "epoch_seconds",
                              "baseline_epoch_seconds")})
    summary.update({k: runs[0][k] for k in ("epochs", "baseline_epochs", "fits")})
    return summary


def report(summary: dict) -> str:
    """The markdown table: phase, seconds, share of wall, calls, variable assignments."""
    wall, phases = summary["wall"], summary["seconds"]
    baseline = sum(v for k, v in phases.items() if k.startswith(f"{BASELINE}: "))
    search = {k: v for k, v in phases.items() if not k.startswith(f"{BASELINE}: ")}
    unknown = sorted(set(search) - set(PHASES))
    rows = ["| phase | group | s | share of wall | calls | var. assigns |",
            "|---|---|---|---|---|---|"]
    for name in [*PHASES, *unknown]:
        if name in search:
            rows.append(f"| {name} | {PHASES.get(name, '?')} | {search[name]:.2f} | "
                        f"{search[name] / wall:.1%} | {summary['calls'][name]:.0f} | "
                        f"{summary['assigns'][name]:.0f} |")
    rows.append(f"| {BASELINE} ({summary['baseline_epochs']} epochs, every phase) | "
                f"{BASELINE} | {baseline:.2f} | {baseline / wall:.1%} | | |")
    untimed = wall - sum(phases.values())
    rows.append(f"| not timed | | {untimed:.2f} | {untimed / wall:.1%} | | |")
    groups = {g: sum(search.get(p, 0.0) for p in phases) for g, phases in GROUPS.items()}
    groups.update({"?": sum(search[p] for p in unknown), BASELINE: baseline})
    lines = ["", "| group | s | share of wall |", "|---|---|---|"]
    lines += [f"| {g} | {s:.2f} | {s / wall:.1%} |"
              for g, s in sorted(groups.items(), key=lambda item: -item[1])]
    epoch, epochs = summary["steady_epoch"], summary["epochs"]
    searched = wall - baseline  # as `python -m bench` times it: baseline_seeds = 0
    ran = summary["epoch_seconds"] + summary["baseline_epoch_seconds"]
    traced = groups["tracing"]
    with_seeds = epochs + summary["baseline_epochs"]
    lines += [
        "",
        (f"- wall: {wall:.2f} s (search {searched:.2f} s + {BASELINE} {baseline:.2f} s); "
         f"Search() before it: {summary['search_init']:.2f} s; {summary['fits']} trial fits"),
        (f"- steady epoch (training and validation, each fit's first epoch left out): "
         f"{epoch * 1000:.1f} ms; all {epochs} search epochs, as timed: "
         f"{summary['epoch_seconds']:.2f} s"),
        (f"- overhead as `python -m bench` measures it (no {BASELINE}): "
         f"1 - {epoch:.3f} s x {epochs} / {searched:.2f} s = {1 - epoch * epochs / searched:.0%}"),
        (f"- overhead with the {BASELINE}: 1 - {epoch:.3f} s x {with_seeds} / {wall:.2f} s "
         f"= {1 - epoch * with_seeds / wall:.0%}"),
        (f"- the same, each epoch counted as it ran (a slow epoch is training; the traces in "
         f"the first are not): ({wall:.2f} - {ran:.2f} + {traced:.2f}) s / {wall:.2f} s "
         f"= {(wall - ran + traced) / wall:.0%}"),
    ]
    return "\n".join(rows + lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="searches, each in a fresh process")
    parser.add_argument("--cprofile", default="",
                        help="also write cProfile's stats of one search here (slows it)")
    parser.add_argument("--keep", type=Path, help="copy each search's leaderboard.csv here")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # a repetition, in its own process: prints one JSON line
        run_dir = tempfile.mkdtemp(prefix="bench-profile-")
        print(json.dumps(profile_search(run_dir, args.cprofile)))
        return 0
    runs = []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    for rep in range(args.reps):
        command = [sys.executable, "-m", "bench.profile", "--one"]
        if args.cprofile and rep == 0:
            command += ["--cprofile", args.cprofile]
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=HERE.parent)
        if done.returncode:
            sys.exit(f"bench.profile: repetition {rep + 1} failed:\n{done.stderr[-3000:]}")
        run = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append(run)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(run["leaderboard"], args.keep / f"leaderboard-{rep + 1}.csv")
        print(f"  search {rep + 1}/{args.reps}: {run['wall']:.1f} s, steady epoch "
              f"{run['steady_epoch'] * 1000:.0f} ms", file=sys.stderr)
    with open("/proc/loadavg") as load:
        print(f"load average at the end: {load.read().split()[0]} on {os.cpu_count()} cores",
              file=sys.stderr)
    print(f"median of {len(runs)} searches, each in a fresh process\n")
    print(report(summarise(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
