import subprocess
import sys

import matplotlib.image
import pytest

from auxsearch.core.errors import RunDirError
from auxsearch.results.plots import plot_run
from tests.results.conftest import TRIALS, board, confirmed, draw, write_run


def _check_png(path):
    assert path.read_bytes().startswith(b"\x89PNG")
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > height > 300


def test_writes_a_png_beside_the_leaderboard(tmp_path):
    run = write_run(tmp_path, board())
    (run / "leaderboard.png").write_bytes(b"an older figure")
    path = plot_run(run)
    assert path == tmp_path / "leaderboard.png"
    _check_png(path)
    # Nothing left behind by the atomic write.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaderboard.csv", "leaderboard.png"]


def test_overlays_confirmed_results(tmp_path):
    run = write_run(tmp_path, board(), confirmed())
    path = plot_run(str(run), out=tmp_path / "figure.png")
    assert path == tmp_path / "figure.png"
    _check_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "confirmed.csv", "figure.png", "leaderboard.csv"]


def test_header_only_leaderboard_still_gives_a_figure(tmp_path):
    _check_png(plot_run(write_run(tmp_path, board([]))))


@pytest.mark.parametrize("trials", [
    [t for t in TRIALS if t[4]],  # no baseline row
    [(c, s, 0.9 if s == "COMPLETED" else None, f, t) for c, s, _, f, t in TRIALS],  # ties
    [t for t in TRIALS if not t[4]],  # only the baseline: no taps to map
    [(c, s, v, False, t) for c, s, v, _, t in TRIALS],  # none at the full budget
    [(c, s, v and 1 - v, f, t) for c, s, v, f, t in TRIALS],  # lower is better
])
def test_odd_leaderboards_still_give_a_figure(tmp_path, trials):
    _check_png(plot_run(write_run(tmp_path, board(trials))))


def test_none_at_the_full_budget_says_so_in_the_title(tmp_path):
    trials = [(c, s, v, False, t) for c, s, v, _, t in TRIALS]
    fig = draw(write_run(tmp_path, board(trials)))
    assert fig.get_suptitle().endswith("7 of 8 configurations completed "
                                       "(none at the full budget yet)")


def test_missing_leaderboard_is_a_one_line_error(tmp_path):
    with pytest.raises(RunDirError, match="no leaderboard.csv; run a search first"):
        plot_run(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, auxsearch.results.plots; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.e2e
def test_real_run_plots_its_candidates_in_order(tiny_run):
    fig = draw(tiny_run)
    layers = [t.get_text() for t in fig.axes[2].get_xticklabels() if t.get_text()]
    assert layers == ["conv2", "conv5"]
    _check_png(plot_run(tiny_run))
