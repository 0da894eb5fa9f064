import pathlib

import numpy as np
import pytest

from auxsearch.data import (
    check_dataset, load_csv, load_data, load_digits, load_npz, split,
)
from auxsearch.errors import DataError

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "search_spaces" / "data"


def test_digits_splits_are_stratified_disjoint_and_seeded():
    data = load_digits(seed=1, validation_fraction=0.2, test_fraction=0.2)
    n = len(data.y_train) + len(data.y_val) + len(data.y_test)
    assert n == 1797 and data.num_classes == 10 and data.input_shape == (8, 8, 1)
    assert abs(len(data.y_val) - 0.2 * n) <= 1 and abs(len(data.y_test) - 0.2 * n) <= 1
    assert data.x_train.dtype == np.float32 and 0 <= data.x_train.min() and data.x_train.max() <= 1
    for labels in (data.y_val, data.y_test):  # every class in proportion
        assert np.bincount(labels, minlength=10).min() >= len(labels) // 10 - 2
    rows = {x.tobytes() for x in data.x_train}
    assert not any(x.tobytes() in rows for x in data.x_test)
    again = load_digits(seed=1, validation_fraction=0.2, test_fraction=0.2)
    np.testing.assert_array_equal(again.y_test, data.y_test)
    other = load_digits(seed=2, validation_fraction=0.2, test_fraction=0.2)
    assert not np.array_equal(other.y_test, data.y_test)


def test_no_test_split():
    data = load_digits(seed=1, validation_fraction=0.25, test_fraction=0.0)
    assert len(data.y_test) == 0 and abs(len(data.y_val) - 0.25 * 1797) <= 1


# --- files: npz, csv, the examples, and what is refused ----------------------


def _arrays(n=60, classes=3, features=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)), np.arange(n) % classes


def test_npz_without_val_or_test_is_split_stratified_and_seeded(tmp_path):
    x, y = _arrays(100, classes=4)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    data = load_npz(tmp_path / "d.npz", "multiclass", seed=1)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (60, 20, 20)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int32
    assert np.bincount(data.y_val).tolist() == [5, 5, 5, 5]
    assert (data.num_classes, data.num_outputs, data.activation) == (4, 4, "softmax")
    assert data.input_shape == (4,) and data.hints == {}
    again = load_npz(tmp_path / "d.npz", "multiclass", seed=1, test_fraction=0.0)
    assert len(again.y_test) == 0 and len(again.y_val) == 20


def test_npz_with_val_and_test_is_taken_as_is(tmp_path):
    x, y = _arrays(30)
    np.savez(tmp_path / "d.npz", x_train=x[:20], y_train=y[:20], x_val=x[20:25],
             y_val=y[20:25], x_test=x[25:], y_test=y[25:])
    data = load_npz(tmp_path / "d.npz", "multiclass", seed=1)
    np.testing.assert_array_equal(data.y_val, y[20:25])
    np.testing.assert_allclose(data.x_test, x[25:], rtol=1e-6)


def test_hints_are_split_along_with_x(tmp_path):
    x, y = _arrays(100)
    hint = np.stack([x[:, 0] * 2, -x[:, 1]], axis=1)  # a function of the row
    np.savez(tmp_path / "h.npz", x_train=x, y_train=y, **{"hint/dense1": hint})
    data = load_npz(tmp_path / "h.npz", "multiclass", seed=3)
    train, val = data.hints["dense1"]
    assert train.shape == (60, 2) and val.shape == (20, 2) and train.dtype == np.float32
    for xs, hs in ((data.x_train, train), (data.x_val, val)):
        np.testing.assert_allclose(hs, np.stack([xs[:, 0] * 2, -xs[:, 1]], 1), rtol=1e-5)


