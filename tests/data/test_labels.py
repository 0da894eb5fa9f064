from __future__ import annotations

import logging
import re

import keras
import numpy as np
import pytest

from auxsearch.core.errors import DataError
from auxsearch.core.tasks import TASKS
from auxsearch.data.labels import prepare_labels, prepare_validation

MULTICLASS, BINARY, REGRESSION = TASKS["multiclass"], TASKS["binary"], TASKS["regression"]
X = np.arange(18.0, dtype="float32").reshape(6, 3)
Y = np.array([0, 1, 2, 2, 1, 0])
ONE_HOT = np.eye(3, dtype="float32")[Y]


def _exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


@pytest.mark.parametrize("units", [3, None])
def test_one_hot_labels_become_their_argmax(units: int | None) -> None:
    labels = prepare_labels(MULTICLASS, ONE_HOT, x=X, units=units)
    assert labels.dtype == np.int32 and labels.shape == (6,)
    np.testing.assert_array_equal(labels, ONE_HOT.argmax(axis=1))
    np.testing.assert_array_equal(labels, Y)
    wide = prepare_labels(MULTICLASS, np.eye(5, dtype=bool)[[4, 0]], units=None)
    np.testing.assert_array_equal(wide, [4, 0])


def test_one_hot_conversion_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="auxsearch.data.labels"):
        prepare_labels(MULTICLASS, ONE_HOT, units=3, where="logged")
    assert [r.getMessage() for r in caplog.records] == [
        ("logged: y has one-hot labels of 3 columns; training on their argmax, integer "
         "labels (the same loss)")]


@pytest.mark.parametrize("task, y, units", [
    (MULTICLASS, Y, 3),
    (MULTICLASS, Y.astype("float64")[:, None], 3),
    (MULTICLASS, list(Y), None),
    (BINARY, np.array([0, 1, 1, 0, 1, 0], dtype=bool), 1),
    (BINARY, np.array([[0.0], [1], [1], [0], [1], [0]]), 1),
    (REGRESSION, X[:, 0], 1),
    (REGRESSION, X, 3),
])
def test_fit_labels_are_returned_as_given(task, y, units) -> None:
    assert prepare_labels(task, y, x=X, units=units) is y


