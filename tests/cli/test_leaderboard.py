import pandas as pd

from auxsearch.cli.leaderboard import noise_summary, print_flags, print_noise, summary
from auxsearch.core.rundir import RunDir


def _board(noise=(None, None, None)):
    """A leaderboard: the best, a partial configuration, the baseline, a failure."""
    return pd.DataFrame({
        "rank": pd.array([1, 2, 3, None], dtype="Int64"),
        "config": ["0000", "0004", "0002", "0001"],
        "status": ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"],
        "score": [0.96, 0.8, 0.95, None], "full_budget": [True, False, True, False],
        "delta_vs_baseline": [0.01, 0.3, 0.0, float("nan")], "noise": [*noise, None],
        "flag": [None, "at chance level: 0.8 vs 0.1", None, None], "n_taps": [2, 1, 0, 1],
        "taps": ["c1:0.31;c2:0.054", "c2:0.5", "", "c2:0.2"], "epochs": [3, 1, 3, 1],
        "trials": ["0000>0003", "0004", "0002", "0001"]})


def test_summary_shows_the_top_rows_and_the_baseline():
    text = summary(_board(), 1).splitlines()
    assert text[0].split() == ["rank", "config", "taps", "score", "delta_vs_baseline",
                               "epochs", "trials"]
    assert text[1].split() == ["1", "0000", "c1:0.31;c2:0.054", "0.9600", "+0.0100", "3",
                               "0000>0003"]
    assert text[2].split() == ["3", "0002", "(baseline:", "no", "taps)", "0.9500", "+0.0000",
                               "3", "0002"]
    assert len(text) == 3


def test_summary_marks_partial_budgets_and_noise():
    text = summary(_board(noise=("beyond", None, "within")), 2).splitlines()
    assert text[0].split()[5] == "noise"
    assert text[1].split()[5] == "beyond"
    assert text[2].split()[-3:] == ["1", "(partial)", "0004"]


def test_the_noise_line_needs_two_baseline_scores(tmp_path, capsys):
    assert noise_summary(tmp_path, _board()) is None
    print_noise(tmp_path, _board())
    assert capsys.readouterr().out == ""
    pd.DataFrame({"seed": [1], "score": [0.97]}).to_csv(RunDir(tmp_path).baseline_seeds,
                                                        index=False)
    print_noise(tmp_path, _board())
    assert capsys.readouterr().out == (
        "  baseline over 2 seeds: 0.9600 +- 0.0141 (mean +- sd); a score further than 2 sd "
        "from that mean is marked beyond noise (rough with few seeds: `confirm` tests it)\n")


def test_flags_name_the_configuration(capsys):
    print_flags(_board())
    assert capsys.readouterr().out == (
        "  flagged: config 0004 (c2:0.5): at chance level: 0.8 vs 0.1\n")
    print_flags(_board().drop(columns="flag"))
    assert capsys.readouterr().out == ""
