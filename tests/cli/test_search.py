import sys

import numpy as np
import pandas as pd
import pytest

from auxsearch.cli.main import main
from tests.cli.conftest import assert_refused, images
from tests.conftest import CHANGING_BUILDER, NAN_BUILDER


def _small_space(tmp_path, hyperband):
    """The smallest search: an MLP tapped at dense2, one epoch on 40 examples; its path."""
    x, y = images()
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y)
    (tmp_path / "small.toml").write_text(
        'name = "small"\n[model]\nbuiltin = "mlp"\n[data]\nfile = "data.npz"\n'
        '[taps]\ncandidates = ["dense2"]\n[training]\nbatch_size = 32\n'
        f"[hyperband]\nmax_epochs = 1\n{hyperband}")
    return str(tmp_path / "small.toml")


def test_run_in_process_trains_writes_and_prints(tmp_path, capsys):
    # The command line's whole `run`, as small as a search gets: one trial of
    # one epoch on 40 examples, no extra baseline seeds (the e2e tests run more).
    space = _small_space(tmp_path, "baseline_seeds = 0\n")
    out = tmp_path / "run"
    assert main(["run", space, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "1 trials, 1 epochs planned" in captured.err and "[1/1 trials" in captured.err
    assert f"leaderboard: {out / 'leaderboard.csv'}" in captured.out
    board = pd.read_csv(out / "leaderboard.csv")
    assert list(board["status"]) == ["COMPLETED"] and list(board["n_taps"]) == [0]


@pytest.mark.e2e
def test_run_where_another_search_left_its_tables_says_so_in_one_line(tmp_path, capsys,
                                                                      caplog):
    # As on a fresh clone: another machine's race, noise floor and confirmation, no search/.
    space = _small_space(tmp_path, "baseline_seeds = 1\nrace_seeds = 0\n")
    out = tmp_path / "run"
    out.mkdir()
    (out / "baseline_seeds.csv").write_text("seed,score\n10001,0.123456\n")
    (out / "confirmed.csv").write_text("config,mean\n0006,0.96\n")
    (out / "race.csv").write_text("config,seed,score\n0000,10001,0.123456\n")  # the same ids
    assert main(["run", space, "--out", str(out)]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    line = (f"{out} held another search's race.csv, baseline_seeds.csv, confirmed.csv: "
            "removed unread, this run writes its own")
    assert warnings == [line]
    assert not (out / "confirmed.csv").exists()
    floor = pd.read_csv(out / "baseline_seeds.csv")
    # The same seed as theirs (the space's seed is 1), trained here: its score is this run's.
    assert list(floor["seed"]) == [10001] and floor["score"].iloc[0] != 0.123456
    assert 0.123456 not in set(pd.read_csv(out / "race.csv")["score"])


@pytest.mark.e2e
def test_run_end_to_end(tiny_space, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(tiny_space), "--out", str(out), "--max-epochs", "1", "--seed", "5"])
    captured = capsys.readouterr()
    assert code == 0
    assert "1 trials, 1 epochs planned" in captured.err
    assert "[1/1 trials" in captured.err and "(baseline: no taps)" in captured.err
    assert "top 5 by val_main_accuracy" in captured.out
    assert f"leaderboard: {out / 'leaderboard.csv'}" in captured.out
    assert (out / "leaderboard.csv").exists() and (out / "search" / "oracle.json").exists()
    assert (out / "trials.csv").exists()
    kept = (out / "space.toml").read_text()  # the space as run, overrides included
    assert "seed = 5" in kept and "max_epochs = 1" in kept


@pytest.mark.e2e
def test_default_run_directory_is_results_slash_name(tiny_space, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tiny_space), "--max-epochs", "1"]) == 0
    assert (tmp_path / "results" / "tiny" / "leaderboard.csv").exists()


