"""`tuner serve` under slow or greedy clients and on SIGTERM: a real process on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.service.conftest import tiny_grid
from tests.service.serving import TOKEN, Served, start_server
from tuner.serve.transport import HANDLER_THREADS, GatedHTTPServer

MAX_CONNECTIONS, REQUEST_TIMEOUT = 64, 2.0
HALF_OPEN = 200  # more than MAX_CONNECTIONS: the oldest are dropped to make room


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("Threads:")))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve-limits")
    (root / "grids").mkdir()
    served = start_server(root, session_cache, "--max-connections", str(MAX_CONNECTIONS),
                          "--request-timeout", str(REQUEST_TIMEOUT))
    yield served
    served.stop()


@pytest.fixture
def half_open(limited: Served) -> Iterator[list[socket.socket]]:
    """HALF_OPEN connections, each having sent part of a request head and nothing more."""
    sockets: list[socket.socket] = []
    head = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{limited.port}\r\n".encode()
    deadline = time.monotonic() + 30
    try:
        while len(sockets) < HALF_OPEN and time.monotonic() < deadline:
            sock = socket.create_connection(("127.0.0.1", limited.port), timeout=5)
            sockets.append(sock)
            with contextlib.suppress(OSError):  # refused at once: the cap at work
                sock.sendall(head)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        data = sock.recv(4096)
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return data == b"" or data.startswith((b"HTTP/1.0 503 ", b"HTTP/1.0 408 "))


def test_half_open_connections_hold_a_bounded_number_of_threads(
        limited: Served, half_open: list[socket.socket]) -> None:
    """Issue #10 item 8: 200 half-open requests held 204 threads."""
    assert len(half_open) == HALF_OPEN
    peak = max(_threads(limited.process.pid) for _ in range(5) if time.sleep(0.1) is None)
    assert peak <= HANDLER_THREADS + 8, peak


def test_a_normal_request_is_answered_at_once_while_half_open_connections_linger(
        limited: Served, half_open: list[socket.socket]) -> None:
    start = time.monotonic()
    assert limited.call("GET", "/health") == (200, {"status": "ok"})
    assert time.monotonic() - start < REQUEST_TIMEOUT


def test_half_open_connections_are_closed_after_the_request_timeout(
        limited: Served, half_open: list[socket.socket]) -> None:
    time.sleep(REQUEST_TIMEOUT + 1)
    for sock in half_open:
        sock.settimeout(5)
    assert all(_closed_by_server(sock) for sock in half_open)


def test_a_trickling_request_is_cut_at_the_deadline(limited: Served) -> None:
    """One byte every 0.3 s resets a per-read timeout forever; the deadline is per request."""
    sock = socket.create_connection(("127.0.0.1", limited.port), timeout=5)
    start, closed = time.monotonic(), False
    try:
        for byte in (b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100):
            sock.sendall(bytes([byte]))
            time.sleep(0.3)
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                closed = sock.recv(1) in (b"", b"H")  # closed, or answered 408
            sock.setblocking(True)
            if closed or time.monotonic() - start > REQUEST_TIMEOUT + 8:
                break
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    finally:
        sock.close()
    assert closed
    assert time.monotonic() - start < REQUEST_TIMEOUT + 3


