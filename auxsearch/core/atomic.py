"""Atomic file writes: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside `path` that replaces it on success.

    The temporary file has the same suffix (some writers, like Keras' `save`,
    insist on one) and the usual permissions. It is renamed over `path` only
    when the block ends without an exception; otherwise it is removed and
    `path` is left as it was.
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                    suffix=path.suffix)
    os.close(handle)
    temp = Path(name)
    # mkstemp makes the file private (0600); give it the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)
    try:
        yield temp
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Opens a temporary file beside `path` that replaces it on success.

    See `atomic_path`; the file is closed before it is renamed.
    """
    with atomic_path(path) as temp:
        with open(temp, mode, newline="" if "b" not in mode else None) as stream:
            yield stream


def save_json(path: str | Path, obj: object) -> str:
    """Writes `obj` as JSON atomically; returns the text (as Keras Tuner's does).

    Keras Tuner writes `oracle.json`, `trial.json` and its tuner's state in
    place: a process killed mid-write leaves a truncated file that the next
    run cannot reload. Its objects' `save` methods use this instead.
    """
    text = json.dumps(obj)
    with atomic_open(path) as stream:
        stream.write(text)
    return text
