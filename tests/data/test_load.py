import pathlib
import sys
import textwrap

import numpy as np
import pytest

from auxsearch.core.errors import DataError
from auxsearch.data.load import (
    check_dataset,
    check_inputs,
    load_csv,
    load_data,
    load_digits,
    load_function,
    load_npz,
    split,
)

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "search_spaces" / "data"


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


def test_the_public_names_stay_importable_from_data():
    from auxsearch.data import checks as datachecks
    from auxsearch.data import dataset
    from auxsearch.data import load as data
    from auxsearch.data import split as datasplit

    assert data.Dataset is dataset.Dataset and data.split is datasplit.split
    assert data.check_dataset is datachecks.check_dataset
    assert data.BUILTIN_DATA == {"digits": load_digits}
    assert not hasattr(data, "TASKS")  # the task table is auxsearch.core.tasks.TASKS


def test_an_npz_splits_as_split_does_on_its_arrays(tmp_path):
    x, y = _arrays(90, classes=3)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y)
    for seed, test_fraction in ((0, 0.2), (4, 0.0)):
        from_file = load_npz(tmp_path / "d.npz", "multiclass", seed, 0.3, test_fraction)
        direct = split(x, y, seed, 0.3, test_fraction)
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(from_file, name), getattr(direct, name))


def _two_inputs(n=90, seed=0):
    x, y = _arrays(n, classes=3, seed=seed)
    return {"image": np.repeat(x[:, :, None], 2, axis=2), "meta": x}, y


def test_an_npz_with_named_inputs_splits_them_with_y(tmp_path):
    x, y = _two_inputs()
    hint = x["meta"][:, :2] * 2
    np.savez(tmp_path / "d.npz", y_train=y, **{"x_train/image": x["image"],
                                               "x_train/meta": x["meta"], "hint/h": hint})
    data = load_npz(tmp_path / "d.npz", "multiclass", 3, 0.2, 0.2)
    assert data.input_names == ["image", "meta"]
    assert data.input_shape == {"image": (4, 2), "meta": (4,)}
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [54, 18, 18]
    direct = split(x, y, 3, 0.2, 0.2, hints={"h": hint})
    for part in ("train", "val", "test"):
        for name in ("image", "meta"):
            np.testing.assert_array_equal(getattr(data, f"x_{part}")[name],
                                          getattr(direct, f"x_{part}")[name])
        np.testing.assert_array_equal(getattr(data, f"y_{part}"), getattr(direct, f"y_{part}"))
    for xs, hs in ((data.x_train, data.hints["h"][0]), (data.x_val, data.hints["h"][1])):
        np.testing.assert_allclose(hs, xs["meta"][:, :2] * 2, rtol=1e-6)


def test_an_npz_with_named_val_and_test_takes_them_as_is(tmp_path):
    (x, y), (xv, yv) = _two_inputs(30), _two_inputs(9, seed=1)
    named = {f"x_{part}/{k}": v for part, xs in (("train", x), ("val", xv), ("test", xv))
             for k, v in xs.items()}
    np.savez(tmp_path / "d.npz", y_train=y, y_val=yv, y_test=yv, **named)
    data = load_data(tmp_path / "d.npz", "multiclass", 0)
    assert [data.num_examples(s) for s in ("train", "val", "test")] == [30, 9, 9]
    np.testing.assert_allclose(data.x_test["image"], xv["image"], rtol=1e-6)


def test_a_csv_is_one_input(tmp_path):
    (tmp_path / "t.csv").write_text(_CSV)
    data = load_csv(tmp_path / "t.csv", "label", "binary", 0, 0.2, 0.0)
    assert data.input_names is None and data.input_shape == (2,)


