"""The one close-match helper."""

from auxsearch.core.suggest import close_matches, did_you_mean


def test_did_you_mean():
    assert did_you_mean("adamm", ["adam", "sgd"]) == " (did you mean 'adam'?)"
    assert did_you_mean("zzz", ["adam", "sgd"]) == ""
    assert did_you_mean("candidate", ["candidates"], prefix="taps.") == (
        " (did you mean 'taps.candidates'?)")
    assert did_you_mean("conv9", ["conv1", "conv5", "dense"], n=2) == (
        " (did you mean 'conv5' or 'conv1'?)")  # closest first


def test_close_matches_takes_any_values():
    assert close_matches(3, [1, 2, 3]) == ["3"]
