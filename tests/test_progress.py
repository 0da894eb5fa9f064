import io

import keras_tuner as kt

from auxsearch.progress import SearchProgress, describe_trial


def _trial(trial_id, values, score=0.9, status="COMPLETED", seconds=2.0):
    hp = kt.HyperParameters()
    hp.values.update(values)
    trial = kt.engine.trial.Trial(hp, trial_id=trial_id, status=status)
    trial.score = score
    trial.metrics.register("trial_seconds")
    trial.metrics.update("trial_seconds", seconds)
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
