"""`python -m bench.throughput`: training throughput of packed trials, per K.

For each workload of `bench.workloads`, on the backend and device this
process has: trials-epochs per minute of steady-state training for K = 1
(the unpacked traced model) and each K of `--packs` (one packed model of K
copies), with the first, tracing fit timed apart. This is the measurement
for an accelerator, where one small model leaves most of the device idle
(`bench/gpu.sh` runs it there on JAX); `bench.packing` measures whole
searches. Writes a `## Packed throughput` section into `bench/results.md`
(or `--out`) and prints it.

    python -m bench.throughput --packs 1,2,4,8,16
    python -m bench.throughput --packs 1,2 --workloads default --epochs 1   # a quick check
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path

from bench.backends import _device, _versions, write_section
from bench.workloads import WORKLOADS, space_file

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--packs", default="1,2,4,8,16", help="the K to measure (default "
                        "1,2,4,8,16; 1 is always measured)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per K (default 2)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md")
    args = parser.parse_args(argv)
    packs = sorted({1, *(int(k) for k in args.packs.split(","))})
    rows = {w: measure(w, packs, args.epochs) for w in args.workloads.split(",") if w}
    heading = f"## Packed throughput: {_device()}"
    lines = [heading, "", f"- date: {datetime.datetime.now():%Y-%m-%d %H:%M}",
             f"- versions: {_versions()}",
             (f"- command: `python -m bench.throughput --packs {args.packs} --epochs "
             f"{args.epochs}`; the baseline configuration, every copy training; "
             "steady-state epochs after one tracing fit"), "",
             "| workload | K | first fit (traces) | epoch | trial-epochs / min | vs K = 1 |",
             "|---|---|---|---|---|---|"]
    for workload, measured in rows.items():
        base = measured[1]["rate"]
        for k, row in measured.items():
            lines.append(f"| {workload} | {k} | {row['first']:.2f} s | {row['epoch']:.2f} s | "
                         f"{row['rate']:.0f} | {row['rate'] / base:.2f}x |")
    for workload, measured in rows.items():
        best = max(measured, key=lambda k: measured[k]["rate"])
        lines.append(f"\nbest ({workload}): K = {best}, "
                     f"{measured[best]['rate'] / measured[1]['rate']:.2f}x K = 1's throughput")
    section = "\n".join(lines) + "\n"
    write_section(args.out, heading, section)
    print(section)
    return 0


def measure(workload: str, packs: list[int], epochs: int) -> dict[int, dict[str, float]]:
    """Each K's first fit, steady epoch and trial-epochs per minute on one workload."""
    from auxsearch.core.space import load_space
    from auxsearch.search.run import Search
    from auxsearch.trial.trainer import PackedTrial

    folder = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    search = Search(load_space(space_file(workload, folder)), folder / "run")
    hm, data = search.hypermodel, search.data
    hp = hm.hyperparameters({})
    train = (data.x_train, data.labels("train"))

    def fit(k: int, n: int) -> float:
        started = time.perf_counter()
        if k == 1:
            hm.fit(hp, hm.build(hp), *train, epochs=n, verbose=0)
        else:
            hm.fit_packed([PackedTrial(hp, seed) for seed in range(k)], *train, epochs=n,
                          pack=k)
        return time.perf_counter() - started

    measured = {}
    for k in packs:
        first = fit(k, 1)
        epoch = fit(k, epochs) / epochs
        measured[k] = {"first": first, "epoch": epoch, "rate": 60.0 * k / epoch}
        print(f"  {workload} K = {k}: first fit {first:.2f} s, epoch {epoch:.2f} s",
              file=sys.stderr)
    return measured


if __name__ == "__main__":
    sys.exit(main())
