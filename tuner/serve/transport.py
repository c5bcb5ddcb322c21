"""The HTTP transport of `tuner serve`, hardened against slow and greedy clients: at most
`max_connections` connections are served at once (one thread each; past that a connection is
answered 503 and closed), and each request must arrive whole within `timeout` seconds,
however slowly its bytes trickle in (slowloris)."""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

_BUSY = b'{"error": "too many connections; retry in a few seconds"}'
OVER_CAPACITY = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_BUSY), _BUSY))


class BoundedHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer with a cap on concurrent connections."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog: a burst waits instead of being refused

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 max_connections: int) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            _refuse(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _refuse(request: socket.socket) -> None:
    try:
        request.setblocking(False)
        request.send(OVER_CAPACITY)
    except OSError:
        pass  # the client went away or its window is full: closing is answer enough


class DeadlineHandler(BaseHTTPRequestHandler):
    """Reads each connection's request against one deadline, `timeout` seconds after
    the connection was accepted; past it BaseHTTPRequestHandler logs "Request timed out" and
    closes the connection."""

    timeout: ClassVar[float] = 10.0  # StreamRequestHandler's per-read limit; here per request

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        raw = _DeadlineSocketIO(self.connection, time.monotonic() + self.timeout)
        self.rfile = io.BufferedReader(raw, io.DEFAULT_BUFFER_SIZE)


class _DeadlineSocketIO(socket.SocketIO):
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__(sock, "rb")
        self._deadline_sock = sock
        self.deadline = deadline

    def readinto(self, buffer: Any) -> int | None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._deadline_sock.settimeout(remaining)
        return super().readinto(buffer)
