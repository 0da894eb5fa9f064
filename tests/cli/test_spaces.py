from auxsearch.cli.main import main


def test_taps_lists_candidates_and_selection(tiny_space, capsys):
    assert main(["taps", str(tiny_space)]) == 0
    out = capsys.readouterr().out
    assert "7 candidate taps, 2 selected by the space" in out
    lines = {line.split()[1]: line.split()[-1] for line in out.splitlines()[2:]}
    assert lines["conv2"] == "yes" and lines["conv1"] == "-" and lines["flatten"] == "-"
    assert "(None, 8, 8, 16)" in out


def test_validate_checks_without_training(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    space = Path(__file__).resolve().parents[2] / "search_spaces" / "residual_penalty.toml"
    assert main(["validate", str(space)]) == 0
    out = capsys.readouterr().out
    assert f"{space}: valid" in out
    assert "3 candidates of 15 tappable layers: block1_add, block2_add, block3_add" in out
    # Each tap: off, or a head of 2 widths or a penalty, times 3 schedules: 10^3.
    assert "1,000 tap configurations" in out
    assert "val_main_accuracy max" in out and "23 trials, 75 epochs" in out
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_taps_and_validate_default_to_the_embedded_space(tmp_path, monkeypatch, capsys):
    from auxsearch.core.space import default_space_path

    monkeypatch.chdir(tmp_path)
    assert main(["taps"]) == 0
    assert capsys.readouterr().out.startswith("digits_cnn: model 'digits_cnn'")
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith(f"{default_space_path()}: valid")
    assert list(tmp_path.iterdir()) == []
