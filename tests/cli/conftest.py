"""What the command-line tests share: refused commands, images made in memory."""

from __future__ import annotations

import numpy as np

from auxsearch.cli.main import main


def images(n=40, classes=4):
    """Random 8x8 images in [0, 1] and labels cycling through the classes."""
    x = np.random.default_rng(0).random((n, 8, 8, 1)).astype("float32")
    return x, np.arange(n) % classes


def _files(root):
    return {path: path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def assert_refused(argv, needles, root, capsys, out=None):
    """Runs the command line and checks that it refused: exit 2, one line, nothing written."""
    before = _files(root)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    assert _files(root) == before  # nothing written, nothing changed
    assert out is None or not out.exists()
