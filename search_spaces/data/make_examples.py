"""Writes the example data files next to this script, reproducibly.

Run ``python search_spaces/data/make_examples.py``. Everything comes from
scikit-learn's bundled data sets (no download); the files are byte-for-byte
the same on every run (fixed seeds, fixed zip timestamps).

- breast_cancer.csv: binary; label column ``malignant`` (1 = malignant).
- diabetes.npz: regression; standardised x and y; x_train/y_train, x_test/y_test.
- digits_hints.npz: multiclass 8x8 digits, x (n, 8, 8, 1) in [0, 1];
  x_train/y_train, x_val/y_val and hint targets ``hint/conv6``,
  ``hint_val/conv6``: each image's first 16 PCA components, standardised
  (a stand-in for a teacher's features).
- digits_two_inputs.npz: multiclass 8x8 digits as two named inputs, for a
  model with two inputs: ``x_train/image`` (n, 8, 8, 1) in [0, 1] and
  ``x_train/stats`` (n, 6), simple per-image statistics, standardised (ink
  mean and spread, inked share, centre of mass row and column, top-half
  share of ink); y_train, and x_val/image, x_val/stats, y_val likewise.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
SEED = 0


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Like numpy.savez_compressed, with fixed timestamps: reproducible bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def breast_cancer() -> None:
    frame = datasets.load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "malignant", 1 - frame.pop("target"))  # sklearn: 0 = malignant
    frame.to_csv(HERE / "breast_cancer.csv", index=False, float_format="%.5g")


def diabetes() -> None:
    x, y = datasets.load_diabetes(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    y = (y - y.mean()) / y.std()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=SEED)
    f32 = {"dtype": "float32"}
    save_npz(HERE / "diabetes.npz",
             x_train=x_train.astype(**f32), y_train=y_train.astype(**f32),
             x_test=x_test.astype(**f32), y_test=y_test.astype(**f32))


def digits_hints() -> None:
    x, y = datasets.load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.2, random_state=SEED, stratify=y)
    pca = PCA(n_components=16, svd_solver="full").fit(x_train)
    hint_train, hint_val = pca.transform(x_train), pca.transform(x_val)
    mean, std = hint_train.mean(0), hint_train.std(0)

    def image(a):
        return a.reshape(-1, 8, 8, 1).astype("float32")

    save_npz(HERE / "digits_hints.npz",
             x_train=image(x_train), y_train=y_train.astype("int32"),
             x_val=image(x_val), y_val=y_val.astype("int32"),
             **{"hint/conv6": ((hint_train - mean) / std).astype("float32"),
                "hint_val/conv6": ((hint_val - mean) / std).astype("float32")})


def image_stats(images: np.ndarray) -> np.ndarray:
    """Six statistics of each (8, 8) image in [0, 1]: (n, 6) float64."""
    ink = images.sum((1, 2)) + 1e-9
    grid = np.arange(8) / 7.0
    return np.stack([
        images.mean((1, 2)),                          # ink mean
        images.std((1, 2)),                           # ink spread
        (images > 0.5).mean((1, 2)),                  # share of inked pixels
        (images.sum(2) * grid).sum(1) / ink,          # centre of mass: row
        (images.sum(1) * grid).sum(1) / ink,          # centre of mass: column
        images[:, :4].sum((1, 2)) / ink,              # share of ink in the top half
    ], axis=1)


def digits_two_inputs() -> None:
    x, y = datasets.load_digits(return_X_y=True)
    images = (x / 16.0).reshape(-1, 8, 8)
    stats = image_stats(images)
    index_train, index_val = train_test_split(
        np.arange(len(y)), test_size=0.2, random_state=SEED, stratify=y)
    mean, std = stats[index_train].mean(0), stats[index_train].std(0)
    stats = (stats - mean) / std
    arrays = {}
    for split, index in (("train", index_train), ("val", index_val)):
        arrays[f"x_{split}/image"] = images[index, :, :, None].astype("float32")
        arrays[f"x_{split}/stats"] = stats[index].astype("float32")
        arrays[f"y_{split}"] = y[index].astype("int32")
    save_npz(HERE / "digits_two_inputs.npz", **arrays)


if __name__ == "__main__":
    breast_cancer()
    diabetes()
    digits_hints()
    digits_two_inputs()
