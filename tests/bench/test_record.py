"""Recording a table with the search's own trial code (trains: e2e)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from auxsearch.core.space import load_space
from bench.replay.__main__ import main
from bench.replay.record import weight_grid
from bench.replay.table import load_table


def test_the_default_grid_stands_for_the_log_range():
    assert weight_grid(0.01, 1.0, 2) == (0.032, 0.32)
    assert weight_grid(0.001, 0.1, 1) == (0.01,)


@pytest.mark.e2e
def test_a_recorded_table_replays_and_grows_by_seeds(tiny_space, tmp_path, capsys):
    space = tmp_path / "one.toml"
    space.write_text(tiny_space.read_text().replace('["conv2", "conv5"]', '["conv2"]')
                     .replace("max_epochs = 2", "max_epochs = 3"))
    out = tmp_path / "table"
    argv = ["record", str(space), "--out", str(out), "--weights", "0.1,0.5", "--chains", "1"]
    assert main(argv) == 0
    table = load_table(out)
    assert [c["taps"] for c in table.meta["configs"]] == ["", "conv2:0.1", "conv2:0.5"]
    assert table.curves.shape == (3, 3, 3) and not np.isnan(table.curves).any()
    assert 0.0 < table.meta["chance"] < 0.2 and table.meta["paired"] is True
    [chain] = table.meta["chains"]
    assert chain["ends"] == [1, 3] and len(chain["scores"]) == 2
    assert (np.diff(table.seconds, axis=2) > 0).all()  # cumulative seconds
    assert main(argv[:2] + ["--out", str(out), "--weights", "0.1,0.5", "--seeds", "4",
                            "--chains", "0"]) == 0
    grown = load_table(out)
    assert grown.curves.shape == (3, 4, 3)
    assert np.array_equal(grown.curves[:, :3], table.curves)
    assert json.loads((out / "table.json").read_text())["record"]["trainings"] == 12
    assert main(["record", str(space), "--out", str(tmp_path / "t2"), "--seeds", "2"]) == 2
    assert "--seeds must be at least 3" in capsys.readouterr().err
    assert load_space(space).name == table.name
