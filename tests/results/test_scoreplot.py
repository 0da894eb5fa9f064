from tests.results.conftest import TRIALS, axes, board, confirmed, draw, write_run


def _labels(fig):
    return [t.get_text() for t in axes(fig)["scores"].get_yticklabels()]


def test_accuracy_axis_stays_inside_0_1(tmp_path):
    # Two baseline seeds far apart: mean +- 2 sd runs from below 0 to above 1.
    fig = draw(write_run(tmp_path, board(), baseline_seeds=[0.1, 0.9]))
    assert axes(fig)["scores"].get_xlim() == (0.0, 1.0)


def test_errors_axis_starts_at_0(tmp_path):
    trials = [(c, s, v and 30 * (1 - v), f, t) for c, s, v, f, t in TRIALS]  # MAE-like
    errors = board(trials).assign(objective="val_main_mae")
    # The baseline's band, mean +- 2 sd, runs below 0; the errors above 1.
    fig = draw(write_run(tmp_path, errors, baseline_seeds=[0.1, 3.0]))
    low, high = axes(fig)["scores"].get_xlim()
    assert low == 0 and high > 3


def test_verdicts_and_training_failures_are_marked(tmp_path):
    fig = draw(write_run(tmp_path, board(), confirmed(baseline_trained="1/3")))
    labels = _labels(fig)
    assert labels[0] == "conv2:0.31;conv3:0.05\nbetter, trained 3/3"
    assert "conv3:0.12\nno detectable difference, trained 2/3" in labels
    assert "baseline (no taps)\ntrained 1/3" in labels
    legend = [t.get_text() for t in axes(fig)["scores"].get_legend().get_texts()]
    assert {"confirmed: better", "confirmed: worse", "confirmed: no detectable difference",
            "confirmed: the baseline"} <= set(legend)


def test_trained_counts_only_where_some_seed_failed(tmp_path):
    fig = draw(write_run(tmp_path, board(), confirmed().assign(trained="3/3")))
    labels = _labels(fig)
    assert not any("trained" in label for label in labels)
    assert labels[0] == "conv2:0.31;conv3:0.05\nbetter"


def test_seed_noise_is_marked(tmp_path):
    fig = draw(write_run(tmp_path, board(noise=True), baseline_seeds=[0.949, 0.953]))
    scores = axes(fig)["scores"]
    hatched = [bar.get_hatch() for bar in scores.containers[0]]
    # 0003 and 0007 are beyond the noise; 0001, 0005, 0009 within; the baseline is not marked.
    assert hatched == [None, None, "//", None, "//", "//"]
    legend = [t.get_text() for t in scores.get_legend().get_texts()]
    assert "within the baseline's seed noise" in legend
    assert "baseline over 3 seeds: mean ± 2 sd" in legend
