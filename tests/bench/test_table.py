"""A replay table read back: curves, truth, noise and a trial's score."""

from __future__ import annotations

import numpy as np
import pytest

from bench.replay.table import load_table


def test_a_table_reads_back_as_arrays_with_its_truth(small_table):
    table = load_table(small_table / "table.json")
    assert table.curves.shape == (81, 3, 9)
    assert table.configs[table.baseline] == {f"tap/conv{i}": False for i in range(1, 5)}
    final = table.curves[:, :, -1]
    clean = ~np.isnan(final).any(axis=1)
    assert np.allclose(table.truth[clean], final[clean].mean(axis=1))
    assert table.regret(np.arange(81)).min() == 0 and (table.regret(np.arange(81)) >= 0).all()
    assert table.epsilon == pytest.approx(np.median(table.final.std(axis=1, ddof=1)))


def test_a_diverged_training_scores_nan_and_counts_as_chance(small_table):
    table = load_table(small_table)
    config, seed = np.argwhere(np.isnan(table.curves[:, :, -1]))[0]
    assert table.final[config, seed] == table.meta["chance"]
    first_nan = int(np.argmax(np.isnan(table.curves[config, seed])))
    assert np.isnan(table.score(config, seed, 0, table.max_epochs))
    assert table.score(config, seed, 0, first_nan) == np.max(table.curves[config, seed, :first_nan])


def test_a_trial_scores_its_own_epochs_best(small_table):
    table = load_table(small_table)
    curve = table.curves[0, 1]
    assert table.score(0, 1, 3, 9) == curve[3:9].max()


def test_a_folder_without_a_table_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a replay table"):
        load_table(tmp_path)
