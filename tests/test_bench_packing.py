"""bench.packing's report: the tables, the targets' verdicts and the ratio lines.

Builds no model: the measurements are made up.
"""

from __future__ import annotations

import re

from bench import packing
from bench.backends import write_section


def _search(wall: float, best: float = 0.975, picked: int | None = None) -> dict:
    return {"wall_seconds": wall, "trials": 23, "epochs": 75, "best": best, "max_epochs": 9,
            "picked": picked, "pack_lines": [], "versions": "tensorflow 2.21.0"}


def _confirm(wall: float, means: dict[str, float]) -> dict:
    return {"wall_seconds": wall, "trainings": 20, "means": means}


def _result(walls: dict, best: dict | None = None, packed_means: dict | None = None) -> dict:
    best = best or {}
    means = {"0001": 0.97, "0000": 0.96}
    return {
        "reference": [{"wall_seconds": 100.0, "trials": 23, "epochs": 75, "best": 0.975}],
        "search": {p: [_search(w, best.get(p, 0.975), 2 if p == "auto" else None)]
                   for p, w in walls.items()},
        "unpacked": [_confirm(60.0, means)],
        "packed": [_confirm(30.0, packed_means or means)],
        "confirm_pack": 4, "top": 3, "seeds": 5,
    }


def _row(section: str, workload: str, label: str, pack: str) -> list[str]:
    table = section.split(f"### {workload}:")[1].split("###")[0]
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == label and cells[1] == pack:
            return cells
    raise AssertionError(f"no row {label!r}, pack {pack!r} in:\n{table}")


def test_ratio_lines_use_the_fastest_packed_search():
    results = {
        "default": _result({1: 20.0, 2: 11.0, 4: 10.0, "auto": 10.5}),
        "compute": _result({1: 50.0, 2: 40.0, 4: 45.0, "auto": 41.0}),
    }
    heading, section = packing._section(results, "python -m bench.packing", 1, smoke=False)

    assert heading.startswith("## Packed trials: ") and section.startswith(heading + "\n")
    assert re.findall(r"^ratio \((\w+), packed\): ([\d.]+)$", section, re.M) == [
        ("default", "0.10"), ("compute", "0.40")]  # pack 4 and pack 2 of 100 s
    assert "- best packed search: pack 4" in section
    assert "- best packed search: pack 2" in section


def test_met_column_holds_each_target_and_the_score_equality():
    results = {"default": _result({1: 20.0, 2: 11.0, 4: 12.0, "auto": 13.0},
                                  best={2: 0.975, 4: 0.9722},
                                  packed_means={"0001": 0.97, "0000": 0.95})}
    _, section = packing._section(results, "python -m bench.packing", 1, smoke=False)

    pack2 = _row(section, "default", "search, auxsearch", "2")
    assert pack2[4] == "0.9750 (= pack 1)" and pack2[6] == "0.11" and pack2[-1] == "yes"
    pack4 = _row(section, "default", "search, auxsearch", "4")  # on target, another best
    assert pack4[4] == "0.9722 (differs)" and pack4[-1] == "**no**: best -0.0028"
    auto = _row(section, "default", "search, auxsearch", "auto (2)")  # 0.13 > 0.12
    assert auto[-1] == "**no**: 1.1x the target"
    assert _row(section, "default", "search, auxsearch", "1")[-1].startswith("**no**")
    confirm = _row(section, "default", "confirm --top 3 --seeds 5", "4")
    assert confirm[6] == "2.00x faster"  # 60 s unpacked, 30 s packed
    assert confirm[-1] == "**no**: scores differ by up to 0.0100"


def test_the_section_replaces_its_earlier_self_and_keeps_the_others(tmp_path):
    out = tmp_path / "results.md"
    out.write_text("# Benchmark results\n\nratio: 0.18\n\n## Backends: x\n\nkept\n")
    results = {"default": _result({1: 20.0, 2: 11.0, 4: 10.0, "auto": 10.5})}
    heading, first = packing._section(results, "python -m bench.packing", 1, smoke=False)
    write_section(out, heading, first)
    results = {"default": _result({1: 20.0, 2: 11.0, 4: 9.0, "auto": 10.5})}
    _, second = packing._section(results, "python -m bench.packing", 1, smoke=False)
    write_section(out, heading, second)

    text = out.read_text()
    assert text.count(heading) == 1 and "ratio (default, packed): 0.09" in text
    assert "ratio (default, packed): 0.10" not in text
    assert text.startswith("# Benchmark results\n\nratio: 0.18\n") and "kept" in text


def test_used_pack_reads_auxsearch_packing_lines():
    assert packing.used_pack([]) is None  # the pack asked for
    assert packing.used_pack(["pack 1: 0.120 s for 20 steps (166.7 trial-steps per second)",
                              "pack = auto: 2 trials at once (the most trials per second)"]) == 2
    assert packing.used_pack([
        "pack = auto: 4 trials at once (the most trials per second)",
        "packing 4 trials needs about 9.0 GB of the 6.0 GB available: packing 2"]) == 2
    assert packing.used_pack(["training one trial at a time: a distribution strategy"]) == 1