def test_csv_binary(tmp_path):
    x, y = _arrays(40, classes=2, features=3)
    lines = ["a,label,b,c"] + [f"{r[0]},{t},{r[1]},{r[2]}" for r, t in zip(x, y)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    data = load_csv(tmp_path / "t.csv", "label", "binary", seed=0,
                    validation_fraction=0.25, test_fraction=0.25)
    assert data.x_train.shape == (20, 3) and data.x_train.dtype == np.float32
    assert data.y_train.dtype == np.float32 and data.y_train.shape == (20,)
    assert set(data.y_val.tolist()) == {0.0, 1.0}
    assert (data.num_classes, data.num_outputs, data.activation) == (2, 1, "sigmoid")


def test_regression_keeps_target_shape_and_splits_unstratified():
    x, _ = _arrays(50)
    y = np.stack([x.sum(1), x[:, 0]], 1)
    data = split(x, y, seed=0, validation_fraction=0.2, test_fraction=0.2,
                 task="regression")
    assert data.y_train.shape == (30, 2) and data.y_train.dtype == np.float32
    assert (data.num_classes, data.num_outputs, data.activation) == (None, 2, "linear")
    flat = split(x, y[:, 0], seed=0, validation_fraction=0.2, test_fraction=0.0,
                 task="regression")
    assert flat.y_train.shape == (40,) and flat.num_outputs == 1


def test_the_example_files_load():
    cancer = load_data(str(EXAMPLES / "breast_cancer.csv"), "binary", 0, 0.2, 0.2,
                       label="malignant")
    assert cancer.input_shape == (30,) and cancer.num_outputs == 1
    assert len(cancer.y_train) + len(cancer.y_val) + len(cancer.y_test) == 569
    diabetes = load_data(str(EXAMPLES / "diabetes.npz"), "regression", 0, 0.2, 0.2)
    assert diabetes.input_shape == (10,) and diabetes.num_outputs == 1
    assert len(diabetes.y_test) == 89 and len(diabetes.y_train) + len(diabetes.y_val) == 353
    digits = load_data(EXAMPLES / "digits_hints.npz", "multiclass", 0, 0.2, 0.2)
    assert digits.input_shape == (8, 8, 1) and digits.num_classes == 10
    train, val = digits.hints["conv6"]
    assert train.shape == (len(digits.x_train), 16) and val.shape == (len(digits.x_val), 16)
    for path in EXAMPLES.iterdir():
        assert path.stat().st_size < 300_000, path


def test_builtin_source_and_checked_dataset_roundtrip():
    data = load_data("digits", "multiclass", 0, 0.2, 0.2)
    assert check_dataset(data, "digits").num_classes == 10


def _npz(**arrays):
    return lambda path: np.savez(path, **arrays)


def _text(text):
    return lambda path: path.write_text(text)


_X, _Y = _arrays(20, classes=2)
_XV, _YV = _arrays(6, classes=2, seed=1)
_CSV = "a,b,label\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(10))

# (id, file name, what is written there, task, label, words the message has)
BAD = [
    ("no-x_train", "d.npz", _npz(y_train=_Y), "multiclass", None, ["x_train", "required"]),
    ("length", "d.npz", _npz(x_train=_X, y_train=_Y[:-1]), "multiclass", None,
     ["y_train", "19", "x_train", "20"]),
    ("nan-x", "d.npz", _npz(x_train=np.where(_X > 1.5, np.nan, _X), y_train=_Y),
     "multiclass", None, ["x_train", "nan", "finite"]),
    ("inf-y", "d.npz", _npz(x_train=_X, y_train=np.where(_Y > 0, np.inf, 0.0)),
     "regression", None, ["y_train", "inf", "finite"]),
    ("label-out-of-range", "d.npz", _npz(x_train=_X, y_train=_Y, x_val=_XV,
                                         y_val=np.r_[_YV[:-1], 10]),
     "multiclass", None, ["y_val", "label 10", "0..1"]),
    ("negative-label", "d.npz", _npz(x_train=_X, y_train=_Y - 1), "multiclass", None,
     ["y_train", "-1", "0..K-1"]),
    ("float-labels", "d.npz", _npz(x_train=_X, y_train=_Y + 0.5), "multiclass", None,
     ["y_train", "0.5", "integers"]),
    ("gap-in-classes", "d.npz", _npz(x_train=_X, y_train=_Y * 2), "multiclass", None,
     ["y_train", "class 1", "0..K-1"]),
    ("binary-2", "d.npz", _npz(x_train=_X, y_train=_Y * 2), "binary", None,
     ["y_train", "label 2", "0 or 1"]),
    ("empty-train", "d.npz", _npz(x_train=_X[:0], y_train=_Y[:0]), "multiclass", None,
     ["x_train", "empty"]),
    ("empty-val", "d.npz", _npz(x_train=_X, y_train=_Y, x_val=_XV[:0], y_val=_YV[:0]),
     "multiclass", None, ["x_val", "empty"]),
    ("unknown-key", "d.npz", _npz(x_train=_X, y_train=_Y, x_valid=_XV), "multiclass",
     None, ["x_valid", "did you mean 'x_val'", "hint/<layer>"]),
    ("half-pair", "d.npz", _npz(x_train=_X, y_train=_Y, x_test=_XV), "multiclass", None,
     ["x_test", "y_test"]),
    ("string-x", "d.npz", _npz(x_train=_X.astype(str), y_train=_Y), "multiclass", None,
     ["x_train", "numeric"]),
    ("one-d-x", "d.npz", _npz(x_train=_X[:, 0], y_train=_Y), "multiclass", None,
     ["x_train", "shape (20,)"]),
    ("one-hot", "d.npz", _npz(x_train=_X, y_train=np.eye(2)[_Y]), "multiclass", None,
     ["y_train", "one-hot"]),
    ("val-shape", "d.npz", _npz(x_train=_X, y_train=_Y, x_val=_XV[:, :3], y_val=_YV),
     "multiclass", None, ["x_val", "(3,)", "x_train", "(4,)"]),
    ("object-array", "d.npz", _npz(x_train=np.array([[1], "a"], dtype=object), y_train=_Y),
     "multiclass", None, ["x_train", "pickle"]),
    ("one-per-class", "d.npz", _npz(x_train=_X[:3], y_train=np.array([0, 1, 1])),
     "multiclass", None, ["class 0", "y_train", "at least 2"]),
    ("hint-length", "d.npz", _npz(x_train=_X, y_train=_Y, **{"hint/conv1": _X[:-2]}),
     "multiclass", None, ["hint/conv1", "18", "x_train"]),
    ("no-hint_val", "d.npz", _npz(x_train=_X, y_train=_Y, x_val=_XV, y_val=_YV,
                                  **{"hint/conv1": _X}),
     "multiclass", None, ["hint_val/conv1", "x_val"]),
    ("hint_val-without-x_val", "d.npz", _npz(x_train=_X, y_train=_Y,
                                             **{"hint_val/conv1": _XV}),
     "multiclass", None, ["hint_val/conv1", "x_val"]),
    ("hint-nan", "d.npz", _npz(x_train=_X, y_train=_Y,
                               **{"hint/c": np.full_like(_X, np.nan)}),
     "multiclass", None, ["hint/c", "nan"]),
    ("not-npz", "d.npz", _text("x,y\n1,2\n"), "multiclass", None, ["not an .npz"]),
    ("missing-file", "absent.npz", None, "multiclass", None, ["no such data file"]),
    ("csv-label", "t.csv", _text(_CSV), "binary", "lable",
     ["'lable'", "did you mean 'label'", "a, b, label"]),
    ("csv-non-numeric", "t.csv", _text(_CSV.replace("\n4,", "\nfour,")), "binary",
     "label", ["column 'a'", "'four'", "line 6"]),
    ("csv-missing-value", "t.csv", _text(_CSV.replace(",8,", ",,")), "binary", "label",
     ["column 'b'", "line 6"]),
    ("csv-missing-file", "absent.csv", None, "binary", "label", ["no such data file"]),
    ("extension", "d.txt", _text("1"), "binary", None, ["unknown data source", ".npz or .csv"]),
    ("task", "d.npz", _npz(x_train=_X, y_train=_Y), "classification", None,
     ["task", "multiclass, binary, regression"]),
]


@pytest.mark.parametrize("name, write, task, label, words",
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_data_raises_one_line_data_error(tmp_path, name, write, task, label, words):
    path = tmp_path / name
    if write:
        write(path)
    with pytest.raises(DataError) as info:
        load_data(str(path), task, seed=0, validation_fraction=0.2,
                  test_fraction=0.2, label=label)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for word in words:
        assert word.lower() in message.lower(), message