def test_the_two_input_example_loads_and_its_builder_takes_it():
    data = load_data(EXAMPLES / "digits_two_inputs.npz", "multiclass", 1, 0.2, 0.2)
    assert data.input_shape == {"image": (8, 8, 1), "stats": (6,)}
    assert data.num_classes == 10 and data.num_examples("test") > 0
    assert sum(data.num_examples(s) for s in ("train", "val", "test")) == 1797
    assert 0 <= data.x_train["image"].min() and data.x_train["image"].max() <= 1
    import importlib
    import sys

    sys.path.insert(0, str(EXAMPLES.parents[1]))
    try:
        builder = importlib.import_module("search_spaces.models.digits_two_inputs")
    finally:
        sys.path.remove(str(EXAMPLES.parents[1]))
    model = builder.build(data.input_shape, data.num_outputs, data.activation)
    names = [tensor.name for tensor in model.inputs]
    assert sorted(names) == data.input_names
    check_inputs(data, names, {t.name: tuple(t.shape) for t in model.inputs}, "example")
    space = (EXAMPLES.parent / "digits_two_inputs.toml").read_text()
    assert 'file = "data/digits_two_inputs.npz"' in space
    assert 'builder = "search_spaces.models.digits_two_inputs:build"' in space


def test_unknown_source_and_label_misuse():
    with pytest.raises(DataError, match=r"digts: unknown data source \(did you mean 'digits'\?\)"):
        load_data("digts", "multiclass", 0)
    with pytest.raises(DataError, match="the built-in data set is multiclass"):
        load_data("digits", "binary", 0)
    with pytest.raises(DataError, match="applies to .csv files only"):
        load_data("d.npz", "multiclass", 0, label="y")
    with pytest.raises(DataError, match="a .csv source needs label="):
        load_data("d.csv", "binary", 0)


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
    ("misspelt-input", "d.npz", _npz(y_train=_Y, **{"x_train/image": _X, "x_trian/meta": _X}),
     "multiclass", None, ["'x_trian/meta'", "did you mean 'x_train/meta'"]),
    ("plain-and-named", "d.npz", _npz(x_train=_X, y_train=_Y, **{"x_train/image": _X}),
     "multiclass", None, ["x_train and x_train/image are both given", "not both"]),
    ("input-val-shape", "d.npz", _npz(y_train=_Y, y_val=_YV, **{
        "x_train/a": _X, "x_train/b": _X, "x_val/a": _XV, "x_val/b": _XV[:, :3]}),
     "multiclass", None, ["x_val/b", "(3,)", "x_train/b", "(4,)"]),
    ("input-rows", "d.npz", _npz(y_train=_Y, **{"x_train/a": _X, "x_train/b": _X[:-1]}),
     "multiclass", None, ["x_train/b has 19 rows", "x_train/a has 20"]),
    ("input-nan", "d.npz", _npz(y_train=_Y, y_test=_YV, **{
        "x_train/a": _X, "x_test/a": np.where(_XV > 1, np.nan, _XV)}),
     "multiclass", None, ["x_test/a", "nan", "finite"]),
    ("input-missing-in-val", "d.npz", _npz(y_train=_Y, y_val=_YV, **{
        "x_train/a": _X, "x_train/b": _X, "x_val/a": _XV}),
     "multiclass", None, ["x_train/b is given but x_val/b is not"]),
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


# --- a loader function: the archive's arrays, returned --------------------------


@pytest.fixture
def loaders(tmp_path, monkeypatch):
    """A `myloaders.py` in a temporary working directory, as a user writes it."""
    (tmp_path / "myloaders.py").write_text(textwrap.dedent("""
        import numpy as np

        def load():
            rng = np.random.default_rng(0)
            x = rng.normal(size=(90, 4))
            return {"x_train": x[:60], "y_train": np.arange(60) % 3,
                    "x_val": x[60:75], "y_val": np.arange(15) % 3,
                    "x_test": x[75:], "y_test": np.arange(15) % 3}

        def tiny():
            return {"x_train": np.zeros((4, 2)), "y_train": np.array([0, 1, 1, 1])}
    """))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("myloaders", None)


