"""Atomic file writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Opens a temporary file beside `path` that replaces it on success.

    The temporary file is renamed over `path` only when the block ends without
    an exception; otherwise it is removed and `path` is left as it was.
    """
    path = Path(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    # mkstemp makes the file private (0600); give it the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)
    try:
        with os.fdopen(handle, mode, newline="" if "b" not in mode else None) as stream:
            yield stream
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
