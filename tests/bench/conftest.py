"""Synthetic replay tables, small enough to replay in a test."""

from __future__ import annotations

import pytest

from bench.replay.synthetic import synthetic_table


@pytest.fixture(scope="session")
def small_table(tmp_path_factory):
    """4 layers, a switch each, two weights (81 configurations), 3 seeds, 9 epochs."""
    return synthetic_table(tmp_path_factory.mktemp("tables") / "small", layers=4)


@pytest.fixture(scope="session")
def slot_table(tmp_path_factory):
    """5 layers, up to 2 taps (51 configurations), 5 seeds, 9 epochs."""
    return synthetic_table(tmp_path_factory.mktemp("tables") / "slots", layers=5, max_taps=2,
                           seeds=5, seed=1)
