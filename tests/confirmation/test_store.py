"""Confirm's store of finished trainings: what it keeps, and what it refuses to hand back."""

import numpy as np

from auxsearch.confirmation.store import ScoreStore, split_fingerprint

SETTINGS = {"run_id": "abc", "configs": ["0001"], "baseline": "0000", "seeds": 5,
            "margin": None, "test_split": "f00"}
VALUES = {"tap/conv2": True, "weight/conv2": 0.25}


def test_a_training_is_kept_whole_and_read_back(tmp_path):
    store = ScoreStore(tmp_path / "scores", SETTINGS)
    assert store.get("0001", VALUES, 1003) is None and not store.folder.exists()
    scores = np.array([1.0, 0.0, 1.0, 1.0])
    path = store.put("0001", VALUES, 1003, scores)
    assert path.parent == store.folder and path.name.startswith("0001_seed1003_")
    assert [p.name for p in store.folder.iterdir()] == [path.name]  # no temporary file left
    again = ScoreStore(tmp_path / "scores", dict(SETTINGS))  # a resumed confirm
    np.testing.assert_array_equal(again.get("0001", dict(VALUES), 1003), scores)
    assert again.get("0001", VALUES, 2003) is None  # another seed: not trained yet


def test_only_the_same_search_and_settings_get_a_training_back(tmp_path):
    ScoreStore(tmp_path, SETTINGS).put("0001", VALUES, 1003, np.ones(3))
    for change in ({"run_id": "other"}, {"run_id": None}, {"seeds": 6}, {"margin": 0.02},
                   {"configs": ["0001", "0002"]}, {"test_split": "beef"}):
        assert ScoreStore(tmp_path, {**SETTINGS, **change}).get("0001", VALUES, 1003) is None
    store = ScoreStore(tmp_path, SETTINGS)
    assert store.get("0001", {**VALUES, "weight/conv2": 0.5}, 1003) is None
    assert store.get("0002", VALUES, 1003) is None


def test_a_damaged_file_is_trained_again(tmp_path, caplog):
    store = ScoreStore(tmp_path, SETTINGS)
    path = store.put("0001", VALUES, 1003, np.ones(3))
    path.write_bytes(path.read_bytes()[:20])
    assert store.get("0001", VALUES, 1003) is None
    assert "cannot be read" in caplog.text and path.name in caplog.text


def test_the_fingerprint_changes_with_any_array_of_the_split():
    x, y = np.zeros((4, 3), "float32"), np.array([0, 1, 2, 2])
    first = split_fingerprint(x, y)
    assert first == split_fingerprint(x.copy(), y.copy())
    other_x = x.copy()
    other_x[2, 1] = 1
    assert len({first, split_fingerprint(other_x, y), split_fingerprint(x, y[::-1].copy()),
                split_fingerprint(x.astype("float64"), y),
                split_fingerprint({"image": x}, y)}) == 5