@pytest.mark.e2e
@pytest.mark.parametrize("kind, code, message", [
    ("changing", 2, "error: the model builder first built 9 layers, then 10"),
    ("nan", 1, "error: 3 trials failed in a row; the last (trial 0002) failed with: "),
])
def test_a_failed_search_ends_with_one_line_and_writes_both_csvs(
        kind, code, message, tiny_space, tmp_path, monkeypatch, capsys):
    import pandas as pd

    from auxsearch.core.rundir import RunDir

    monkeypatch.chdir(tmp_path)  # the builder imports from here
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    module = f"auxsearch_cli_{kind}_builder"
    monkeypatch.delitem(sys.modules, module, raising=False)
    (tmp_path / f"{module}.py").write_text(CHANGING_BUILDER if kind == "changing"
                                           else NAN_BUILDER)
    run_dir = RunDir(tmp_path / "run")
    monkeypatch.setenv("AUXSEARCH_TEST_RUN", str(run_dir))
    text = tiny_space.read_text().replace('builtin = "digits_cnn"', f'builder = "{module}:build"')
    if kind == "nan":  # 6 trials planned: the 3rd failure in a row ends the search
        text = text.replace('["conv2", "conv5"]', '["d1"]').replace("max_epochs = 2",
                                                                  "max_epochs = 3")
    (tmp_path / "space.toml").write_text(text)
    assert main(["run", str(tmp_path / "space.toml"), "--out", str(run_dir)]) == code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), err
    assert err.strip().splitlines()[-1] == errors[0] and "Traceback" not in err
    table = pd.read_csv(run_dir.trials, dtype={"trial_id": str})
    board = pd.read_csv(run_dir.leaderboard, dtype={"config": str})
    if kind == "nan":
        assert list(table["status"]) == list(board["status"]) == ["FAILED"] * 3
        assert board["rank"].isna().all()
    else:
        assert list(table["status"])[0] == "COMPLETED" and len(table) == len(board) == 2


@pytest.mark.e2e
def test_run_logs_trials_for_tensorboard(tiny_space, tmp_path, capsys):
    logs = tmp_path / "tb"
    assert main(["run", str(tiny_space), "--out", str(tmp_path / "run"), "--max-epochs", "1",
                 "--tensorboard", str(logs)]) == 0
    assert list(logs.rglob("train/events.out.tfevents.*"))
    # Keras Tuner writes each trial's hyperparameters for the HParams plugin.
    trial_events = list(logs.glob("*/execution0/events.out.tfevents.*"))
    assert trial_events and all(b"hparams" in p.read_bytes() for p in trial_events)


@pytest.mark.e2e
@pytest.mark.parametrize("sampler", ["random", "model"])
def test_a_search_killed_mid_trial_resumes(tiny_space, tmp_path, capsys, sampler):
    import json
    import signal
    import subprocess
    import time

    import pandas as pd

    out = tmp_path / "run"
    space = tmp_path / "three.toml"
    space.write_text(tiny_space.read_text().replace("max_epochs = 2", "max_epochs = 3"))
    command = [sys.executable, "-m", "auxsearch", "run", str(space), "--out", str(out),
               "--sampler", sampler]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "search" / "trial_0004" / "trial.json"  # the 5th of 6 trials
    deadline = time.monotonic() + 120
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads(state.read_text())["status"] == "RUNNING"  # killed mid-trial

    assert main(["run", str(space), "--out", str(out), "--sampler", sampler]) == 0
    table = pd.read_csv(out / "trials.csv", dtype={"trial_id": str})
    assert sorted(table["trial_id"]) == ["0000", "0001", "0002", "0003", "0004", "0005"]
    assert set(table["status"]) == {"COMPLETED"}
    board = pd.read_csv(out / "leaderboard.csv")
    assert (board["n_taps"] == 0).sum() == 1


# --- Your own model: every kind either trains (exit 0) or is refused before
# anything is written, with one line (exit 2). Each builder is a module of its
# own in the working directory, as a user's would be.