def test_sigterm_stops_the_server_and_its_running_sweep(tmp_path: Path, small_corpus: Path,
                                                        session_cache: Path) -> None:
    """Issue #10 item 19: `docker stop` must end `tuner serve` cleanly: no traceback, no
    worker left behind, no run left RUNNING, no queued sweep's grid left on disk."""
    (tmp_path / "grids").mkdir()
    (tmp_path / "datasets").mkdir()
    shutil.copy(small_corpus, tmp_path / "datasets" / "corpus.jsonl")
    grid = tiny_grid("stopped", Path("../datasets/corpus.jsonl"), [1, 2, 3, 4])
    grid["params"] = {"num_topics": [5, 8], "vocab_size": 1000, "lda.max_iter": 500}
    (tmp_path / "grids" / "long.json").write_text(json.dumps(grid))
    served = start_server(tmp_path, session_cache, "--max-workers", "2",
                          "--threads-per-worker", "1")  # the option reaches the shared pool
    try:
        status, job = served.call("POST", "/sweeps", {"grid": "long.json"})
        assert status == 202, job
        queued = served.call("POST", "/sweeps", {"grid_inline": {**grid, "experiment": "later"}})
        assert queued[0] == 202 and queued[1]["status"] == "queued", queued
        workers = _wait_for_workers(served)
        served.process.send_signal(signal.SIGTERM)
        code = served.process.wait(timeout=20)
    finally:
        served.stop()
    log = served.log_text()
    assert code == 0, log
    assert "tuner API stopped (SIGTERM)" in log and "Traceback" not in log
    assert _gone(workers)
    runs = MlflowClient(served.store).search_runs(
        [MlflowClient(served.store).get_experiment_by_name("stopped").experiment_id])
    assert {r.info.status for r in runs if r.data.tags.get("tuner.role") == "sweep"} == \
        {"KILLED"}
    assert "RUNNING" not in {r.info.status for r in runs}
    assert list((session_cache / "inline_grids").glob(f"{queued[1]['id']}.json")) == []


