import math

import pandas as pd
import pytest

from auxsearch.confirmation import FILENAME, confirm
from auxsearch.errors import AuxSearchError


def test_confirm_retrains_top_and_baseline_on_the_test_split(tiny_run):
    seen = []
    table = confirm(tiny_run, top=1, seeds=2, on_score=lambda *a: seen.append(a))
    assert len(seen) == 4 and len(table) == 2
    assert list(table.columns) == [
        "config", "taps", "n_taps", "baseline", "seeds", "metric", "mean", "std",
        "ci_low", "ci_high", "delta_vs_baseline", "p_value", "significant", "scores"]
    assert set(table["metric"]) == {"test_main_accuracy"}
    baseline = table[table["baseline"]].iloc[0]
    tapped = table[~table["baseline"]].iloc[0]
    assert baseline["n_taps"] == 0 and tapped["n_taps"] > 0
    for row in (baseline, tapped):
        scores = [float(v) for v in row["scores"].split(";")]
        assert len(scores) == 2 and row["mean"] == pytest.approx(sum(scores) / 2, abs=1e-4)
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
        assert all(0 <= v <= 1 for v in scores)
    assert math.isnan(baseline["p_value"]) and baseline["delta_vs_baseline"] == 0
    assert 0 <= tapped["p_value"] <= 1
    assert tapped["delta_vs_baseline"] == pytest.approx(tapped["mean"] - baseline["mean"])
    assert tapped["significant"] == (tapped["p_value"] < 0.05)
    on_disk = pd.read_csv(tiny_run / FILENAME, dtype={"config": str})
    assert list(on_disk["config"]) == list(table["config"])


def test_confirm_needs_a_test_split(tiny_run):
    space = (tiny_run / "space.toml").read_text().replace("test_fraction = 0.2",
                                                          "test_fraction = 0.0")
    (tiny_run / "space.toml").write_text(space)
    with pytest.raises(AuxSearchError, match="test_fraction is 0, so there is no test split"):
        confirm(tiny_run, top=1, seeds=1)


def test_confirm_refuses_bad_counts(tiny_run):
    with pytest.raises(AuxSearchError, match="--top and --seeds must be >= 1; got 1 and 0"):
        confirm(tiny_run, top=1, seeds=0)
