import numpy as np

from auxsearch.data import load_digits


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