def _wait_for_workers(served: Served) -> list[int]:
    """The pids of the server's worker processes once a trial is running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = served.call("GET", "/sweeps")[1]
        if len(_children(served.process.pid)) >= 2 and jobs and jobs[0]["total"]:
            time.sleep(1.0)  # let the workers pick up their trials
            return _children(served.process.pid)
        time.sleep(0.3)
    pytest.fail(f"no worker started:\n{served.log_text()}")




def _children(pid: int) -> list[int]:
    """Child processes of every thread of `pid` (a pool's workers belong to its thread)."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # the thread ended meanwhile
            children += [int(child) for child in (task / "children").read_text().split()]
    return children


def _gone(pids: list[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.2)
    return False


def test_a_request_arriving_in_pieces_is_answered_whole(limited: Served) -> None:
    body = b'{"grids": "tiny.json"}'
    head = (f"POST /sweeps HTTP/1.1\r\nHost: 127.0.0.1:{limited.port}\r\nAuthorization: Bearer "
            f"{TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        for piece in (head.encode()[:20], head.encode()[20:], body[:5], body[5:]):
            sock.sendall(piece)
            time.sleep(0.2)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 400 ")
    assert b"'grid'" in answer


def test_threads_per_worker_reaches_sweeps_that_run_at_once(tmp_path: Path, small_corpus: Path,
                                                            session_cache: Path) -> None:
    """With --max-active-sweeps above 1 each sweep starts its own pool; the option must reach it
    as it reaches the shared one."""
    from tests.conftest import REPO
    from tests.service.serving import wait_done

    (tmp_path / "grids").mkdir()
    (tmp_path / "datasets").mkdir()
    shutil.copy(small_corpus, tmp_path / "datasets" / "corpus.jsonl")
    grid = tiny_grid("threads", Path("../datasets/corpus.jsonl"), [1])
    grid["models"], grid["params"] = ["threads"], {"num_topics": 5, "vocab_size": 1000}
    (tmp_path / "grids" / "threads.json").write_text(json.dumps(grid))
    served = start_server(tmp_path, session_cache, "--max-workers", "1", "--max-active-sweeps",
                          "2", "--threads-per-worker", "3",
                          env={"TUNER_TRAINERS": "Threads=tests.plugins:ThreadsTrainer",
                               "PYTHONPATH": str(REPO)})
    try:
        status, job = served.call("POST", "/sweeps", {"grid": "threads.json"})
        assert status == 202, job
        assert wait_done(served, job["id"])["status"] == "finished", served.log_text()
    finally:
        served.stop()
    client = MlflowClient(served.store)
    runs = client.search_runs([client.get_experiment_by_name("threads").experiment_id],
                              "metrics.fit_threads >= 0")
    assert [r.data.metrics["fit_threads"] for r in runs] == [3.0]


def test_the_server_keeps_a_bounded_history_of_ended_sweeps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sweeps that failed at once (a store refusing the experiment) escaped the queue's limit
    and every one stayed in the server's memory (audit of 2026-12-01)."""
    from tuner.serve import jobs

    monkeypatch.setattr(jobs, "KEEP_ENDED", 3)
    registry = jobs.SweepRegistry(jobs.JobSettings(tmp_path, tmp_path / "cache",
                                                   f"sqlite:///{tmp_path}/mlflow.db"))
    try:
        for i in range(6):
            job = jobs.SweepJob(f"job{i}", f"experiment-{i}", "grid_inline")
            registry._register(job)
            registry._end(job, "failed", "the store refused it")
        assert [j.id for j in registry.jobs()] == ["job3", "job4", "job5"]
    finally:
        registry.shutdown(1)


def test_a_full_queue_refuses_a_sweep_before_validating_it(tmp_path: Path) -> None:
    """The 503 came after the request's validation, which costs as much as an accepted one's
    (attacker audit of 2026-12-02): a grid with a missing corpus is refused 503, not 400."""
    from tuner.errors import ApiError
    from tuner.serve import jobs

    registry = jobs.SweepRegistry(jobs.JobSettings(tmp_path, tmp_path / "cache",
                                                   f"sqlite:///{tmp_path}/mlflow.db",
                                                   max_queued=1))
    try:
        registry._register(jobs.SweepJob("job0", "queued-one", "grid_inline"))
        body = {"grid_inline": tiny_grid("another", tmp_path / "missing.jsonl", [1])}
        with pytest.raises(ApiError) as refused:
            registry.submit(body)
        assert (refused.value.status, refused.value.message) == (
            503, "1 sweep is queued, the most this server holds; try again later")
    finally:
        registry.shutdown(1)


def test_a_starting_server_removes_the_inline_grids_of_servers_that_are_gone(
        tmp_path: Path) -> None:
    """A killed server's inline grids stayed under the cache folder for good (audit of
    2026-12-02); a running server's must stay, and so must another host's (a container's pids
    are its own: one server removed a live container's grids by its pid; review of
    2026-12-02)."""
    import os
    import subprocess
    import sys

    from tuner.processes import process_started
    from tuner.serve import jobs

    inline = tmp_path / "cache" / jobs.INLINE_FOLDER
    gone = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    me = process_started(os.getpid()) or ""
    folders = {jobs._server_folder_name(gone): me,  # a pid reused, or dead
               jobs._server_folder_name(): me,  # running
               f"another-host-{gone}": "boot:1"}
    for name, owner in folders.items():
        (inline / name).mkdir(parents=True, exist_ok=True)
        (inline / name / "abc.json").write_text("{}")
        (inline / name / jobs.OWNER_FILE).write_text(owner)
    (inline / "0123456789ab.json").write_text("{}")  # the layout before per-server folders
    registry = jobs.SweepRegistry(jobs.JobSettings(tmp_path, tmp_path / "cache",
                                                   f"sqlite:///{tmp_path}/mlflow.db"))
    try:
        assert sorted(p.name for p in inline.iterdir()) == sorted(
            [jobs._server_folder_name(), f"another-host-{gone}"])
        assert (inline / jobs._server_folder_name() / "abc.json").is_file()
    finally:
        registry.shutdown(1)


def _holding_server(release: threading.Event, holds: Callable[[str, str], bool],
                    max_connections: int = 256) -> GatedHTTPServer:
    """A started GatedHTTPServer with the service's lanes whose handler answers "ok" to every
    request, once `release` is set for those `holds(method, path)` names."""
    from tuner.serve.server import request_lane
    from tuner.serve.transport import PrereadHandler

    class Handler(PrereadHandler):
        def do_GET(self) -> None:  # noqa: N802
            self._answer()

        def do_POST(self) -> None:  # noqa: N802
            self._answer()

        def _answer(self) -> None:
            if holds(self.command, self.path):
                release.wait(60)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = GatedHTTPServer(("127.0.0.1", 0), Handler, max_connections, 30.0, 1 << 20,
                             lane_of=request_lane(None))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_sweep_submissions_wait_in_their_own_lane_and_reads_are_answered_meanwhile() -> None:
    """40 POST /sweeps at once, each validating a 5 MB corpus, held every handler thread:
    GET /health took 69 s and the 503s came after 47 to 57 s (attacker audit of 2026-12-02).
    Submissions held here until released: the lane takes its threads and its queue, answers
    the rest 503 at once, and a GET is answered while it is full."""
    import http.client

    from tuner.serve.transport import HEAVY_THREADS, HEAVY_WAITING

    release = threading.Event()
    # submissions are held; a GET, or a cancel (not a submission), is answered at once
    server = _holding_server(release, lambda method, path: method == "POST"
                             and not path.endswith("/cancel"))
    port = server.server_port

    def post(path: str) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("POST", path, body=b"{}")
        return connection

    try:
        held = [post("/sweeps") for _ in range(HEAVY_THREADS + HEAVY_WAITING)]
        time.sleep(0.5)  # the gate hands them to the lane
        refused = [post(path).getresponse() for path in ("/sweeps", "//sweeps/?x=1")]
        assert [(r.status, r.read()) for r in refused] == \
            [(503, b'{"error": "too many requests; retry in a few seconds"}')] * 2
        health = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        health.request("GET", "/health")
        assert health.getresponse().read() == b"ok"  # while every submission is held
        cancel = post("/sweeps/abc/cancel").getresponse()  # not a submission: the other lane
        assert (cancel.status, cancel.read()) == (200, b"ok")
        assert not release.is_set()
        release.set()
        assert all(c.getresponse().read() == b"ok" for c in held)
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_health_probes_are_answered_while_every_ordinary_thread_is_held() -> None:
    """100 clients reading leaderboards (0.24 s each) held the 8 threads and their queue, and
    every health probe was answered 503 (attacker audit of 2026-12-03): probes have a thread of
    their own."""
    import http.client

    from tuner.serve.transport import ORDINARY

    release = threading.Event()
    server = _holding_server(release, lambda method, path: path != "/health", 512)

    def get(path: str) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
        connection.request("GET", path)
        return connection

    def lane_full() -> bool:  # every place of the ordinary lane taken
        return not server._lanes[ORDINARY].queued._value  # type: ignore[attr-defined]

    try:
        held = [get("/sweeps/abc/leaderboard") for _ in range(HANDLER_THREADS * 9)]
        deadline = time.monotonic() + 60  # the gate hands them to the lane (slowly, on a busy CI)
        while not lane_full() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert get("/sweeps").getresponse().status == 503  # the ordinary lane is full
        assert [get("/health").getresponse().read() for _ in range(3)] == [b"ok"] * 3
        release.set()
        assert all(c.getresponse().status == 200 for c in held)
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_request_trickled_byte_by_byte_is_whole_at_its_last_byte() -> None:
    """The gate reads a head once and searches only the bytes that came since (each byte of a
    62 KB head's body re-read it all; attacker audit of 2026-12-03): a head's end split over
    two reads is still found, and the body is waited for to its last byte."""
    from tuner.serve.transport import _Waiting

    request = b"POST /sweeps HTTP/1.1\r\nX-Pad: " + b"a" * 5000 + \
        b"\r\nContent-Length: 5\r\n\r\n{\"a\"}"
    waiting = _Waiting(None, None, 0.0)  # type: ignore[arg-type]
    whole_at = []
    for i in range(len(request)):
        waiting.data += request[i:i + 1]
        if waiting.complete(max_body=1000):
            whole_at.append(i + 1)
    assert whole_at == [len(request)]
    assert waiting.needed == len(request)


def test_only_a_submission_with_the_token_takes_the_submissions_lane() -> None:
    """10 clients without the token, each answered 401, held the submissions' lane, and real
    submissions were answered 503 (attacker audit of 2026-12-03): without the token a
    submission is an ordinary request, answered 401 by the ordinary lane."""
    from tuner.serve.server import request_lane
    from tuner.serve.transport import HEALTH, HEAVY, ORDINARY

    lane_of = request_lane("s3cret-token")
    post = b"POST /sweeps HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n"
    assert lane_of(post + b"\r\n{}") == ORDINARY
    assert lane_of(post + b"Authorization: Bearer wrong\r\n\r\n{}") == ORDINARY
    assert lane_of(post + b"authorization:  bearer s3cret-token\r\n\r\n{}") == HEAVY
    assert lane_of(post + b"\r\nAuthorization: Bearer s3cret-token") == ORDINARY  # the body's
    assert lane_of(b"GET /sweeps HTTP/1.1\r\nAuthorization: Bearer s3cret-token\r\n\r\n") \
        == ORDINARY
    assert lane_of(b"HEAD //health/ HTTP/1.1\r\n\r\n") == HEALTH
    assert request_lane(None)(post + b"\r\n{}") == HEAVY  # a loopback server with no token


@pytest.mark.parametrize("line, heavy", [
    (b"POST /sweeps HTTP/1.1\r", True), (b"POST //sweeps/?x=1 HTTP/1.1", True),
    (b"POST\t/sweeps\tHTTP/1.1", True), (b"POST  /sweeps HTTP/1.1", True),
    (b" POST /sweeps HTTP/1.1", True), (b"POST\x0b/sweeps HTTP/1.1", True),
    (b"POST /sweeps/abc/cancel HTTP/1.1", False), (b"GET /sweeps HTTP/1.1", False),
    (b"POST", False), (b"", False),
])
def test_a_submission_is_told_as_http_server_reads_its_line(line: bytes, heavy: bool) -> None:
    """A tab or a second space between the words put a submission in the other lane, which
    http.server still routed to it (review of 2026-12-02)."""
    from tuner.serve.server import starts_a_sweep

    assert starts_a_sweep(line) is heavy


def test_an_experiment_name_with_no_utf_8_form_is_refused_as_bad_input(tmp_path: Path) -> None:
    """A lone surrogate in an inline grid's experiment reached the lock's file name before
    validation: 500 and a traceback in the log for every request (attacker audit of
    2026-12-03)."""
    from tuner.errors import ApiError
    from tuner.serve import jobs

    registry = jobs.SweepRegistry(jobs.JobSettings(tmp_path, tmp_path / "cache",
                                                   f"sqlite:///{tmp_path}/mlflow.db"))
    try:
        body = {"grid_inline": {**tiny_grid("x", tmp_path / "corpus.jsonl", [1]),
                                "experiment": "\udfff"}}
        with pytest.raises(ApiError) as refused:
            registry.submit(body)
        assert refused.value.status == 400
        assert refused.value.problems == [
            "grid_inline: experiment: holds a lone surrogate (JSON's \\ud800 to \\udfff alone), "
            "which is not text; write the character itself, or its surrogate pair"]
    finally:
        registry.shutdown(1)


def test_a_path_no_file_name_can_hold_is_said_so_not_outside_the_roots(tmp_path: Path) -> None:
    """"../data/\\ud800.jsonl" was answered "must be a file or folder under the server's data
    roots" (attacker audit of 2026-12-04)."""
    from tuner.errors import ApiError
    from tuner.serve import jobs

    registry = jobs.SweepRegistry(jobs.JobSettings(tmp_path, tmp_path / "cache",
                                                   f"sqlite:///{tmp_path}/mlflow.db"))
    try:
        for path, said in (("\ud800.jsonl", "a lone surrogate"), ("a\x00.jsonl", "a NUL byte")):
            body = {"grid_inline": tiny_grid("x", Path(path), [1])}
            with pytest.raises(ApiError) as refused:
                registry.submit(body)
            assert refused.value.status == 400
            problem = refused.value.problems[0]
            assert problem.startswith(f"grid_inline: dataset.path: holds {said}")
            assert "which no file name can hold" in problem and "roots" not in problem
    finally:
        registry.shutdown(1)


def test_a_port_in_use_is_named_not_a_traceback(tmp_path: Path) -> None:
    """The failed bind called server_close() before the server's gate existed: an
    AttributeError hid the "cannot listen" message (attacker audit of 2026-12-03)."""
    from tuner.errors import TunerError
    from tuner.serve.server import ServerSettings, make_server

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        settings = ServerSettings("127.0.0.1", port, tmp_path / "grids", tmp_path / "cache",
                                  f"sqlite:///{tmp_path}/mlflow.db")
        with pytest.raises(TunerError, match=rf"--port {port}: cannot listen: "):
            make_server(settings)
    finally:
        taken.close()


@pytest.mark.parametrize("roots, cache", [((".",), "cache"), ((), "grids/cache"),
                                          (("data/models",), "data")])
def test_a_cache_folder_among_the_data_roots_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, roots: tuple[str, ...],
        cache: str) -> None:
    """A request could name the cache's files (copies of other sweeps' model folders) and the
    server would trust what a client wrote there (review of 2026-12-05)."""
    from tuner.errors import TunerError
    from tuner.serve.server import ServerSettings, make_server

    monkeypatch.chdir(tmp_path)
    settings = ServerSettings("127.0.0.1", 0, Path("grids"), Path(cache),
                              f"sqlite:///{tmp_path}/mlflow.db",
                              data_roots=tuple(Path(r) for r in roots))
    with pytest.raises(TunerError, match=f"--cache-dir {cache}: overlaps the data root"):
        make_server(settings)


def test_the_server_logs_each_sweeps_end(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                         ) -> None:
    """`tuner serve` wrote nothing about sweeps at its default level (ops audit of
    2026-12-03); `tuner serve` shows tuner.serve.jobs' INFO lines."""
    from concurrent.futures import Future

    from tuner.serve import jobs

    registry = jobs.SweepRegistry(jobs.JobSettings(tmp_path, tmp_path / "cache",
                                                   f"sqlite:///{tmp_path}/mlflow.db"))
    try:
        registry._register(jobs.SweepJob("job0", "waiting", "grid_inline"))
        registry._futures["job0"] = Future()  # queued: not started
        with caplog.at_level("INFO", logger="tuner.serve.jobs"):
            registry.cancel("job0")
        assert "sweep job0 cancelled: experiment 'waiting', 0 completed, 0 failed, 0 skipped; " \
               "cancelled before it started" in caplog.text
    finally:
        registry.shutdown(1)


def test_the_service_refuses_a_corpus_that_keeps_no_word_before_accepting_it(tmp_path: Path
                                                                              ) -> None:
    """As `tuner validate` does (user audit of 2026-12-03): it was accepted, then failed."""
    from tests.conftest import write_jsonl
    from tuner.errors import ApiError
    from tuner.serve import jobs

    rows = [{"id": str(i), "text": f"{i * 7} + {i} = {i * 8}", "label": str(i % 2)}
            for i in range(40)]
    corpus = write_jsonl(tmp_path / "numbers.jsonl", rows)
    registry = jobs.SweepRegistry(jobs.JobSettings(tmp_path, tmp_path / "cache",
                                                   f"sqlite:///{tmp_path}/mlflow.db"))
    try:
        with pytest.raises(ApiError) as refused:
            registry.submit({"grid_inline": tiny_grid("numbers", corpus, [1])})
        assert refused.value.status == 400 and registry.jobs() == []
    finally:
        registry.shutdown(1)


def test_no_sweep_starts_while_the_cache_disk_is_short_of_free_space(
        tmp_path: Path, small_corpus: Path, session_cache: Path) -> None:
    """Each new preprocessing or NPMI window caches its bag of words and counts for good: one
    request every 6 s would fill 30 GB an hour (attacker audit of 2026-12-04). A server asked to
    keep more free than any disk has refuses every sweep with 507, and says what to delete."""
    (tmp_path / "grids").mkdir()
    (tmp_path / "datasets").mkdir()
    shutil.copy(small_corpus, tmp_path / "datasets" / "corpus.jsonl")
    grid = tiny_grid("full-disk", Path("../datasets/corpus.jsonl"), [1])
    served = start_server(tmp_path, session_cache, "--min-free-gb", "1e12")
    try:
        status, body = served.call("POST", "/sweeps", {"grid_inline": grid})
        assert served.call("GET", "/health", token=None)[0] == 200
    finally:
        served.stop()
    assert status == 507, body
    assert body["error"].startswith("the cache folder's or the tracking store's disk has ")
    assert "under this server's --min-free-gb 1e+12: no sweep starts until space is freed" in \
        body["error"] and "journal/ holds results not yet logged" in body["error"]


def test_a_finished_sweeps_progress_is_whole_whatever_its_budget_counted() -> None:
    """A TPE search's total is n_trials x seeds, but a fit that reads no seed (STM's spectral
    start) makes one trial a suggestion: its finished job stood at progress 0.5 (review of
    2026-12-04)."""
    from tuner.serve import jobs

    job = jobs.SweepJob("job0", "seedless", "grid_inline", status="running", total=8,
                        completed=4)
    assert job.progress == 0.5
    job.status = "finished"
    assert job.progress == 1.0 and job.as_json()["progress"] == 1.0


def test_a_served_sweep_the_store_failed_says_how_many_results_wait_in_the_journal(
        tmp_path: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store broke mid-sweep: the server's log said the result was kept in the journal, and
    the sweep's status said "journalled": 0 (concurrency audit of 2026-12-05)."""
    from tests.tuner.store_breaker import STORE_VARIABLE
    from trainers import EXTRA_VARIABLE
    from tuner.serve import jobs

    store = tmp_path / "mlflow.db"
    monkeypatch.setenv(EXTRA_VARIABLE, "StoreBreaker=tests.tuner.store_breaker:StoreBreakerTrainer")
    monkeypatch.setenv(STORE_VARIABLE, str(store))
    grid = {**tiny_grid("broken", small_corpus, [1]), "models": ["storebreaker"],
            "params": {"num_topics": 5, "vocab_size": 1000}}
    registry = jobs.SweepRegistry(jobs.JobSettings(
        tmp_path, tmp_path / "cache", f"sqlite:///{store}", max_workers=1,
        data_roots=(small_corpus.parent, tmp_path)))
    try:
        job = registry.submit({"grid_inline": grid})
        deadline = time.monotonic() + 240
        while registry.get(job.id).status in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.5)
        ended = registry.get(job.id)
        assert ended.status == "failed" and ended.journalled == 1, (ended.status, ended.error)
    finally:
        registry.shutdown(5)


def test_a_served_sweep_waiting_on_another_sweeps_cache_entry_says_so_and_can_be_cancelled(
        tmp_path: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While another process held the cache entry it needed, a served sweep said
    `waiting: null` and ignored its cancel until the entry came free (74 s measured by the
    concurrency audit of 2026-12-05)."""
    import subprocess
    import sys

    from tuner.cli import main
    from tuner.data import store
    from tuner.serve import jobs

    grid = {**tiny_grid("waits", small_corpus, [1]), "params": {"num_topics": 5,
                                                                 "vocab_size": 1000}}
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid), encoding="utf-8")
    cache = tmp_path / "cache"
    assert main(["precompute", str(path), "--cache-dir", str(cache), "--quiet"]) == 0
    locks = [str(p) for p in cache.rglob("*.lock")]
    assert locks
    holder = subprocess.Popen(  # another sweep computing every entry this one reads
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         "held = [FileLock(p) for p in sys.argv[1:]]; [h.acquire() for h in held]; "
         "print('held', flush=True); time.sleep(120)", *locks],
        stdout=subprocess.PIPE, text=True)
    monkeypatch.setattr(store, "WAIT_SAID_AFTER_S", 0.5)
    registry = jobs.SweepRegistry(jobs.JobSettings(
        tmp_path, cache, f"sqlite:///{tmp_path / 'mlflow.db'}", max_workers=1,
        data_roots=(small_corpus.parent, tmp_path)))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        job = registry.submit({"grid_inline": grid})
        deadline = time.monotonic() + 120
        while not (registry.get(job.id).waiting or "").startswith("waiting for "):
            assert time.monotonic() < deadline, registry.get(job.id).as_json()
            assert registry.get(job.id).status in ("queued", "running")
            time.sleep(0.2)
        state = registry.get(job.id).as_json()
        assert state["status"] == "running"
        assert "another sweep holds it while it computes that cache entry" in state["waiting"]
        cancelled = time.monotonic()
        registry.cancel(job.id)
        while registry.get(job.id).status == "running":
            assert time.monotonic() - cancelled < 15, "the cancel waited for the cache lock"
            time.sleep(0.2)
        ended = registry.get(job.id)
        assert (ended.status, ended.waiting) == ("cancelled", None), ended.as_json()
    finally:
        registry.shutdown(5)
        holder.kill()
        holder.wait()


def test_a_served_trial_runs_no_longer_than_the_servers_most(
        tmp_path: Path, small_corpus: Path) -> None:
    """A grid of 9,600 LDA trials at 10,000 iterations with timeout_s null held the service and
    its experiment's lock for as long as they took (attacker audit of 2026-12-05)."""
    from tuner.serve import jobs

    grid = {**tiny_grid("endless", small_corpus, [1]),
            "params": {"num_topics": 50, "vocab_size": 1000, "lda.max_iter": 10000},
            "timeout_s": None}
    registry = jobs.SweepRegistry(jobs.JobSettings(
        tmp_path, tmp_path / "cache", f"sqlite:///{tmp_path / 'mlflow.db'}", max_workers=1,
        data_roots=(small_corpus.parent, tmp_path), max_trial_s=2.0))
    try:
        job = registry.submit({"grid_inline": grid})
        deadline = time.monotonic() + 180
        while registry.get(job.id).status in ("queued", "running"):
            assert time.monotonic() < deadline, registry.get(job.id).as_json()
            time.sleep(0.5)
        ended = registry.get(job.id)
        assert (ended.status, ended.failed, ended.completed) == ("failed", 1, 0), ended.as_json()
        run = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(
            [str(ended.experiment_id)], "tags.`tuner.role` = 'trial'")[0]
        assert run.data.tags["tuner.error_type"] == "TrialTimeout", run.data.tags
    finally:
        registry.shutdown(5)


@pytest.mark.parametrize(("asked", "most", "limit"), [
    (None, 60.0, 60.0), (30.0, 60.0, 30.0), (600.0, 60.0, 60.0), (600.0, None, 600.0),
    (None, None, None)])
def test_a_served_trials_limit_is_the_grids_at_most_the_servers(
        asked: float | None, most: float | None, limit: float | None) -> None:
    from tuner.serve.jobs import served_timeout

    assert served_timeout(asked, most) == limit