def test_a_loader_reference_loads_like_its_archive(loaders):
    data = load_data("myloaders:load", "multiclass", seed=1)
    sys.path.insert(0, str(loaders))
    try:
        import myloaders
    finally:
        sys.path.remove(str(loaders))
    np.savez(loaders / "same.npz", **myloaders.load())
    archive = load_npz(loaders / "same.npz", "multiclass", seed=1)
    for part in ("train", "val", "test"):  # given splits are taken as they are
        np.testing.assert_array_equal(getattr(data, f"x_{part}"), getattr(archive, f"x_{part}"))
        np.testing.assert_array_equal(getattr(data, f"y_{part}"), getattr(archive, f"y_{part}"))
    assert data.x_train.dtype == np.float32 and data.num_classes == 3


def test_a_loader_function_splits_and_checks_as_an_archive_does(tmp_path):
    x, y = _two_inputs()
    hint = x["meta"][:, :2] * 2
    data = load_function(lambda: {"x_train": x, "y_train": y, "hint": {"h": hint}},
                         "multiclass", 3, 0.2, 0.2)
    np.savez(tmp_path / "d.npz", y_train=y, **{"x_train/image": x["image"],
                                               "x_train/meta": x["meta"], "hint/h": hint})
    archive = load_npz(tmp_path / "d.npz", "multiclass", 3, 0.2, 0.2)
    assert data.input_names == ["image", "meta"]
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(data, f"y_{part}"), getattr(archive, f"y_{part}"))
        np.testing.assert_array_equal(getattr(data, f"x_{part}")["image"],
                                      getattr(archive, f"x_{part}")["image"])
    np.testing.assert_array_equal(data.hints["h"][1], archive.hints["h"][1])
    plain = load_data(lambda: {"x_train": x["meta"], "y_train": y}, "multiclass", 3)
    np.testing.assert_array_equal(plain.y_test, archive.y_test)  # a callable is a source too


def _boom():
    raise OSError("cannot open /data/masks")


@pytest.mark.parametrize("source, words", [
    ("myloaders:lod", (r"^data.loader = 'myloaders:lod': module 'myloaders' has no attribute "
                      r"'lod' \(did you mean 'load'\?\)")),
    ("nomodule_xyz:load", r"^data.loader = 'nomodule_xyz:load': cannot import module"),
    ("myloaders:tiny",  # the data checks run on what it returns, and name it
     r"^data.loader = 'myloaders:tiny': class 0 has only 1 example in y_train"),
    (_boom, r"^data loader _boom raised OSError: cannot open /data/masks$"),
    (lambda: (1, 2), r"^data loader <lambda> returned a tuple; it must return a dict of arrays"),
])
def test_a_loader_that_cannot_give_data_is_refused_naming_it(loaders, source, words):
    with pytest.raises(DataError, match=words):
        load_data(source, "multiclass", 0)


def test_the_ignore_label_is_checked_once_whatever_the_source(tmp_path):
    x = np.zeros((6, 2, 2, 1), "float32")
    masks = np.zeros((6, 2, 2), "int32")
    masks[:, 0] = 255  # class 0 and the ignore label: one class
    arrays = {"x_train": x, "y_train": masks, "x_val": x, "y_val": masks}
    np.savez(tmp_path / "m.npz", **arrays)
    plain = load_data(str(tmp_path / "m.npz"), "segmentation", 0, test_fraction=0)
    assert plain.ignore_label is None  # 255 counts as a class
    for source in (str(tmp_path / "m.npz"), lambda: dict(arrays)):
        with pytest.raises(DataError, match="only class 0 besides the ignore label"):
            load_data(source, "segmentation", 0, test_fraction=0, ignore_label=255)
    masks[:3, 1] = 1
    data = load_data(lambda: dict(arrays), "segmentation", 0, test_fraction=0, ignore_label=255)
    assert data.ignore_label == 255 and data.num_classes == 2
