"""A worker: refuses what is not its chief's, parses its chief's address."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from auxsearch.core.errors import DistributedError
from auxsearch.core.rundir import RunDir
from auxsearch.core.space import dump_space, load_space
from auxsearch.search.worker import parse_address, run_worker, wait_for_chief


@pytest.mark.e2e
def test_a_worker_refuses_a_run_directory_of_another_space(tiny_space, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    space_path = RunDir(run_dir).space
    other = dump_space(load_space(tiny_space)).replace("seed = 3", "seed = 4")
    space_path.write_text(other)
    with _bare_server() as address:
        with pytest.raises(DistributedError, match=r"worker refused: .* holds a search "
                           r"of another space \(seed: 4 -> 3\); a worker only joins"):
            run_worker(run_dir, address, "tuner0", space=load_space(tiny_space))
        assert [p.name for p in run_dir.iterdir()] == [space_path.name]  # untouched
        assert space_path.read_text() == other
        space_path.unlink()
        with pytest.raises(DistributedError, match="has no space.toml though its chief"):
            run_worker(run_dir, address, "tuner0")
    assert list(run_dir.iterdir()) == []  # nothing written


@pytest.mark.e2e
def test_a_worker_gives_up_on_a_chief_that_does_not_answer():
    with _bare_server() as address:
        wait_for_chief(address, 5)  # answers
    with pytest.raises(DistributedError, match=rf"^no chief answers at {address} after 0.2 s$"):
        wait_for_chief(address, 0.2)  # stopped


def test_a_worker_id_must_not_make_it_a_chief(tmp_path):
    with pytest.raises(DistributedError, match=r"^worker id 'chief1' must not contain 'chief'$"):
        run_worker(tmp_path, "127.0.0.1:1", "chief1")
    assert list(tmp_path.iterdir()) == []


def test_parse_address():
    assert parse_address("node7.cluster:8000") == ("node7.cluster", 8000)
    assert parse_address("::1:8000") == ("::1", 8000)


@pytest.mark.parametrize("bad", ["8000", "host:", "host:0", "host:x", "host:65536"])
def test_a_bad_address_is_refused(bad):
    with pytest.raises(DistributedError, match=rf"^chief address '{bad}' is not HOST:PORT$"):
        parse_address(bad)


class _bare_server:
    """A gRPC server with no service: enough for a worker to find its chief."""

    def __enter__(self) -> str:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        return f"127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.stop(None)
