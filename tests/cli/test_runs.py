import pytest

from auxsearch.cli.main import _parser, main
from tests.confirmation.test_run import fake_training


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


@pytest.mark.e2e
def test_confirm_and_export_model(tiny_run, capsys):
    assert main(["confirm", str(tiny_run), "--top", "1", "--seeds", "2"]) == 0
    captured = capsys.readouterr()
    assert ("test_main_accuracy on the test split, up to 2 paired seeds each; verdicts by a "
            "paired t-test") in captured.out
    assert "\n4 of 4 trainings\ndesign: one look at 2 seeds, " in captured.out
    lines = [line.strip() for line in captured.out.splitlines()]
    verdicts = [line for line in lines if "than the baseline" in line or "difference from" in line
                or "equivalent to" in line]
    assert len(verdicts) == 1 and any(line.split(":")[1].strip().startswith("the baseline")
                                      for line in lines if ": the baseline," in line)
    assert (tiny_run / "confirmed.csv").exists() and "seed 1:" in captured.err
    assert main(["export-model", str(tiny_run), "--out", str(tiny_run / "m.keras")]) == 0
    assert "auxiliary heads removed" in capsys.readouterr().out
    assert (tiny_run / "m.keras").exists()


def test_confirm_says_what_it_spent_and_how_it_decided(tiny_run, capsys, monkeypatch):
    fake_training(monkeypatch, lambda tapped, _: 0.9 if tapped else 0.05)
    assert main(["confirm", str(tiny_run), "--top", "1", "--margin", "0.02"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("test_main_accuracy on the test split, up to 5 paired seeds each; "
                      "verdicts by a paired t-test over seeds and test examples after every "
                      "seed:")
    assert out[1].startswith("  0001: better than the baseline, +0.")  # the verdict first
    assert ", settled after 3 seeds; " in out[1] and out[2].startswith("  0000: the baseline, ")
    assert out[3] == "6 of 10 trainings (the verdicts were settled early)"
    assert out[4].startswith("design: a look after every seed from 2 to 5, O'Brien-Fleming")
    assert "; stops as equivalent within ±0.02; stops as futile below 10%" in out[4]


def test_a_committed_run_is_shown_and_never_rebuilt_from_nothing(tiny_run, capsys):
    # As committed: the CSVs, no trial states. show reads leaderboard.csv; export
    # and export-model refuse in one line and write nothing.
    import shutil

    shutil.rmtree(tiny_run / "search")
    before = {p.name: p.read_bytes() for p in tiny_run.iterdir()}
    assert main(["show", str(tiny_run)]) == 0
    assert "2 configurations, 2 trained for the full budget" in capsys.readouterr().out
    assert main(["export", str(tiny_run)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tiny_run}: no saved trials to rebuild the CSVs from (no trial states in "
        f"{tiny_run / 'search'}: a committed run keeps only its CSVs); nothing written")
    assert main(["export-model", str(tiny_run), "--out", str(tiny_run / "m.keras")]) == 2
    assert "no saved trials or checkpoints to export a model from" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tiny_run.iterdir()} == before


@pytest.mark.parametrize("command", [["show"], ["export"], ["plot"], ["confirm"],
                                     ["export-model", "--out", "x.keras"]])
def test_run_commands_need_a_run_directory(command, tmp_path, capsys):
    assert main([command[0], str(tmp_path), *command[1:]]) == 2
    assert "not a run directory of a search (no space.toml)" in capsys.readouterr().err


def test_explain_prints_a_verdict_first_then_the_table(tmp_path, capsys):
    from tests.results.test_explain import random_trials, save_search

    run = save_search(tmp_path / "run", random_trials(30))
    assert main(["explain", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("At 9 epochs, the highest budget trained (")
    assert "conv3 helps (+0.0" in lines[0] and lines[1].startswith("Importance")
    header = lines[3].split()
    assert header[:3] == ["layer", "configs_on", "configs_off"]
    assert [line.split()[0] for line in lines[4:8]] == ["conv1", "conv2", "conv3", "conv4"]
    assert lines[-1] == f"effects: {run / 'effects.csv'}" and (run / "effects.csv").is_file()
    assert main(["explain", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path}: not a run directory of a search (no space.toml)")
    # It reads tables only, so it skips TensorFlow's start-up; a search does not.
    assert _parser().parse_args(["explain", str(run)]).keras is False
    assert _parser().parse_args(["show", str(run)]).keras is True
