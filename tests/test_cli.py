import pytest

from auxsearch.cli import main


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


def test_default_run_directory_is_results_slash_name(tiny_space, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tiny_space), "--max-epochs", "1"]) == 0
    assert (tmp_path / "results" / "tiny" / "leaderboard.csv").exists()


def test_taps_lists_candidates_and_selection(tiny_space, capsys):
    assert main(["taps", str(tiny_space)]) == 0
    out = capsys.readouterr().out
    assert "7 candidate taps, 2 selected by the space" in out
    lines = {line.split()[1]: line.split()[-1] for line in out.splitlines()[2:]}
    assert lines["conv2"] == "yes" and lines["conv1"] == "-" and lines["flatten"] == "-"
    assert "(None, 8, 8, 16)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "{missing}"], "no such search-space file"),
        (["taps", "{bad}"], "unknown key 'taps.candidate' (did you mean 'taps.candidates'?)"),
        (["run", "{bad}"], "unknown key 'taps.candidate'"),
        (["run", "{unknown_layer}"], "no layer named 'conv9' in model 'digits_cnn'; did you mean"),
        (["run", "{tiny}", "--max-epochs", "0"], "--max-epochs must be >= 1; got 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, message, tiny_space, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(tiny_space.read_text().replace("candidates", "candidate"))
    unknown = tmp_path / "unknown_layer.toml"
    unknown.write_text(tiny_space.read_text().replace('"conv5"', '"conv9"'))
    paths = {"missing": tmp_path / "nope.toml", "bad": bad, "unknown_layer": unknown,
             "tiny": tiny_space}
    argv = [arg.format(**paths) for arg in argv]
    out = tmp_path / "run"
    assert main(argv + ["--out", str(out)] if argv[0] == "run" else argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_debug_shows_the_traceback(tmp_path):
    from auxsearch.errors import SpaceError

    with pytest.raises(SpaceError):
        main(["run", str(tmp_path / "nope.toml"), "--debug"])


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    assert "--max-epochs" in capsys.readouterr().out


def test_show_export_and_plot(tiny_run, capsys):
    assert main(["show", str(tiny_run), "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 configurations, 2 trained for the full budget" in out
    assert "(baseline: no taps)" in out  # shown even when not in the top rows
    (tiny_run / "leaderboard.csv").unlink()
    assert main(["export", str(tiny_run)]) == 0
    assert (tiny_run / "leaderboard.csv").exists() and (tiny_run / "trials.csv").exists()
    assert main(["plot", str(tiny_run)]) == 0
    assert (tiny_run / "leaderboard.png").read_bytes().startswith(b"\x89PNG")


def test_confirm_and_export_model(tiny_run, capsys):
    assert main(["confirm", str(tiny_run), "--top", "1", "--seeds", "2"]) == 0
    captured = capsys.readouterr()
    assert "test_main_accuracy, 2 seeds each, Welch's t-test" in captured.out
    assert (tiny_run / "confirmed.csv").exists() and "seed 1:" in captured.err
    assert main(["export-model", str(tiny_run), "--out", str(tiny_run / "m.keras")]) == 0
    assert "auxiliary heads removed" in capsys.readouterr().out
    assert (tiny_run / "m.keras").exists()


@pytest.mark.parametrize("command", [["show"], ["export"], ["plot"], ["confirm"],
                                     ["export-model", "--out", "x.keras"]])
def test_run_commands_need_a_run_directory(command, tmp_path, capsys):
    assert main([command[0], str(tmp_path), *command[1:]]) == 2
    assert "not a run directory of `auxsearch run` (no space.toml)" in capsys.readouterr().err


def test_run_logs_trials_for_tensorboard(tiny_space, tmp_path, capsys):
    logs = tmp_path / "tb"
    assert main(["run", str(tiny_space), "--out", str(tmp_path / "run"), "--max-epochs", "1",
                 "--tensorboard", str(logs)]) == 0
    assert list(logs.rglob("train/events.out.tfevents.*"))
    # Keras Tuner writes each trial's hyperparameters for the HParams plugin.
    trial_events = list(logs.glob("*/execution0/events.out.tfevents.*"))
    assert trial_events and all(b"hparams" in p.read_bytes() for p in trial_events)


def test_a_search_killed_mid_trial_resumes(tiny_space, tmp_path, capsys):
    import json
    import signal
    import subprocess
    import sys
    import time

    import pandas as pd

    out = tmp_path / "run"
    space = tmp_path / "three.toml"
    space.write_text(tiny_space.read_text().replace("max_epochs = 2", "max_epochs = 3"))
    command = [sys.executable, "-m", "auxsearch", "run", str(space), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / "search" / "trial_0004" / "trial.json"  # the 5th of 6 trials
    deadline = time.monotonic() + 120
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads(state.read_text())["status"] == "RUNNING"  # killed mid-trial

    assert main(["run", str(space), "--out", str(out)]) == 0
    table = pd.read_csv(out / "trials.csv", dtype={"trial_id": str})
    assert sorted(table["trial_id"]) == ["0000", "0001", "0002", "0003", "0004", "0005"]
    assert set(table["status"]) == {"COMPLETED"}
    board = pd.read_csv(out / "leaderboard.csv")
    assert (board["n_taps"] == 0).sum() == 1
