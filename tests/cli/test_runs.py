import pytest

from auxsearch.cli.main import main


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
    assert ("test_main_accuracy on the test split, 2 paired seeds each; verdicts by a paired "
            "bootstrap") in captured.out
    lines = [line.strip() for line in captured.out.splitlines()]
    verdicts = [line for line in lines if "than the baseline" in line or "difference from" in line]
    assert len(verdicts) == 1 and any(line.split(":")[1].strip().startswith("the baseline")
                                      for line in lines if ": the baseline," in line)
    assert (tiny_run / "confirmed.csv").exists() and "seed 1:" in captured.err
    assert main(["export-model", str(tiny_run), "--out", str(tiny_run / "m.keras")]) == 0
    assert "auxiliary heads removed" in capsys.readouterr().out
    assert (tiny_run / "m.keras").exists()


@pytest.mark.parametrize("command", [["show"], ["export"], ["plot"], ["confirm"],
                                     ["export-model", "--out", "x.keras"]])
def test_run_commands_need_a_run_directory(command, tmp_path, capsys):
    assert main([command[0], str(tmp_path), *command[1:]]) == 2
    assert "not a run directory of a search (no space.toml)" in capsys.readouterr().err
