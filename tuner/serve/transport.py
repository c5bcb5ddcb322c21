"""The HTTP transport of `tuner serve`, hardened against slow and greedy clients (slowloris).

One gate thread reads every new connection with a selector until its request is whole (head,
then the body its Content-Length announces, up to the body limit); only then does one of a
fixed pool of handler threads answer it from memory. A connection that has not sent its whole
request `timeout` seconds after it was accepted is answered 408 and closed, however slowly its
bytes trickle in; past `max_connections` waiting connections the oldest is dropped. So a slow
client costs a socket, never a thread, and a normal request is answered at once.

Requests that start long work (the API's POST /sweeps, which validates a corpus) have a lane of
their own, a few threads and a short queue, and past it are answered 503 at once: in one lane,
40 such POSTs at once hold all 8 threads, and GET /health waits 69 s behind them. Health probes
have a thread of their own too: otherwise 100 clients reading leaderboards (0.24 s each from
MLflow) hold the 8 threads and their queue, and every probe is answered 503, which a
container's health check takes for a dead server. The server says which lane a request takes
from its head (`lane_of`).
"""

from __future__ import annotations

import io
import json
import logging
import queue
import re
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar, cast

log = logging.getLogger(__name__)
HANDLER_THREADS = 8
HEAVY_THREADS = 2  # requests of the heavy lane answered at once
HEAVY_WAITING = 8  # and waiting for one of its threads; more are answered 503 at once
HEALTH_WAITING = 16
ORDINARY, HEAVY, HEALTH = "http", "http-heavy", "http-health"  # the lanes' names
MAX_HEAD = 64 * 1024  # as http.server: a longer line or head is answered 414/431 by the handler
_LENGTH = re.compile(rb"^content-length:[ \t]*([0-9]{1,15})[ \t]*\r?$", re.I | re.M)