@pytest.mark.parametrize("task, y, x, units, message", [
    (MULTICLASS, Y[:5], X, 3, "fit: y has 5 rows but x has 6; they must match, one per example"),
    (MULTICLASS, Y[:5], {"a": X, "b": X}, 3,
     "fit: y has 5 rows but x/a has 6; they must match, one per example"),
    (MULTICLASS, Y[:5], [X, X], 3,
     "fit: y has 5 rows but x[0] has 6; they must match, one per example"),
    (MULTICLASS, np.array([0, 1, 3]), None, 3,
     "fit: y has label 3 at index 2, but the model has 3 classes; pass integer labels 0..2"),
    (MULTICLASS, np.array([0, 0.5, 1]), None, 3,
     "fit: y has label 0.5 at index 1; multiclass labels must be integers 0..K-1"),
    (MULTICLASS, np.array([0, -1]), None, 3,
     "fit: y has label -1 at index 1; multiclass labels must be integers 0..K-1"),
    (MULTICLASS, np.eye(10)[[0, 1, 9]], None, 3,
     ("fit: y has one-hot labels of 10 columns, but the model has 3 classes; pass integer "
      "labels 0..2, shape (n,), or one-hot labels of width 3")),
    (MULTICLASS, np.ones((3, 4)), None, 3,
     ("fit: y has shape (3, 4), but the model has 3 classes; pass integer labels 0..2, "
      "shape (n,), or one-hot labels of width 3")),
    (MULTICLASS, np.array([[0.5, 0.5, 0], [0, 1, 0]]), None, 3,
     ("fit: y row 0 has 0.5 in column 0, so it is not one-hot (a single 1 per row); pass "
      "integer labels 0..2, shape (n,), or one-hot labels of width 3")),
    (MULTICLASS, np.array([[1, 0, 0], [0, 1, 1]]), None, 3,
     ("fit: y row 1 has 2 ones, so it is not one-hot (a single 1 per row); pass integer "
      "labels 0..2, shape (n,), or one-hot labels of width 3")),
    (MULTICLASS, np.array([[1, 0], [0, 0]]), None, None,
     ("fit: y row 1 has 0 ones, so it is not one-hot (a single 1 per row); pass integer "
      "labels 0..K-1, shape (n,), or one-hot labels (n, K)")),
    (MULTICLASS, np.zeros((3, 3, 1)), None, 3,
     ("fit: y has shape (3, 3, 1); pass integer labels 0..2, shape (n,), or one-hot labels "
      "of width 3")),
    (MULTICLASS, np.array([[1, 0], [np.inf, 0]]), None, 2,
     "fit: y has inf at index (1, 0); all values must be finite (no NaN or inf)"),
    (MULTICLASS, np.array([0, np.nan]), None, 3,
     "fit: y has nan at index 1; all values must be finite (no NaN or inf)"),
    (MULTICLASS, np.array(["cat", "dog"]), None, 3,
     "fit: y has dtype <U3; multiclass labels must be numbers"),
    (MULTICLASS, np.array([], "int32"), None, 3, "fit: y is empty; pass at least one example"),
    (MULTICLASS, [[0, 1], [1]], None, 3,
     "fit: y has rows of different lengths; pass integers 0..K-1, one per example"),
    (BINARY, np.array([0, 2]), None, 1,
     "fit: y has label 2 at index 1; binary labels must be 0 or 1"),
    (BINARY, np.eye(2)[[0, 1]], None, 1,
     ("fit: y has shape (2, 2); binary labels must be (n,), one label per example (class "
      "indices, not one-hot)")),
    (REGRESSION, X[:, 0], X, 2,
     ("fit: y has targets of shape (6,), but the model outputs 2 values per example; pass "
      "targets of shape (n, 2)")),
    (REGRESSION, X, X, 2,
     ("fit: y has targets of shape (6, 3), but the model outputs 2 values per example; pass "
      "targets of shape (n, 2)")),
    (REGRESSION, np.zeros((3, 2, 2)), None, 2,
     "fit: y has shape (3, 2, 2); regression targets must be (n,) or (n, outputs)"),
])
def test_unfit_labels_are_refused_in_one_line(task, y, x, units, message) -> None:
    with pytest.raises(DataError, match=_exactly(message)):
        prepare_labels(task, y, x=x, units=units)


def test_dict_labels_check_and_convert_only_main() -> None:
    hint = np.full((6, 4), np.nan)  # a hint's targets are not labels: never checked here
    given = {"main": ONE_HOT, "hint/d1": hint}
    labels = prepare_labels(MULTICLASS, given, x=X, units=3)
    assert labels is not given and given["main"] is ONE_HOT  # the user's dict is kept
    assert labels["hint/d1"] is hint
    np.testing.assert_array_equal(labels["main"], Y)
    plain = {"main": Y, "hint/d1": hint}
    assert prepare_labels(MULTICLASS, plain, x=X, units=3) is plain
    no_main = {"labels": ONE_HOT}  # left for routing, which names the allowed keys
    assert prepare_labels(MULTICLASS, no_main, units=3) is no_main
    with pytest.raises(DataError, match=_exactly(
            "fit: y has label 7 at index 0, but the model has 3 classes; pass integer labels "
            "0..2")):
        prepare_labels(MULTICLASS, {"main": np.array([7]), "hint/d1": hint}, units=3)


def test_datasets_and_generators_pass_unchanged() -> None:
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((X, ONE_HOT)).batch(2)
    assert prepare_labels(MULTICLASS, None, x=dataset, units=3) is None
    generator = (row for row in ONE_HOT)
    assert prepare_labels(MULTICLASS, generator, x=X, units=3) is generator
    assert prepare_validation(MULTICLASS, dataset, units=3) is dataset
    assert prepare_validation(MULTICLASS, None, units=3) is None


