"""The answer block, read from a run's files: what to use, the gain, the taps, the epochs."""

import pandas as pd

from auxsearch.confirmation.answer import answer, phase_epochs, tap_line
from auxsearch.core.rundir import RunDir


def confirmed(verdict="better", seeds="1003;2003;3003"):
    n = len(seeds.split(";"))
    return pd.DataFrame({
        "config": ["0001", "0000"], "taps": ["conv2:0.3;conv4:0.1;conv5:0.05", ""],
        "metric": "test_main_accuracy", "baseline": [False, True], "seeds": [seeds, seeds],
        "n_seeds": [n, n], "delta_vs_baseline": [0.31, 0.0], "delta_low": [0.12, None],
        "delta_high": [0.45, None], "verdict": [verdict, ""]})


def ablation(smallest="not needed"):
    rows = [("conv2:0.3", "without", 0.3, 0.1, 0.5, "needed", "1003;2003;3003"),
            ("conv4:0.1", "without", 0.001, -0.004, 0.006, "not needed", "1003;2003"),
            ("conv5:0.05", "without", 0.0, -0.005, 0.005, "not needed", "1003;2003;3003;4003"),
            ("conv2:0.3", "smallest", 0.002, -0.003, 0.007, smallest, "1003;2003")]
    return pd.DataFrame([("0001", *row) for row in rows], columns=[
        "config", "tap", "variant", "difference", "low", "high", "verdict", "seeds"])


def test_the_block_says_what_to_use_its_gain_the_taps_and_the_epochs(tiny_run):
    run_dir = RunDir(tiny_run)
    confirmed().to_csv(run_dir.confirmed, index=False)
    ablation().to_csv(run_dir.ablation, index=False)
    lines = answer(run_dir)
    assert 3 <= len(lines) <= 6
    assert lines[0] == "answer: use conv2:0.3 (config 0001, without its not-needed taps)"
    assert lines[1].startswith("gain on the test split: +0.310 [+0.120, +0.450] over the "
                               "baseline (test_main_accuracy, config 0001, better after 3")
    assert lines[2] == "conv2:0.3 alone is as good as conv2:0.3;conv4:0.1;conv5:0.05"
    assert lines[3] == ("taps: conv2:0.3 needed (+0.300 [+0.100, +0.500] without it); "
                        "conv4:0.1 not needed; conv5:0.05 not needed")
    # Search: its trials' epochs (2 + 2); race: 4 trainings of 2 epochs; confirm: 3 + 3
    # seeds; ablation: 3 + 2 + 4 + 2 seeds, and the winner's 4th seed (confirm gave it 3).
    assert phase_epochs(run_dir) == {"search": 4, "race": 8, "confirm": 12, "ablation": 24}
    assert lines[4] == "epochs: search 4, race 8, confirm 12, ablation 24"


def test_a_smallest_not_shown_as_good_leaves_the_winner(tiny_run):
    run_dir = RunDir(tiny_run)
    confirmed().to_csv(run_dir.confirmed, index=False)
    ablation("not settled").to_csv(run_dir.ablation, index=False)
    assert answer(run_dir)[0] == "answer: use conv2:0.3;conv4:0.1;conv5:0.05 (config 0001)"


def test_nothing_better_is_one_line(tiny_run):
    run_dir = RunDir(tiny_run)
    confirmed("no detectable difference").to_csv(run_dir.confirmed, index=False)
    assert answer(run_dir) == [("answer: nothing beats the baseline on the test split; keep the "
                            "model without taps (epochs: search 4, race 8, confirm 12, "
                            "ablation 0)")]


def test_without_ablation_the_taps_are_not_known_and_without_confirm_no_block(tiny_run):
    run_dir = RunDir(tiny_run)
    assert answer(run_dir) is None
    confirmed().to_csv(run_dir.confirmed, index=False)
    lines = answer(run_dir)
    assert lines[0] == "answer: use conv2:0.3;conv4:0.1;conv5:0.05 (config 0001)"
    assert lines[2].startswith("taps: not ablated (confirm --no-ablation)")
    assert len(lines) == 4


def test_a_tap_line_reads_as_a_sentence():
    row = ablation().iloc[0]
    assert tap_line(row) == ("conv2:0.3 without it: needed, the winner minus it +0.300 "
                             "[+0.100, +0.500] after 3 seeds")
