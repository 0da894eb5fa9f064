import io

import keras_tuner as kt

from auxsearch.cli.progress import SearchProgress, describe_trial
from auxsearch.core import names


def _trial(trial_id, values, score=0.9, status="COMPLETED", seconds=2.0):
    hp = kt.HyperParameters()
    hp.values.update(values)
    trial = kt.engine.trial.Trial(hp, trial_id=trial_id, status=status)
    trial.score = score
    trial.metrics.register(names.TRIAL_SECONDS)
    trial.metrics.update(names.TRIAL_SECONDS, seconds)
    return trial


class _Oracle:
    def __init__(self, trials):
        self.trials = {t.trial_id: t for t in trials}
        self.objective = kt.Objective("val_main_accuracy", "max")


def test_describe_trial():
    trial = _trial("0004", {"tap/c1": True, "weight/c1": 0.3141, "tap/c2": False})
    assert describe_trial(trial, "val_main_accuracy", 3) == (
        "trial 0004  c1:0.31  val_main_accuracy 0.9000  3 ep  2.0s")
    baseline = _trial("0005", {"tap/c1": False}, status="FAILED")
    assert describe_trial(baseline, "val_main_accuracy", 9).startswith(
        "trial 0005  (baseline: no taps)  failed  9 ep")


def test_a_trial_that_failed_before_it_reported_has_no_time():
    hp = kt.HyperParameters()
    hp.values.update({"tap/c1": True, "weight/c1": 0.5})
    trial = kt.engine.trial.Trial(hp, trial_id="0002", status="FAILED")  # no metrics at all
    assert describe_trial(trial, "val_main_accuracy", 1) == "trial 0002  c1:0.5  failed  1 ep"
    stream = io.StringIO()
    SearchProgress(total_trials=2, total_epochs=2, stream=stream)(trial, _Oracle([trial]))
    assert stream.getvalue().endswith("trial 0002  c1:0.5  failed  0 ep\n")


def test_a_failed_trial_says_why_in_its_line():
    hp = kt.HyperParameters()
    hp.values.update({"tap/c1": False})
    trial = kt.engine.trial.Trial(hp, trial_id="0001", status="FAILED")
    trial.message = "Traceback (most recent call last):\n  ...\nValueError: shapes differ\n"
    assert describe_trial(trial, "val_main_accuracy", 2) == (
        "trial 0001  (baseline: no taps)  failed (ValueError: shapes differ)  2 ep")


def test_progress_lines_in_a_log():
    stream = io.StringIO()
    progress = SearchProgress(total_trials=4, total_epochs=10, stream=stream)
    progress.start()
    first = _trial("0000", {"tap/c1": False, "tuner/epochs": 3, "tuner/initial_epoch": 0})
    progress(first, _Oracle([first]))
    second = _trial("0001", {"tap/c1": True, "weight/c1": 0.5, "tuner/epochs": 3,
                             "tuner/initial_epoch": 0})
    progress(second, _Oracle([first, second]))
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[1/4 trials  0:00 elapsed  ~? left] trial 0000  (baseline")
    assert lines[1].startswith("[2/4 trials  0:00 elapsed  ~0:00 left]") and "c1:0.5" in lines[1]