_HEAD = "import keras\n\n\ndef build(input_shape, num_outputs, activation):\n"
_CONVS = """\
    inputs = keras.Input(input_shape, name='image')
    h = keras.layers.Conv2D(8, 3, padding='same', activation='relu', name='c1')(inputs)
    h = keras.layers.Conv2D(8, 3, padding='same', activation='relu', name='c2')(h)
    h = keras.layers.Flatten(name='flat')(h)
"""
_OUT = "    return keras.Model(inputs, keras.layers.Dense(num_outputs, activation=activation)(h))\n"

_USER_MODELS = {
    "subclassed": """\
import keras


class Net(keras.Model):
    def __init__(self):
        super().__init__(name='net')
        self.dense = keras.layers.Dense(10, activation='softmax')

    def call(self, x):
        return self.dense(keras.ops.reshape(x, (-1, 64)))


def build():
    return Net()
""",
    "wrong_input": _HEAD + """\
    inputs = keras.Input((64,))
    h = keras.layers.Dense(16, name='d1')(inputs)
    return keras.Model(inputs, keras.layers.Dense(10, activation='softmax')(h))
""",
    "two_inputs": _HEAD + """\
    a, b = keras.Input(input_shape, name='a'), keras.Input((3,), name='b')
    h = keras.layers.Concatenate(name='cat')([keras.layers.Flatten()(a), b])
    return keras.Model([a, b], keras.layers.Dense(10, activation='softmax')(h))
""",
    "main_clash": _HEAD + _CONVS.replace("name='c2'", "name='main'") + _OUT,
    "two_outputs": _HEAD + _CONVS + """\
    main = keras.layers.Dense(num_outputs, activation=activation)(h)
    return keras.Model(inputs, [main, keras.layers.Dense(2)(h)])
""",
    "logits": _HEAD + _CONVS + (
        "    return keras.Model(inputs, keras.layers.Dense(num_outputs)(h))\n"),
    "dropout_batchnorm": _HEAD + _CONVS.replace(
        "    h = keras.layers.Flatten(name='flat')(h)\n", """\
    h = keras.layers.BatchNormalization(name='bn')(h)
    h = keras.layers.Flatten(name='flat')(h)
    h = keras.layers.Dropout(0.3, name='drop')(h)
""") + _OUT,
    "mixed_precision": _HEAD + _CONVS.replace(
        "name='c1')", "name='c1', dtype='mixed_float16')").replace(
        "name='c2')", "name='c2', dtype='mixed_float16')") + """\
    out = keras.layers.Dense(num_outputs, activation=activation, dtype='float32')(h)
    return keras.Model(inputs, out)
""",
    "rescaling_first": _HEAD + _CONVS.replace(
        "(inputs)\n", "(keras.layers.Rescaling(1 / 16, name='scale')(inputs))\n", 1) + _OUT,
    "application": _HEAD + """\
    return keras.applications.MobileNetV2(weights=None, include_top=True,
                                          input_shape=input_shape, classes=num_outputs,
                                          alpha=0.35)
""",
}


def _user_space(tmp, case, data='builtin = "digits"', task="multiclass", taps=None):
    (tmp / f"user_{case}.py").write_text(_USER_MODELS[case])
    candidates = f"candidates = {taps!r}\n".replace("'", '"') if taps else ""
    (tmp / "space.toml").write_text(
        f'name = "{case}"\n[model]\nbuilder = "user_{case}:build"\n[data]\n{data}\n'
        f'task = "{task}"\n[taps]\n{candidates}[training]\nbatch_size = 128\n'
        "[hyperband]\nmax_epochs = 1\nbaseline_seeds = 0\n")
    return str(tmp / "space.toml")


