"""An outside Dask cluster as an operator meets it (Dask ops audit of 2026-12-03): addresses that
are not a scheduler, a scheduler with no worker, and a worker that joins mid-sweep. Real
schedulers and worker processes; no trial runs."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from tuner.engine.executors import DaskExecutor, connect_scheduler, started
from tuner.errors import TunerError


def _threads() -> int:
    from tuner.engine.worker import _STATE

    return int(_STATE.threads)


@pytest.fixture
def no_worker_cluster() -> Iterator[object]:
    from distributed import LocalCluster

    cluster = started(lambda: LocalCluster(n_workers=0, processes=True,
                                           dashboard_address=None))
    try:
        yield cluster
    finally:
        cluster.close()


def test_a_dask_loop_that_did_not_start_is_tried_once_more_then_said() -> None:
    """distributed's LoopRunner asserts when its event loop has not started within 10 s (a
    loaded host): the client or cluster is made once more; twice is said as that, not as a
    scheduler that does not answer. Any other assertion is not retried."""
    from distributed.utils import LoopRunner

    assert hasattr(LoopRunner, "_start_unlocked")  # the method whose failure is retried
    calls: list[int] = []

    def _start_unlocked() -> str:  # fails its first call, as a late loop does
        calls.append(1)
        assert len(calls) > 1
        return "client"

    assert started(_start_unlocked) == "client" and len(calls) == 2

    def _start_unlocked() -> str:  # noqa: F811 - now it fails every call
        raise AssertionError

    with pytest.raises(TunerError, match="event loop did not start within its 10 s, twice"):
        started(_start_unlocked)
    calls.clear()

    def other() -> None:
        calls.append(1)
        raise AssertionError("another")

    with pytest.raises(AssertionError, match="another"):
        started(other)
    assert calls == [1]


def test_a_malformed_address_is_one_clear_error() -> None:
    with pytest.raises(TunerError, match="--scheduler nonsense: no Dask scheduler answers"):
        connect_scheduler("nonsense", timeout=2)


def test_a_port_that_speaks_no_dask_is_refused_within_the_timeout() -> None:
    """The scheduler's dashboard port: the sweep waited for ever."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(TunerError, match="--scheduler tcp://127.0.0.1:"):
            connect_scheduler(f"tcp://127.0.0.1:{server.server_address[1]}", timeout=2)
    finally:
        server.shutdown()
    assert time.monotonic() - started < 30


def test_a_server_that_speaks_first_is_refused_in_one_line() -> None:
    """ssh's greeting read as a frame length of exabytes: a MemoryError, a traceback, exit 1
    (review of 2026-12-03)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))

    def greet() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=greet, daemon=True).start()
    try:
        with pytest.raises(TunerError, match="no Dask scheduler answers there|nothing there "
                                             "answered as a Dask scheduler"):
            connect_scheduler(f"tcp://127.0.0.1:{listener.getsockname()[1]}", timeout=2)
    finally:
        listener.close()


def test_a_scheduler_without_workers_is_said_and_a_late_worker_is_set_up(no_worker_cluster,
                                                                         monkeypatch) -> None:
    """No worker: the trials waited for ever, untold. A worker that joins later gets the
    sweep's thread count (one restarted mid-sweep ran with its own)."""
    from tuner.engine import executors

    address = no_worker_cluster.scheduler_address  # type: ignore[attr-defined]
    monkeypatch.setattr(executors, "WORKERS_WAIT_S", 1.0)
    with pytest.raises(TunerError, match="the scheduler has no worker .waited 1 s.; start "
                                         "workers with `dask worker"):
        DaskExecutor(1, address, None, threads=3)
    no_worker_cluster.scale(1)  # type: ignore[attr-defined]
    executor = DaskExecutor(1, address, None, threads=3)
    try:
        assert executor.submit(_threads).result(timeout=60) == 3
        no_worker_cluster.scale(2)  # type: ignore[attr-defined]
        executor.client.wait_for_workers(2, timeout=60)
        assert sorted(executor.client.run(_threads).values()) == [3, 3]
    finally:
        executor.shutdown()
    # the sweep's plugin leaves with it: later workers, other users', never get it
    from distributed import Client

    with Client(address) as other:
        plugins = other.run_on_scheduler(lambda dask_scheduler: list(
            dask_scheduler.worker_plugins))
    assert not [name for name in plugins if name.startswith("tuner-worker-setup")]


def test_a_scheduler_without_the_dask_executor_is_refused(tmp_path, small_corpus, capsys) -> None:
    """It ran on the local process pool, unsaid."""
    from tests.conftest import make_grid
    from tuner.cli import main

    grid = make_grid(tmp_path, small_corpus, params={"num_topics": 5})
    assert main(["run", str(grid), "--scheduler", "tcp://127.0.0.1:8786",
                 "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]) == 2
    assert "--scheduler tcp://127.0.0.1:8786: the process executor has no scheduler; add " \
           "--executor dask" in capsys.readouterr().err
    assert not (tmp_path / "m.db").exists()  # nothing was started
