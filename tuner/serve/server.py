"""`tuner serve`: a small HTTP API that starts sweeps in the background and reports on them.

Routes: GET /health, POST /sweeps, GET /sweeps, GET /sweeps/{id}, GET /sweeps/{id}/leaderboard.
Sweeps run through `tuner.flow.execute_sweep`, the same flow (and lock) as `tuner run`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tuner.errors import ApiError, TunerError
from tuner.serve.jobs import JobSettings, SweepRegistry

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024  # 1 MiB


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    grids_dir: Path
    cache_dir: Path
    tracking_uri: str
    max_workers: int = 2
    max_trials: int = 10000
    token: str | None = None
    max_body: int = MAX_BODY


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_server(settings: ServerSettings) -> ThreadingHTTPServer:
    """Bind the API; refuse a non-loopback address without a bearer token.

    Raises:
        TunerError: no token for a public address, or the address cannot be bound.
    """
    if not is_loopback(settings.host) and not settings.token:
        raise TunerError(f"--host {settings.host}: a non-loopback address needs a bearer token; "
                         "set TUNER_API_TOKEN (or bind 127.0.0.1)")
    if settings.max_workers < 1:
        raise TunerError(f"--max-workers expects an int >= 1; got {settings.max_workers}")
    registry = SweepRegistry(JobSettings(settings.grids_dir, settings.cache_dir,
                                         settings.tracking_uri, settings.max_workers,
                                         settings.max_trials))
    handler = _handler_class(registry, settings)
    try:
        server = ThreadingHTTPServer((settings.host, settings.port), handler)
    except OSError as err:
        raise TunerError(f"--host {settings.host} --port {settings.port}: cannot listen: "
                         f"{err.strerror}") from err
    server.daemon_threads = True
    return server


def serve(settings: ServerSettings, announce: Callable[[str], None]) -> None:
    """Serve until interrupted; `announce` receives the base URL once listening."""
    server = make_server(settings)
    announce(f"http://{settings.host}:{server.server_port}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _handler_class(registry: SweepRegistry,
                   settings: ServerSettings) -> type[BaseHTTPRequestHandler]:
    class Handler(_ApiHandler):
        pass

    Handler.registry = registry
    Handler.settings = settings
    return Handler


class _ApiHandler(BaseHTTPRequestHandler):
    registry: SweepRegistry
    settings: ServerSettings
    server_version = "tuner"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.info("%s %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        try:
            status, body = self._route(method, self.path.split("?", 1)[0].rstrip("/") or "/")
        except ApiError as err:
            status, body = err.status, {"error": err.message, "problems": err.problems}
        except TunerError as err:
            status, body = HTTPStatus.BAD_REQUEST, {"error": str(err).splitlines()[0],
                                                    "problems": str(err).splitlines()}
        self._send(status, body)

    def _route(self, method: str, path: str) -> tuple[int, Any]:
        if path == "/health" and method == "GET":
            return HTTPStatus.OK, {"status": "ok"}
        self._check_token()
        parts = path.strip("/").split("/")
        if parts[0] != "sweeps" or len(parts) > 3 or (len(parts) == 3 and
                                                      parts[2] != "leaderboard"):
            raise ApiError(HTTPStatus.NOT_FOUND, f"no route {method} {path}")
        if len(parts) == 1:
            if method == "POST":
                return HTTPStatus.ACCEPTED, self.registry.submit(self._json_body()).as_json()
            return HTTPStatus.OK, [job.as_json() for job in self.registry.jobs()]
        if method != "GET":
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} allows GET; got {method}")
        if len(parts) == 3:
            return HTTPStatus.OK, self.registry.leaderboard(parts[1])
        return HTTPStatus.OK, self.registry.get(parts[1]).as_json()

    def _check_token(self) -> None:
        token = self.settings.token
        if not token:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ApiError(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token; send "
                           "'Authorization: Bearer $TUNER_API_TOKEN'")

    def _json_body(self) -> Any:
        length_text = self.headers.get("Content-Length", "0")
        if not length_text.isdigit():
            raise ApiError(HTTPStatus.BAD_REQUEST, f"Content-Length expects an int; "
                           f"got {length_text!r}")
        length = int(length_text)
        if length > self.settings.max_body:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"body: at most {self.settings.max_body} bytes; got {length}")
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"body: expects a JSON object; {err}") from err

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body, indent=1, default=str).encode("utf-8")
        self.send_response(status)
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", "Bearer")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
