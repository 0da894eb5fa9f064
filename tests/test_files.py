import pytest

from auxsearch.files import atomic_open


def test_replaces_the_file_on_success(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    with atomic_open(path) as stream:
        stream.write("new")
    assert path.read_text() == "new"
    assert list(tmp_path.iterdir()) == [path]


def test_interrupted_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(path) as stream:
            stream.write("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]
