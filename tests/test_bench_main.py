"""`python -m bench --workload segmentation`: its section, its workload, its reference.

The section is built from made-up measurements; the reference's hand-written
segmentation model is built and trained for one epoch on a few canvases.
"""

from __future__ import annotations

import re

import keras_tuner as kt
import numpy as np
import pytest

from auxsearch.core.space import load_space
from bench.__main__ import _other_sections, segmentation_section
from bench.backends import write_section
from bench.reference import SegmentationHyperModel
from bench.workloads import SEGMENTATION, TWO_TAPS, space_file


def _search(wall: float, best: float = 0.4) -> dict:
    return {"wall_seconds": wall, "trials": 23, "epochs": 75, "best": best, "rss_mb": []}


def _steps(two: float, zero: float, plain: float) -> dict:
    return {"step_seconds": {"0": zero, "2": two, "plain": plain}, "epoch_seconds": 0.5}


def _cells(section: str, label: str) -> list[str]:
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0].startswith(label):
            return cells
    raise AssertionError(f"no row {label!r} in:\n{section}")


def test_section_gives_the_ratios_against_their_targets():
    searches = {"reference": [_search(100.0), _search(120.0), _search(90.0)],
                "auxsearch": [_search(40.0), _search(60.0), _search(45.0, best=0.5)]}
    heading, section = segmentation_section(
        searches, _steps(two=0.012, zero=0.010, plain=0.008), reps=3, smoke=False)

    assert heading.startswith("## Segmentation example: ") and section.startswith(heading)
    assert re.findall(r"^ratio \(segmentation\): ([\d.]+)$", section, re.M) == ["0.45"]
    assert _cells(section, "search speed")[1:] == ["0.45", "<= 0.5", "yes"]  # 45 / 100 s
    assert _cells(section, "step time, 2 dense taps")[1:] == [
        "1.20 (12.0 / 10.0 ms)", "<= 1.15", "**no**"]
    assert _cells(section, "step time, 0 taps / plain")[1] == "1.25 (10.0 / 8.0 ms)"
    assert "best val mean IoU 0.4000" in _cells(section, "search wall, auxsearch")[1]
    assert " --reps" not in section and "smoke" not in heading


def test_section_replaces_its_own_and_the_default_report_keeps_it(tmp_path):
    out = tmp_path / "results.md"
    out.write_text("# Benchmark results\n\nratio: 0.19\n\n## Backends: x\n\nkept\n")
    searches = {"reference": [_search(10.0)], "auxsearch": [_search(20.0)]}
    for wall in (10.0, 5.0):  # a second run replaces the first's section
        searches["reference"] = [_search(wall)]
        heading, section = segmentation_section(searches, _steps(1.0, 1.0, 1.0), 1, True)
        write_section(out, heading, section)
    text = out.read_text()
    assert text.count(heading) == 1 and "ratio (segmentation): 4.00" in text
    assert "## Backends: x\n\nkept" in text and heading.endswith("(smoke run)")
    assert heading in _other_sections(out)  # what `python -m bench` writes after its table


def test_workload_is_the_shipped_space_with_its_max_epochs(tmp_path):
    path = space_file(SEGMENTATION, tmp_path, max_epochs=3)
    space = load_space(path)
    assert space.hyperband.max_epochs == 3 and space.data.task == "segmentation"
    assert space.data.loader == "search_spaces.data.digits_segmentation:load"
    assert load_space(space_file(SEGMENTATION, tmp_path)).hyperband.max_epochs == 9
    assert set(TWO_TAPS[SEGMENTATION]) <= set(SegmentationHyperModel.CANDIDATES)


@pytest.mark.e2e
def test_reference_model_has_dense_heads_at_the_mask_resolution():
    hypermodel = SegmentationHyperModel(0.01, 1.0, 0.003, 2, (12, 20, 1), 11)
    hp = kt.HyperParameters()
    hp.values.update({"tap1": "enc3_3", "weight1": 0.3, "tap2": "none"})
    model = hypermodel.build(hp)
    assert sorted(model.output_names) == ["aux_enc3_3", "main"]
    assert [tuple(o.shape) for o in model.outputs] == [(None, 12, 20, 11)] * 2
    rng = np.random.default_rng(0)
    x = rng.random((8, 12, 20, 1), dtype="float32")
    y = rng.integers(0, 11, (8, 12, 20)).astype("int32")
    history = hypermodel.fit(hp, model, x, y, validation_data=(x, y), epochs=1, verbose=0)
    assert 0.0 <= history.history["val_main_mean_iou"][0] <= 1.0
    baseline = hypermodel.build(kt.HyperParameters())  # no tap: one output
    assert list(baseline.output_names) == ["main"]
