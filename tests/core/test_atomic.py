import json

import pytest

from auxsearch.core.atomic import atomic_open, save_json


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


def test_written_file_has_the_usual_permissions(tmp_path):
    import os
    import stat

    path = tmp_path / "out.csv"
    with atomic_open(path) as stream:
        stream.write("x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_atomic_path_keeps_the_suffix_and_cleans_up(tmp_path):
    from auxsearch.core.atomic import atomic_path

    path = tmp_path / "model.keras"
    with atomic_path(path) as temp:
        assert temp.suffix == ".keras" and temp.parent == tmp_path
        temp.write_text("model")
    assert path.read_text() == "model" and list(tmp_path.iterdir()) == [path]
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temp:
            temp.write_text("half")
            raise RuntimeError
    assert path.read_text() == "model" and list(tmp_path.iterdir()) == [path]


def test_save_json_replaces_the_file_whole(tmp_path):
    path = tmp_path / "state.json"
    assert save_json(path, {"a": [1, 2]}) == '{"a": [1, 2]}'
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    with pytest.raises(TypeError):
        save_json(path, {"a": object()})  # not serialisable: the old file stays
    assert json.loads(path.read_text()) == {"a": [1, 2]}
