"""The distributed mode's command-line options: checked before anything starts."""

from __future__ import annotations

import pytest

from auxsearch.cli.main import main


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
