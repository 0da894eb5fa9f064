"""Segmentation masks made from scikit-learn's 8x8 digits, at load time.

Each canvas is 12x20 pixels, one channel in [0, 1], with two digits on it:
one in its left 12x10 half and one in its right half, each at a random
offset inside its half (so they never overlap). Its mask gives every pixel
a class: 0 for background (about 76% of the pixels), d + 1 where digit d's
ink is (at least 3 of the digit's 16 grey levels; fainter pixels are
background). A pixel's class is
its digit's identity, not its ink, so a model must see a whole digit (8x8
pixels) to label any of it: a per-pixel rule cannot do better than ink or no
ink.

The source digits are split first (stratified by digit, seeded), 60/20/20,
and each split's canvases are drawn from its own digits only: no digit of
the validation or test canvases was ever seen in training. Nothing is
downloaded and nothing is written; the arrays are the same on every call.

Use it from a search space as ``loader =
"search_spaces.data.digits_segmentation:load"`` in [data] (run from the
repository root).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0
HEIGHT, WIDTH = 12, 20
INK = 3 / 16  # a pixel at least this dark is ink, and takes its digit's class
CANVASES = {"train": 1500, "val": 500, "test": 500}


def load() -> dict[str, np.ndarray]:
    """The canvases and their masks: x_train/y_train, x_val/y_val, x_test/y_test.

    Returns:
        Per split, ``x_<split>`` of shape `(n, 12, 20, 1)`, float32 in [0, 1],
        and ``y_<split>`` of shape `(n, 12, 20)`, int32 classes 0 (background)
        to 10 (digit 9); n is 1500, 500 and 500 canvases.
    """
    x, y = load_digits(return_X_y=True)
    images = (x / 16.0).reshape(-1, 8, 8).astype("float32")
    index = np.arange(len(y))
    train, rest = train_test_split(index, test_size=0.4, random_state=SEED, stratify=y)
    val, test = train_test_split(rest, test_size=0.5, random_state=SEED, stratify=y[rest])
    rng = np.random.default_rng(SEED)
    arrays = {}
    for split, pool in (("train", train), ("val", val), ("test", test)):
        canvases, masks = _canvases(images, y, pool, CANVASES[split], rng)
        arrays[f"x_{split}"], arrays[f"y_{split}"] = canvases, masks
    return arrays


def _canvases(
    images: np.ndarray, labels: np.ndarray, pool: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`n` canvases of two digits drawn from `pool`, and their masks."""
    canvases = np.zeros((n, HEIGHT, WIDTH, 1), "float32")
    masks = np.zeros((n, HEIGHT, WIDTH), "int32")
    half = WIDTH // 2
    for i in range(n):
        for left, digit in zip((0, half), rng.choice(pool, size=2, replace=False), strict=True):
            row = rng.integers(0, HEIGHT - 8 + 1)
            col = left + rng.integers(0, half - 8 + 1)
            image = images[digit]
            canvases[i, row:row + 8, col:col + 8, 0] = image
            masks[i, row:row + 8, col:col + 8] = np.where(image >= INK, labels[digit] + 1, 0)
    return canvases, masks