@pytest.mark.parametrize("case, needles", [
    ("subclassed", ["is a subclassed keras.Model (Net)", "functional API"]),
    ("wrong_input", ["model input (None, 64) does not take data of shape (8, 8, 1)"]),
    ("two_inputs", ["the model has 2 inputs (a, b); the data has 1"]),
    ("main_clash", ["has a layer named 'main'", "rename that layer"]),
    ("two_outputs", ["has 2 outputs", "model.outputs[i]"]),
])
def test_a_user_model_that_cannot_be_searched_is_refused_first(case, needles, tmp_path,
                                                                monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    argv = ["run", _user_space(tmp_path, case), "--out", str(tmp_path / "out")]
    assert_refused(argv, needles, tmp_path, capsys, tmp_path / "out")
    assert_refused(["validate", argv[1]], needles, tmp_path, capsys)


def test_regression_on_a_ten_way_softmax_is_refused_first(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    x, _ = images()
    np.savez(tmp_path / "data.npz", x_train=x, y_train=np.linspace(0, 1, len(x)))
    monkeypatch.setitem(_USER_MODELS, "softmax10", _HEAD + _CONVS + (
        "    return keras.Model(inputs, keras.layers.Dense(10, activation='softmax')(h))\n"))
    space = _user_space(tmp_path, "softmax10", 'file = "data.npz"', "regression")
    assert_refused(["run", space, "--out", str(tmp_path / "out")],
                    ["regression targets have 1 column; the model outputs 10"], tmp_path, capsys,
                    tmp_path / "out")


@pytest.mark.e2e
@pytest.mark.parametrize("case, taps", [
    ("logits", None), ("dropout_batchnorm", None), ("mixed_precision", None),
    ("rescaling_first", None), ("application", ["block_1_project_BN", "block_2_add"]),
])
def test_a_user_model_trains(case, taps, tmp_path, monkeypatch, capsys):
    import pandas as pd

    monkeypatch.chdir(tmp_path)
    data = 'builtin = "digits"'
    if case == "application":  # 32x32x3: MobileNetV2's smallest input
        x, y = images(60, classes=3)
        x = np.repeat(np.repeat(np.repeat(x, 4, 1), 4, 2), 3, 3)
        np.savez(tmp_path / "data.npz", x_train=x, y_train=y)
        data = 'file = "data.npz"'
    elif case == "rescaling_first":  # whole-number pixels 0..16, as the digits come
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        np.savez(tmp_path / "data.npz", x_train=x[:400].reshape(-1, 8, 8, 1), y_train=y[:400])
        data = 'file = "data.npz"'
    space = _user_space(tmp_path, case, data, taps=taps)
    assert main(["run", space, "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "looks unscaled" not in err
    board = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert set(board["status"]) == {"COMPLETED"}


def test_unscaled_images_get_one_warning_at_the_start(tmp_path, monkeypatch, caplog):
    from sklearn.datasets import load_digits

    monkeypatch.chdir(tmp_path)
    x, y = load_digits(return_X_y=True)  # whole-number pixels 0..16
    np.savez(tmp_path / "data.npz", x_train=x[:300].reshape(-1, 8, 8, 1), y_train=y[:300])
    space = _user_space(tmp_path, "logits", 'file = "data.npz"')
    assert main(["validate", space]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    expected = (f"{tmp_path / 'data.npz'}: x_train looks unscaled (values up to 16, whole "
                "numbers); scale it to [0, 1], or start the model with keras.layers.Rescaling")
    assert warnings == [expected]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["worker", "--out", "{run}", "--chief", "nohost"], "'nohost' is not HOST:PORT"),
        (["worker", "--out", "{run}", "--chief", "h:1", "--id", "chief1"],
         "must not contain 'chief'"),
        (["run", "--workers", "-1", "--out", "{run}"], "--workers must be >= 0"),
        (["chief", "--out", "{run}", "--port", "70000"], "--port must be in 0..65535"),
    ],
)
def test_bad_distributed_options_are_one_line_errors(argv, message, tmp_path, capsys):
    argv = [arg.format(run=tmp_path / "run") for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