def _answer(status: str, message: str) -> bytes:
    body = b'{"error": "%s"}' % message.encode()
    return (b"HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status.encode(), len(body), body))


TIMED_OUT = _answer("408 Request Timeout", "the request did not arrive in time")
BUSY = _answer("503 Service Unavailable", "too many requests; retry in a few seconds")


@dataclass
class _Waiting:
    """A connection whose request is still arriving."""

    sock: socket.socket
    address: Any
    deadline: float
    data: bytearray = field(default_factory=bytearray)
    searched: int = 0  # bytes of `data` searched for the head's end
    needed: int | None = None  # bytes of head and body, once the head is whole

    def complete(self, max_body: int) -> bool:
        """Whole head and announced body, or enough for the handler to refuse it. The head is
        read once, and searched for its end only where new bytes came: read again for every
        byte of a trickled body, a 62 KB head costs the gate enough to slow every other
        connection's answer from 0.1 to 1.6 s."""
        if self.needed is None:
            end = self.data.find(b"\r\n\r\n", max(0, self.searched - 3))
            self.searched = len(self.data)
            if end < 0:
                return len(self.data) > MAX_HEAD
            length = _LENGTH.search(bytes(self.data[:end + 2]))
            if length is None or int(length.group(1)) > max_body:
                return True  # no body to wait for, or the handler answers 400/413 from the head
            self.needed = end + 4 + int(length.group(1))
        return len(self.data) >= self.needed


class GatedHTTPServer(HTTPServer):
    """An HTTPServer whose handlers run only once a request has fully arrived."""

    request_queue_size = 128  # the listen backlog: a burst waits instead of being refused

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 max_connections: int, timeout: float, max_body: int,
                 lane_of: Callable[[bytes], str] = lambda _request: ORDINARY) -> None:
        self.request_timeout, self.max_body = timeout, max_body
        self.max_connections = max_connections
        self.preread = threading.local()  # the request bytes of the handler thread's connection
        self._lane_of = lane_of  # from a whole request: the name of the lane that answers it
        self._lanes = {ORDINARY: _Lane(ORDINARY, HANDLER_THREADS, HANDLER_THREADS * 8),
                       HEAVY: _Lane(HEAVY, HEAVY_THREADS, HEAVY_WAITING),
                       HEALTH: _Lane(HEALTH, 1, HEALTH_WAITING)}
        self._gate = _Gate(self)
        # last: a port in use makes it call server_close(), which stops the gate and lanes
        # (made after it, they are missing then, and an AttributeError hides the OSError that
        # make_server names)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._gate.admit(request, client_address)

    def dispatch(self, request: socket.socket, client_address: Any, data: bytes) -> None:
        """Called by the gate with a whole request: queue it for a handler thread of its lane."""
        lane = self._lanes[self._lane_of(data)]
        if not lane.queued.acquire(blocking=False):
            _send_and_close(request, BUSY)
            return
        lane.pool.submit(self._handle, request, client_address, data, lane)

    def _handle(self, request: socket.socket, client_address: Any, data: bytes,
                lane: _Lane) -> None:
        try:
            request.setblocking(True)
            request.settimeout(self.request_timeout)
            self.preread.data = data
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            lane.queued.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that left before its answer is routine; anything else is a bug to log."""
        if isinstance(sys.exc_info()[1], OSError):
            log.info("%s: connection lost: %s", client_address, sys.exc_info()[1])
        else:
            log.error("%s: request failed", client_address, exc_info=True)

    def server_close(self) -> None:
        self._gate.stop()
        super().server_close()
        for lane in self._lanes.values():
            lane.pool.shutdown(wait=False, cancel_futures=True)


class _Lane:
    """Handler threads and how many requests they may hold, answered or waiting."""

    def __init__(self, name: str, threads: int, waiting: int) -> None:
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self.queued = threading.BoundedSemaphore(threads + waiting)


def _send_and_close(sock: socket.socket, answer: bytes) -> None:
    try:
        sock.setblocking(False)
        sock.send(answer)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the client went away or its window is full: closing is answer enough
    sock.close()


class _Gate:
    """The thread that reads requests until they are whole."""

    def __init__(self, server: GatedHTTPServer) -> None:
        self.server = server
        self._inbox: queue.SimpleQueue[tuple[socket.socket, Any]] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._waiting: dict[socket.socket, _Waiting] = {}  # only the gate thread touches it
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http-gate", daemon=True)
        self._thread.start()

    def admit(self, sock: socket.socket, address: Any) -> None:
        self._inbox.put((sock, address))
        self._wake_write.send(b"\0")

    def stop(self) -> None:
        self._stopped.set()
        self._wake_write.send(b"\0")
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.is_set():
            for key, _ in self._selector.select(timeout=0.25):
                if key.fileobj is self._wake_read:
                    self._take_new()
                    continue
                waiting = self._waiting.get(cast(socket.socket, key.fileobj))
                if waiting is not None:  # None: dropped earlier in this round
                    self._read(waiting)
            self._expire()
        for waiting in list(self._waiting.values()):
            self._drop(waiting)

    def _take_new(self) -> None:
        try:
            self._wake_read.recv(4096)
        except BlockingIOError:
            pass
        while not self._inbox.empty():
            sock, address = self._inbox.get()
            if len(self._waiting) >= self.server.max_connections:
                self._drop(min(self._waiting.values(), key=lambda w: w.deadline), BUSY)
            sock.setblocking(False)
            deadline = time.monotonic() + self.server.request_timeout
            self._waiting[sock] = _Waiting(sock, address, deadline)
            self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, waiting: _Waiting) -> None:
        try:
            chunk = waiting.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client closed its side before sending a whole request
            self._drop(waiting)
            return
        waiting.data += chunk
        if waiting.complete(self.server.max_body):
            self._release(waiting)
            self.server.dispatch(waiting.sock, waiting.address, bytes(waiting.data))

    def _expire(self) -> None:
        now = time.monotonic()
        for waiting in [w for w in self._waiting.values() if w.deadline <= now]:
            self._drop(waiting, TIMED_OUT)

    def _release(self, waiting: _Waiting) -> None:
        self._selector.unregister(waiting.sock)
        del self._waiting[waiting.sock]

    def _drop(self, waiting: _Waiting, answer: bytes = b"") -> None:
        self._release(waiting)
        _send_and_close(waiting.sock, answer)


class PrereadHandler(BaseHTTPRequestHandler):
    """Reads its request from the bytes the gate collected; writes to the socket."""

    server: GatedHTTPServer
    timeout: ClassVar[float] = 10.0

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """http.server's own answers to broken framing (400, 414, 431, 501, 505) in the API's
        JSON shape rather than an HTML page."""
        try:
            short, _ = self.responses[code]
        except KeyError:
            short = "error"
        body = json.dumps({"error": f"{code} {message or short}"}).encode() + b"\n"
        self.log_error("code %d, message %s", code, message or short)
        self.close_connection = True
        self.send_response(code, message or short)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile = io.BytesIO(self.server.preread.data)
