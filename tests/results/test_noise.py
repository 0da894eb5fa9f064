import pandas as pd
import pytest

from auxsearch.core.rundir import RunDir
from auxsearch.results.noise import noise_floor, noise_verdict


def _board(score=0.95, full_budget=True):
    return pd.DataFrame({"n_taps": [2, 0], "full_budget": [True, full_budget],
                         "status": ["COMPLETED", "COMPLETED"], "score": [0.99, score]})


def test_the_floor_counts_the_search_baseline_and_its_extra_seeds(tmp_path):
    pd.DataFrame({"seed": [1, 2], "score": [0.94, 0.96]}).to_csv(
        RunDir(tmp_path).baseline_seeds, index=False)
    mean, std, seeds = noise_floor(tmp_path, _board())
    assert (mean, seeds) == (pytest.approx(0.95), 3) and std == pytest.approx(0.01)
    # A baseline short of the full budget is not a seed of the full-budget baseline.
    assert noise_floor(tmp_path, _board(full_budget=False))[2] == 2


def test_fewer_than_two_scores_give_no_floor(tmp_path):
    assert noise_floor(tmp_path, _board()) is None


@pytest.mark.parametrize("score, verdict", [(0.98, "beyond"), (0.96, "within"),
                                            (None, None), (float("nan"), None)])
def test_a_score_is_beyond_two_standard_deviations_or_within(score, verdict):
    assert noise_verdict(score, (0.95, 0.01, 3)) == verdict


def test_no_floor_gives_no_verdict():
    assert noise_verdict(0.99, None) is None