def test_validation_tuples_are_checked_and_converted() -> None:
    weights = np.ones(6)
    pair = prepare_validation(MULTICLASS, (X, ONE_HOT), units=3)
    assert isinstance(pair, tuple) and len(pair) == 2 and pair[0] is X
    np.testing.assert_array_equal(pair[1], Y)
    triple = prepare_validation(MULTICLASS, [X, ONE_HOT, weights], units=3)
    assert triple[0] is X and triple[2] is weights
    np.testing.assert_array_equal(triple[1], Y)
    given = (X, Y)
    assert prepare_validation(MULTICLASS, given, units=3) is given
    with pytest.raises(DataError, match=_exactly(
            "fit: y_val has 5 rows but x_val has 6; they must match, one per example")):
        prepare_validation(MULTICLASS, (X, Y[:5]), units=3)
    with pytest.raises(DataError, match=_exactly(
            "fit: y_val has label 3 at index 0, but the model has 3 classes; pass integer "
            "labels 0..2")):
        prepare_validation(MULTICLASS, (X[:1], np.array([3])), units=3)
    with pytest.raises(DataError, match=_exactly(
            "fit: validation_data has 4 items; pass (x_val, y_val) or (x_val, y_val, "
            "sample_weight)")):
        prepare_validation(MULTICLASS, (X, Y, weights, weights), units=3)


def test_converted_labels_train_with_the_loss_of_one_hot_labels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    one_hot = np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3, activation="softmax")])
    start = model.get_weights()
    losses = []
    for loss, labels in (("categorical_crossentropy", one_hot),
                         ("sparse_categorical_crossentropy",
                          prepare_labels(MULTICLASS, one_hot, x=x, units=3))):
        model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        history = model.fit(x, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)
        losses.append((history.history["loss"][0], model.evaluate(x, labels, verbose=0)))
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_masks_are_checked_against_the_outputs_positions_and_classes():
    task = TASKS["segmentation"]
    facts = {"units": 3, "positions": (4, 4), "ignore_label": 255}
    masks = np.zeros((2, 4, 4), "int32")
    assert prepare_labels(task, masks, **facts) is masks  # fit: no copy
    masks[0, 0, 0] = 255
    assert prepare_labels(task, masks, **facts) is masks
    trailing = prepare_labels(task, masks[..., None], **facts)
    assert trailing.shape == (2, 4, 4)
    one_hot = np.eye(3)[np.arange(32).reshape(2, 4, 4) % 3]
    assert (prepare_labels(task, one_hot, **facts) == np.arange(32).reshape(2, 4, 4) % 3).all()
    with pytest.raises(DataError, match=r"^fit: y has label 7 at index \(1, 2, 3\), but the "
                                        r"model has 3 classes; pass labels 0\.\.2 or the "
                                        r"ignore label 255$"):
        prepare_labels(task, np.where(np.arange(32).reshape(2, 4, 4) == 27, 7, 0), **facts)
    with pytest.raises(DataError, match=r"^fit: y has label -1 .* \(or set ignore_label\)$"):
        prepare_labels(task, -np.ones((2, 4, 4)), units=3, positions=(4, 4))
    with pytest.raises(DataError, match=r"y has masks of shape \(2, 2\), but the model's output "
                                        r"has positions \(4, 4\); pass masks \(n, 4, 4\)"):
        prepare_labels(task, np.zeros((2, 2, 2)), **facts)
    with pytest.raises(DataError, match=r"y has shape \(2, 4, 4, 5\); the model outputs 3 "
                                        r"classes per position"):
        prepare_labels(task, np.zeros((2, 4, 4, 5)), **facts)
    with pytest.raises(DataError, match=r"y has label 0.5 at index \(0, 0, 0\)"):
        prepare_labels(task, np.full((2, 4, 4), 0.5), **facts)


def test_unknown_positions_take_masks_of_any_size_and_one_hot_steps():
    task = TASKS["segmentation"]
    assert prepare_labels(task, np.ones((2, 9, 7)), units=2,
                          positions=(None, None)).shape == (2, 9, 7)
    steps = prepare_labels(task, np.eye(4)[[[0, 3, 1], [2, 2, 0]]], units=4, positions=(3,))
    assert steps.tolist() == [[0, 3, 1], [2, 2, 0]]
