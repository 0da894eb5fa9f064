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
    assert main(["confirm", str(tiny_run), "--top", "1", "--margin", "0.02", "--seeds",
                 "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("test_main_accuracy on the test split, up to 5 paired seeds each; "
                      "verdicts by a paired t-test over seeds and test examples after every "
                      "seed:")
    assert out[1].startswith("  0001: better than the baseline, +0.")  # the verdict first
    assert ", settled after 3 seeds; " in out[1] and out[2].startswith("  0000: the baseline, ")
    assert out[3] == "6 of 10 trainings (the verdicts were settled early)"
    assert out[4].startswith("design: a look after every seed from 2 to 5, O'Brien-Fleming")
    assert "; stops as equivalent within ±0.02; from 3 seeds, stops as futile below 10%" in (
        out[4])


def test_confirm_says_when_more_seeds_would_tell(tiny_run, capsys, monkeypatch):
    # The taps train on both seeds, the baseline on the first only: not settled.
    fake_training(monkeypatch, lambda tapped, r: 0.9 if tapped or r == 0 else 0.05)
    assert main(["confirm", str(tiny_run), "--top", "1", "--seeds", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("  0001: not settled after 2 seeds (limit 2): the baseline "
                             "trained on 1 of 2, 0001 on 2 of 2; more seeds would tell (")
    assert ("not settled: one side trained on more seeds than the other; more seeds would "
            "tell (--seeds above 2)") in out
    assert " not settled" in "\n".join(out[out.index(""):])  # the table's verdict column


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
    # The replay calls the importance ranking unreliable: none is printed.
    assert lines[1].startswith("Importance: not ranked: a search's trials cannot rank layers")
    header = lines[3].split()
    assert header[:3] == ["layer", "configs_on", "configs_off"] and "importance" not in header
    assert [line.split()[0] for line in lines[4:8]] == ["conv1", "conv2", "conv3", "conv4"]
    assert lines[-1] == f"effects: {run / 'effects.csv'}" and (run / "effects.csv").is_file()
    assert main(["explain", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path}: not a run directory of a search (no space.toml)")
    # It reads tables only, so it skips TensorFlow's start-up; a search does not.
    assert _parser().parse_args(["explain", str(run)]).keras is False
    assert _parser().parse_args(["show", str(run)]).keras is True


def test_confirm_ablates_the_winner_and_ends_with_the_answer(tiny_run, capsys, monkeypatch):
    from tests.confirmation import test_ablation

    run = test_ablation.tapped_run(tiny_run, {"conv2": 0.3, "conv5": 0.05})
    test_ablation.fake_training(monkeypatch, test_ablation.needs_conv2)
    assert main(["confirm", str(run), "--top", "1", "--seeds", "5"]) == 0
    captured = capsys.readouterr()
    assert "ablation of config 0001: 2 variants, at most " in captured.err  # before it starts
    out = captured.out.splitlines()
    start = out.index("ablation of config 0001 (the winner minus each variant, on the test "
                      "split):")
    assert out[start + 1].startswith("  conv2:0.3 without it: needed, the winner minus it +0.")
    assert out[start + 2].startswith("  conv5:0.05 without it: not needed, ")
    block = out[out.index("", start) + 1:]
    assert block[0] == "answer: use conv2:0.3 (config 0001, without its not-needed taps)"
    assert block[1].startswith("gain on the test split: +0.")
    assert block[2] == "conv2:0.3 alone is as good as conv2:0.3;conv5:0.05"
    assert block[-2].startswith("taps: conv2:0.3 needed (+0.") and "conv5:0.05 not needed" in (
        block[-2])
    assert block[-1].startswith("epochs: search 4, race 8, confirm ")
    assert (run / "ablation.csv").is_file()
    # `show` prints the same block under the leaderboard.
    assert main(["show", str(run)]) == 0
    assert capsys.readouterr().out.splitlines()[-len(block):] == block


def test_confirm_no_ablation_and_weights(tiny_run, capsys, monkeypatch):
    from tests.confirmation import test_ablation

    run = test_ablation.tapped_run(tiny_run, {"conv2": 0.3, "conv5": 0.05})
    test_ablation.fake_training(monkeypatch, test_ablation.needs_conv2)
    assert main(["confirm", str(run), "--top", "1", "--seeds", "3", "--weights"]) == 0
    captured = capsys.readouterr()
    assert "ablation of config 0001: 6 variants" in captured.err
    assert "conv2:0.3 at 3x its weight: " in captured.out
    assert (run / "ablation.csv").exists()
    assert main(["confirm", str(run), "--top", "1", "--seeds", "3", "--no-ablation"]) == 0
    out = capsys.readouterr().out
    # The earlier ablation is not this confirmation's: it goes.
    assert not (run / "ablation.csv").exists() and "taps: not ablated" in out


def test_nothing_better_says_so_in_one_line(tiny_run, capsys, monkeypatch):
    fake_training(monkeypatch, lambda tapped, _: 0.5)
    assert main(["confirm", str(tiny_run), "--top", "1", "--seeds", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("answer: nothing beats the baseline on the test split; keep the "
                              "model without taps (epochs: search 4, race 8, confirm ")
    assert out[-2] == ""


@pytest.mark.e2e
def test_run_confirm_goes_on_to_the_answer(tiny_space, tmp_path, capsys):
    assert main(["run", str(tiny_space), "--out", str(tmp_path / "run"), "--confirm"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("epochs: search ") or out[-1].startswith(
        "answer: nothing beats the baseline")
    assert (tmp_path / "run" / "confirmed.csv").is_file()
