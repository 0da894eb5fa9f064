"""Confirm's finished trainings, kept in the run directory so that a killed confirm resumes.

Each training's per-example test scores go to a file of their own in
`confirm_scores/` as soon as it ends, written atomically (a kill leaves the
file whole or absent). A file holds its key beside the scores: the run id,
the configuration and its hyperparameter values, the seed, and the settings
that change what confirm concludes (the configurations confirmed, the seed
limit, the margin, and a fingerprint of the test split). A confirm reuses
only the files whose key is its own, so a resumed confirm replays the same
scores through the same looks and reaches the same verdicts; one with other
settings, or of another search, trains afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from auxsearch.core.atomic import atomic_path
from auxsearch.data.dataset import Inputs, named_inputs

logger = logging.getLogger(__name__)

_SCORES = "scores"  # the per-example scores, in the archive
_KEY = "key"  # the key, as JSON text


def split_fingerprint(x: Inputs, y: np.ndarray) -> str:
    """A digest of a split's arrays: names, shapes, dtypes and bytes.

    Args:
        x: The split's inputs (one array, or named ones).
        y: Its labels.

    Returns:
        A SHA-256 hex digest: another split, or another file on disk, gives another.
    """
    digest = hashlib.sha256()
    for name, array in [*named_inputs(x, "x"), ("y", y)]:
        array = np.ascontiguousarray(array)
        digest.update(f"{name}:{array.shape}:{array.dtype.str};".encode())
        digest.update(array.data)
    return digest.hexdigest()


class ScoreStore:
    """The finished trainings of one confirm, by configuration and seed.

    Args:
        folder: Where the files go (`RunDir.confirm_scores`); made on the first `put`.
        settings: What, besides the configuration and the seed, decides
            whether a saved training is this confirm's: the run id and the
            settings that change the answer (JSON-serialisable).
    """

    def __init__(self, folder: str | Path, settings: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.settings = settings

    def get(self, config: str, values: dict[str, Any], seed: int) -> np.ndarray | None:
        """The saved per-example scores of a training, or None if it has none.

        A file that cannot be read (damaged by hand; a kill never leaves one
        half-written) counts as none: the training runs again.
        """
        path, key = self._path(config, values, seed)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                if json.loads(str(saved[_KEY])) != key:  # a digest collision, in theory
                    return None
                return np.array(saved[_SCORES])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            logger.warning("%s: cannot be read (%s); trained again", path, err)
            return None

    def put(self, config: str, values: dict[str, Any], seed: int, scores: np.ndarray) -> Path:
        """Saves a finished training's per-example scores; returns the file."""
        path, key = self._path(config, values, seed)
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temp:
            np.savez(temp, **{_SCORES: np.asarray(scores), _KEY: np.array(json.dumps(key))})
        return path

    def _path(self, config: str, values: dict[str, Any], seed: int
              ) -> tuple[Path, dict[str, Any]]:
        # JSON round-trips the key as it is compared on reading (tuples as lists).
        key = json.loads(json.dumps({**self.settings, "config": config, "values": values,
                                     "seed": seed}, sort_keys=True, default=str))
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return self.folder / f"{config}_seed{seed}_{digest}.npz", key
