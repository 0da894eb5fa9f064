import pathlib

import numpy as np
import pytest

from auxsearch.core.errors import DataError
from auxsearch.data.readers import (
    call_loader,
    hint_layers,
    input_names,
    inputs,
    read_csv,
    read_npz,
)

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "search_spaces" / "data"
X, Y = np.arange(12.0).reshape(6, 2), np.arange(6) % 2


def test_read_npz_returns_the_arrays_as_stored(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=X, y_train=Y, **{"hint/b": X, "hint/a": X[:, :1]})
    arrays = read_npz(tmp_path / "d.npz", "d.npz")
    assert set(arrays) == {"x_train", "y_train", "hint/b", "hint/a"}
    assert arrays["x_train"].dtype == np.float64  # casting is the checks' job
    np.testing.assert_array_equal(arrays["y_train"], Y)
    assert hint_layers(arrays) == ["b", "a"]


def test_the_example_archives_read():
    arrays = read_npz(EXAMPLES / "digits_hints.npz", "digits_hints.npz")
    assert hint_layers(arrays) == ["conv6"] and hint_layers(arrays, "hint_val/") == ["conv6"]
    assert {"x_val", "y_val"} <= set(arrays)
    x, y = read_csv(EXAMPLES / "breast_cancer.csv", "malignant", "breast_cancer.csv")
    assert x.shape == (569, 30) and x.dtype == np.float32 and set(y) == {0, 1}


LAYOUTS = [
    (dict(x_train=X, y_train=Y, x_valid=X), r"unknown array 'x_valid' \(did you mean 'x_val'\?\)"),
    (dict(x_train=X, y_train=Y, **{"hints/c": X}), r"did you mean 'hint/c'\?"),
    (dict(x_train=X, y_train=Y, **{"hint/": X}), "unknown array 'hint/'"),
    (dict(x_train=X), "y_train is required; arrays given: x_train"),
    (dict(x_train=X, y_train=Y, y_val=Y), "y_val is given but x_val is not"),
    (dict(x_train=X, y_train=Y, **{"hint_val/c": X}), "hint_val/c is given but x_val is not"),
    (dict(x_train=X, y_train=Y, x_val=X, y_val=Y, **{"hint_val/c": X}),
     "hint_val/c is given but hint/c is not"),
    (dict(x_train=np.array([[1], "a"], dtype=object), y_train=Y),
     r"x_train is an object \(pickled\) array"),
    # named inputs: x_<split>/<input>
    (dict(y_train=Y, **{"x_trian/image": X}),
     (r"unknown array 'x_trian/image' \(did you mean 'x_train/image'\?\); allowed: .*"
     r"x_train/<input>, x_val/<input>, x_test/<input>, hint/<layer>")),
    (dict(y_train=Y, **{"x_val/a": X}), r"x_train \(or x_train/<input> arrays\) is required"),
    (dict(y_train=Y, **{"x_train/": X}), "unknown array 'x_train/'"),
    (dict(x_train=X, y_train=Y, **{"x_val/a": X}),
     "x_train and x_val/a are both given; give plain x_train .* not both$"),
    (dict(x_val=X, y_train=Y, **{"x_train/a": X}), "x_val and x_train/a are both given"),
    (dict(y_train=Y, y_val=Y, **{"x_train/image": X, "x_train/meta": X, "x_val/image": X}),
     "x_train/meta is given but x_val/meta is not; with x_val, every input needs"),
    (dict(y_train=Y, y_test=Y, **{"x_train/image": X, "x_test/image": X, "x_test/imag": X}),
     (r"x_test/imag is given but x_train/imag is not \(did you mean 'x_test/image'\?\); "
     r"the inputs \(from x_train\): image$")),
    (dict(y_train=Y, **{"x_train/a": X, "x_val/a": X}), "x_val/a is given but y_val is not"),
    (dict(y_train=Y, y_val=Y, **{"x_train/a": X}), "y_val is given but x_val is not"),
    (dict(y_train=Y, **{"x_train/a": X, "hint_val/c": X}), "hint_val/c is given but x_val"),
]


@pytest.mark.parametrize("arrays, words", LAYOUTS)
def test_read_npz_refuses_a_bad_layout(tmp_path, arrays, words):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match="^d.npz: .*" + words):
        read_npz(tmp_path / "d.npz", "d.npz")


def test_read_npz_reads_named_inputs_in_their_order(tmp_path):
    np.savez(tmp_path / "d.npz", y_train=Y, y_val=Y[:2], **{
        "x_train/stats": X, "x_train/image": X[:, :1], "x_val/image": X[:2, :1],
        "x_val/stats": X[:2], "hint/c": X, "hint_val/c": X[:2]})
    arrays = read_npz(tmp_path / "d.npz", "d.npz")
    assert input_names(arrays) == ["stats", "image"] and input_names(arrays, "x_val") == [
        "image", "stats"]
    train = inputs(arrays, "x_train")
    assert list(train) == ["stats", "image"] and train["image"].shape == (6, 1)
    assert list(inputs(arrays, "x_val")) == ["image", "stats"]
    assert inputs(arrays, "x_test") is None and input_names(arrays, "x_test") == []
    np.savez(tmp_path / "p.npz", x_train=X, y_train=Y)
    plain = read_npz(tmp_path / "p.npz", "p.npz")
    assert inputs(plain, "x_train") is plain["x_train"] and input_names(plain) == []


def test_read_npz_refuses_what_is_not_an_archive(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        read_npz(tmp_path / "absent.npz", "absent.npz")
    (tmp_path / "t.npz").write_text("x,y\n1,2\n")
    with pytest.raises(DataError, match=r"not an \.npz archive"):
        read_npz(tmp_path / "t.npz", "t.npz")
    np.save(tmp_path / "a.npy", X)
    with pytest.raises(DataError, match=r"a single \.npy array"):
        read_npz(tmp_path / "a.npy", "a.npy")
    np.savez(tmp_path / "cut.npz", x_train=X, y_train=Y)
    whole = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="cannot read"):
        read_npz(tmp_path / "cut.npz", "cut.npz")


def test_read_csv_splits_label_from_features(tmp_path):
    (tmp_path / "t.csv").write_text("a,label,b\n1,0,2.5\n3,1,4\n")
    x, y = read_csv(tmp_path / "t.csv", "label", "t.csv")
    np.testing.assert_array_equal(x, [[1, 2.5], [3, 4]])
    assert x.dtype == np.float32 and y.tolist() == [0, 1]


@pytest.mark.parametrize("text, label, words", [
    ("a,b,label\n1,2,0\n", "lable",
     r"no label column 'lable' \(did you mean 'label'\?\); columns: a, b, label"),
    ("label\n1\n0\n", "label", "only the label column 'label'"),
    ("a,label\n1,0\nfour,1\n", "label", r"column 'a' is not numeric \('four' on line 3\)"),
    ("a,label\n1,0\n,1\n", "label", "column 'a' has a missing or infinite value on line 3"),
    ("a,label\ninf,0\n", "label", "column 'a' has a missing or infinite value on line 2"),
    ("", "label", "cannot read the CSV file"),
])
def test_read_csv_names_the_bad_column(tmp_path, text, label, words):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataError, match="^t.csv: " + words):
        read_csv(tmp_path / "t.csv", label, "t.csv")
    with pytest.raises(DataError, match="^absent.csv: no such data file$"):
        read_csv(tmp_path / "absent.csv", label, "absent.csv")


# --- a loader's arrays: the archive's layout, from a function ---------------


@pytest.mark.parametrize("arrays, words",
                         [(a, w) for a, w in LAYOUTS if "object" not in w])
def test_a_loader_is_held_to_the_archive_layout(arrays, words):
    with pytest.raises(DataError, match="^L: .*" + words):
        call_loader(lambda: arrays, "L")


def test_a_loader_returns_numpy_arrays_by_archive_name():
    class Tensor:  # anything numpy converts counts as an array (tf/torch tensors do)
        def __array__(self, dtype=None, copy=None):
            return np.asarray(Y, dtype=dtype)

    arrays = call_loader(lambda: {"x_train": X, "y_train": Tensor(),
                                  "hint": {"c": X}}, "L")
    assert set(arrays) == {"x_train", "y_train", "hint/c"}
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    np.testing.assert_array_equal(arrays["y_train"], Y)
    nested = call_loader(lambda: {"x_train": {"image": X, "stats": X[:, :1]}, "y_train": Y},
                         "L")  # a dict of inputs is x_train/<input>, in its order
    assert input_names(nested) == ["image", "stats"]


def _raises():
    raise ValueError("no such folder: /data/x\nsecond line")


@pytest.mark.parametrize("function, words", [
    (_raises, r"^L raised ValueError: no such folder: /data/x"),
    (lambda: [X, Y], r"^L returned a list; it must return a dict of arrays \(x_train, y_train"),
    (lambda: None, r"^L returned a NoneType; it must return a dict of arrays"),
    (lambda: {"x_train": X.tolist(), "y_train": Y},
     r"^L returned x_train as a list; every value must be an array"),
    (lambda: {"x_train": X, "y_train": np.array(["a"] * 6)},
     r"^L returned y_train of dtype <U1; allowed: numeric arrays"),
    (lambda: {"x_train": X, "y_train": Y, 3: X}, r"^L returned a key 3; keys must be array names"),
])
def test_a_loader_that_fails_or_returns_no_dict_of_arrays_is_refused(function, words):
    with pytest.raises(DataError, match=words):
        call_loader(function, "L")
