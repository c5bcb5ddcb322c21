"""`tuner serve`: a small HTTP API that starts sweeps in the background and reports on them.

Routes: GET /health, POST /sweeps, GET /sweeps, GET /sweeps/{id}, GET /sweeps/{id}/leaderboard.
Sweeps run through `tuner.flow.execute_sweep`, the same flow (and lock) as `tuner run`.
A request must name this server in its Host header (421 otherwise: DNS rebinding), a POST from a
browser must come from a page of this server (its Origin; 403 otherwise), and a POST with a body
must be `Content-Type: application/json` (415 otherwise: a cross-site form cannot send it).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar, cast

from tuner.devices import worker_limit_problem
from tuner.errors import ApiError, TunerError
from tuner.processes import signals_handled
from tuner.serve import MAX_BATCH_TOKENS, MAX_TRIAL_SECONDS, MIN_FREE_GB
from tuner.serve.errors import (
    LOGGED_LINE_CHARS,
    cut,
    log_reference,
    one_line,
    public_failure,
)
from tuner.serve.jobs import JobSettings, SweepRegistry
from tuner.serve.paths import DataRoots
from tuner.serve.transport import HEALTH, HEAVY, ORDINARY, GatedHTTPServer, PrereadHandler

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024  # 1 MiB
SHUTDOWN_GRACE_S = 7.0  # within `docker stop`'s 10 s before it kills
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
# The placeholders of .env.example ("change-me-...") and their kin.
PLACEHOLDER = re.compile(r"(change|replace)[-_ ]?me|placeholder|your[-_ ]?token", re.IGNORECASE)


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
    data_roots: tuple[Path, ...] = ()  # empty: grids_dir and ./datasets
    allowed_hosts: tuple[str, ...] = ()  # NAME or NAME:PORT, besides the bound address
    max_active_sweeps: int = 1
    max_connections: int = 256  # connections whose request is still arriving
    request_timeout: float = 10.0
    threads_per_worker: int | None = None
    max_batch_tokens: int = MAX_BATCH_TOKENS
    min_free_gb: float = MIN_FREE_GB
    max_trial_s: float | None = MAX_TRIAL_SECONDS


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HostPolicy:
    """The (name, port) pairs a Host header may give."""

    allowed: frozenset[tuple[str, int]]

    @classmethod
    def of(cls, bind_host: str, port: int, extra: Iterable[str]) -> HostPolicy:
        names = set(LOOPBACK_NAMES) if is_loopback(bind_host) or bind_host in WILDCARD_HOSTS \
            else set()
        if bind_host not in WILDCARD_HOSTS:
            names.add(f"[{bind_host}]" if ":" in bind_host else bind_host.lower())
        allowed = {(name, port) for name in names}
        for entry in extra:
            parsed = split_host(entry.lower(), port)
            if parsed is None:
                raise TunerError(f"--allowed-host {entry!r}: expects NAME or NAME:PORT")
            allowed.add(parsed)
        return cls(frozenset(allowed))

    def allows(self, header: str | None, default_port: int = 80) -> bool:
        return header is not None and \
            split_host(header.strip().lower(), default_port) in self.allowed


def split_host(value: str, default_port: int) -> tuple[str, int] | None:
    """`name[:port]` or `[v6]:port` -> (name, port); None if malformed."""
    if value.startswith("["):
        name, bracket, rest = value.partition("]")
        name, port = name + bracket, rest.removeprefix(":")
        if not bracket or (rest and not rest.startswith(":")):
            return None
    else:
        name, _, port = value.partition(":")
    if not name or ":" in port or (port and not re.fullmatch(r"[0-9]{1,5}", port)):
        return None
    return name, int(port) if port else default_port


def make_server(settings: ServerSettings) -> GatedHTTPServer:
    """Bind the API; refuse a non-loopback address without a real bearer token.

    Raises:
        TunerError: no token (or a placeholder) for a public address, a bad setting, or the
            address cannot be bound.
    """
    _check_settings(settings)
    registry = SweepRegistry(JobSettings(
        settings.grids_dir, settings.cache_dir, settings.tracking_uri, settings.max_workers,
        settings.max_trials, settings.data_roots, settings.max_active_sweeps,
        threads_per_worker=settings.threads_per_worker,
        max_batch_tokens=settings.max_batch_tokens, min_free_gb=settings.min_free_gb,
        max_trial_s=settings.max_trial_s))
    handler = _handler_class(registry, settings)
    try:
        server = GatedHTTPServer((settings.host, settings.port), handler,
                                 settings.max_connections, settings.request_timeout,
                                 settings.max_body, lane_of=request_lane(settings.token))
    except OSError as err:
        registry.shutdown(1)
        raise TunerError(f"--host {settings.host} --port {settings.port}: cannot listen: "
                         f"{err.strerror}") from err
    handler.hosts = HostPolicy.of(settings.host, server.server_port, settings.allowed_hosts)
    return server


def api_path(target: str) -> str:
    """The path a request target routes by: its query cut, trailing slashes dropped."""
    return target.split("?", 1)[0].rstrip("/") or "/"


def request_lane(token: str | None) -> Callable[[bytes], str]:
    """Which of the transport's lanes answers a whole request: a health probe its own; a sweep's
    submission the heavy lane, if it carries the server's token (else 10 clients without one,
    each answered 401, hold the lane's every place, and the real submissions are answered 503);
    anything else the ordinary lane."""
    def lane_of(request: bytes) -> str:
        line, _, rest = request.partition(b"\n")  # http.server's line end
        if probes_health(line):
            return HEALTH
        authorised = not token or bearer_matches(_raw_header(rest, b"authorization"), token)
        return HEAVY if starts_a_sweep(line) and authorised else ORDINARY
    return lane_of


def starts_a_sweep(request_line: bytes) -> bool:
    """Whether a request is a sweep's submission: it validates a corpus (1.6 s for 5 MB)."""
    return _method_and_path(request_line) == ("POST", "sweeps")


def probes_health(request_line: bytes) -> bool:
    return _method_and_path(request_line) in (("GET", "health"), ("HEAD", "health"))


def _method_and_path(request_line: bytes) -> tuple[str, str] | None:
    """A request's method and its path as _route reads it, without its slashes, the line read
    as http.server reads it (words split on any whitespace, a leading // collapsed, or a tab or
    a second space puts a submission in another lane)."""
    words = request_line.decode("iso-8859-1").rstrip("\r\n").split()
    if len(words) < 2:
        return None
    return words[0], api_path("/" + words[1].lstrip("/")).strip("/")


def _raw_header(head: bytes, name: bytes) -> str:
    """The first `name` header's value in a request's raw head ("" if none), as
    http.server's headers.get gives it."""
    found = re.search(rb"^" + name + rb":[ \t]*([^\r\n]*)", head.split(b"\r\n\r\n", 1)[0],
                      re.IGNORECASE | re.MULTILINE)
    return found.group(1).decode("iso-8859-1").strip() if found else ""


def bearer_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header's value is "Bearer <token>": the scheme's case does not
    matter (RFC 9110 section 11.1); the token's does."""
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def _check_settings(settings: ServerSettings) -> None:
    if settings.token and PLACEHOLDER.search(settings.token):
        raise TunerError("TUNER_API_TOKEN: still the placeholder of .env.example; set a random "
                         "value, e.g. python -c \"import secrets; print(secrets."
                         "token_urlsafe(32))\"")
    if not is_loopback(settings.host) and not settings.token:
        raise TunerError(f"--host {settings.host}: a non-loopback address needs a bearer token; "
                         "set TUNER_API_TOKEN (or bind 127.0.0.1)")
    for name, value in (("--max-workers", settings.max_workers),
                        ("--max-active-sweeps", settings.max_active_sweeps),
                        ("--max-connections", settings.max_connections)):
        if value < 1:
            raise TunerError(f"{name} expects an int >= 1; got {value}")
    if too_many := worker_limit_problem("--max-workers", settings.max_workers):
        raise TunerError(too_many)
    if not settings.request_timeout > 0:
        raise TunerError(f"--request-timeout expects seconds > 0; got {settings.request_timeout}")
    HostPolicy.of(settings.host, settings.port, settings.allowed_hosts)
    _refuse_cache_among_roots(settings)


def _refuse_cache_among_roots(settings: ServerSettings) -> None:
    """A cache folder a request may name (under a data root, or holding one) would let a
    client read other sweeps' copies of model folders and the server's stored grids, and trust
    what it finds there."""
    cache = settings.cache_dir.resolve()
    for root in DataRoots.served(settings.data_roots, settings.grids_dir).roots:
        if cache.is_relative_to(root) or root.is_relative_to(cache):
            raise TunerError(f"--cache-dir {settings.cache_dir}: overlaps the data root "
                             f"{root} (--data-root, default the grids folder and datasets/); "
                             "a request could name the cache's files: keep the cache outside "
                             "the data roots")


def serve(settings: ServerSettings, announce: Callable[[str], None]) -> str | None:
    """Serve until SIGTERM or SIGINT; `announce` receives the base URL once listening.

    On the signal the server stops listening, drops queued sweeps and stops running ones
    (workers killed, runs KILLED). Returns the signal's name, or None if the server stopped
    on its own.
    """
    server = make_server(settings)
    stop, received = threading.Event(), []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    with signals_handled(on_signal):
        listener = threading.Thread(target=server.serve_forever, name="http", daemon=True)
        listener.start()
        announce(f"http://{settings.host}:{server.server_port}")
        try:
            while listener.is_alive() and not stop.wait(0.5):
                pass
        finally:
            server.shutdown()
            registry = cast(type[_ApiHandler], server.RequestHandlerClass).registry
            if not registry.shutdown(SHUTDOWN_GRACE_S):
                log.warning("a sweep was still stopping after %.0f s", SHUTDOWN_GRACE_S)
            server.server_close()
    return received[0] if received else None


def _handler_class(registry: SweepRegistry, settings: ServerSettings) -> type[_ApiHandler]:
    class Handler(_ApiHandler):
        pass

    Handler.registry = registry
    Handler.settings = settings
    Handler.timeout = settings.request_timeout
    return Handler


class _ApiHandler(PrereadHandler):
    registry: ClassVar[SweepRegistry]
    settings: ClassVar[ServerSettings]
    hosts: ClassVar[HostPolicy]
    server_version = "tuner"
    allow: str | None = None  # a 405's Allow header

    def version_string(self) -> str:
        return self.server_version  # the Server header names no Python version

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_HEAD(self) -> None:  # noqa: N802 (a GET's answer without its body)
        self._dispatch("HEAD")

    # Methods no route takes answer 405 with the path's Allow header, not http.server's 501
    # "unsupported method"; those HTTP does not define still answer 501, as RFC 9110 asks.

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._dispatch("OPTIONS")

    def do_TRACE(self) -> None:  # noqa: N802
        self._dispatch("TRACE")

    def do_CONNECT(self) -> None:  # noqa: N802
        self._dispatch("CONNECT")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # a request line is the client's text: escaped, as http.server's own log_message does,
        # and cut short: otherwise 65 KB request lines of control characters, each logged twice
        # and escaped to 4 times its size, grow the log faster than the client sends
        log.info("%s %s", self.address_string(), one_line(cut(format % args, LOGGED_LINE_CHARS)))

    def _dispatch(self, method: str) -> None:
        try:
            status, body = self._route(method, api_path(self.path))
        except ApiError as err:
            status, body = err.status, {"error": err.message, "problems": err.problems}
            self.allow = err.allow
        except TunerError as err:
            message = public_failure(err, self.registry.roots,
                                     self.registry.settings.tracking_uri)
            status, body = HTTPStatus.BAD_REQUEST, {"error": message, "problems": [message]}
        except Exception as err:  # a bug answers 500; it never drops the connection
            log.error("%s %s failed", method, cut(self.path, LOGGED_LINE_CHARS), exc_info=True)
            message = f"internal error (ref {log_reference(err)}); see the server log"
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": message,
                                                              "problems": [message]}
        self._send(status, body)

    def _route(self, method: str, path: str) -> tuple[int, Any]:
        self._check_host()
        if path == "/health":
            _only(method, "GET, HEAD", path)
            return HTTPStatus.OK, {"status": "ok"}
        self._check_token()
        if method == "POST":
            self._check_origin()
        parts = path.strip("/").split("/")
        if parts[0] != "sweeps" or len(parts) > 3 or (len(parts) == 3 and
                                                      parts[2] not in ("leaderboard", "cancel")):
            raise ApiError(HTTPStatus.NOT_FOUND, f"no route {method} {path}")
        if len(parts) == 1:
            _only(method, "GET, HEAD, POST", path)
            if method == "POST":
                return HTTPStatus.ACCEPTED, self.registry.submit(self._json_body()).as_json()
            return HTTPStatus.OK, [job.as_json() for job in self.registry.jobs()]
        _only(method, "POST" if len(parts) == 3 and parts[2] == "cancel" else "GET, HEAD", path)
        if len(parts) == 3 and parts[2] == "cancel":
            self.close_connection = True  # a body it does not read must not read as a request
            return HTTPStatus.ACCEPTED, self.registry.cancel(parts[1]).as_json()
        if len(parts) == 3:
            return HTTPStatus.OK, self.registry.leaderboard(parts[1])
        return HTTPStatus.OK, self.registry.get(parts[1]).as_json()

    def _check_host(self) -> None:
        # One Host header: a proxy that reads the last of two would route what this one allowed
        # by the first.
        given = self.headers.get_all("Host") or []
        if len(given) != 1 or not self.hosts.allows(given[0]):
            self.close_connection = True
            raise ApiError(HTTPStatus.MISDIRECTED_REQUEST, "Host header: names another server; "
                           "use the address tuner serve listens on, or add it with "
                           "--allowed-host")

    def _check_origin(self) -> None:
        """A browser names the page's site in Origin on a POST: a page of another site (or an
        opaque one, "null") must not stop or start sweeps. The JSON content type keeps it from
        POST /sweeps, but a cancel reads no body, so without this check a page could stop a
        sweep of a server without a token. Clients that are not browsers (curl, n8n) send no
        Origin. Every Origin header is checked: the first alone lets a second, of another site,
        through."""
        for origin in self.headers.get_all("Origin") or []:
            scheme, _, rest = origin.strip().partition("://")
            port = {"http": 80, "https": 443}.get(scheme.lower())  # behind a TLS proxy: https
            if port is None or not self.hosts.allows(rest.rstrip("/"), port):
                raise ApiError(HTTPStatus.FORBIDDEN, "Origin header: a page of another site may "
                               "not change this server's sweeps")

    def _check_token(self) -> None:
        token = self.settings.token
        if not token:
            return
        if not bearer_matches(self.headers.get("Authorization", ""), token):
            raise ApiError(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token; send "
                           "'Authorization: Bearer $TUNER_API_TOKEN'")

    def _json_body(self) -> Any:
        self.close_connection = True  # an unread or refused body must not read as a request
        kind = self.headers.get_content_type()
        if kind != "application/json":
            raise ApiError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Type: expects "
                           f"application/json; got {kind}")
        if "Content-Length" not in self.headers and "Transfer-Encoding" in self.headers:
            raise ApiError(HTTPStatus.LENGTH_REQUIRED, "body: send it whole, with a "
                           "Content-Length (this server reads no chunked body)")
        if len(self.headers.get_all("Content-Length") or []) > 1:  # which one? (second round)
            raise ApiError(HTTPStatus.BAD_REQUEST, "Content-Length: given more than once")
        length_text = self.headers.get("Content-Length", "0").strip()
        if not re.fullmatch(r"[0-9]{1,15}", length_text):  # ASCII only: int() takes "²" too
            raise ApiError(HTTPStatus.BAD_REQUEST, "Content-Length: expects a number of bytes")
        length = int(length_text)
        if length > self.settings.max_body:
            raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           f"body: at most {self.settings.max_body} bytes; got {length}")
        return _parse_json(self.rfile.read(length) or b"null")

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body, indent=1, default=_as_json).encode("utf-8")
        self.send_response(status)
        if status == HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", "Bearer")
        if status == HTTPStatus.METHOD_NOT_ALLOWED and self.allow:
            self.send_header("Allow", self.allow)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _only(method: str, allowed: str, path: str) -> None:
    """405, with the Allow header, for a method the path does not take."""
    if method not in allowed.split(", "):
        raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} allows {allowed}; got {method}",
                       allow=allowed)


def _as_json(value: Any) -> Any:
    """What json cannot write itself: sets as sorted lists (a leaderboard entry's `unused`
    read "frozenset()"), anything else as its text."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _parse_json(data: bytes) -> Any:
    from tuner.grid import parse_json
    from tuner.params import shown

    try:
        value, repeated = parse_json(data.decode("utf-8-sig"))
    except json.JSONDecodeError as err:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"body: not valid JSON: {err.msg} at line "
                       f"{err.lineno} column {err.colno}") from err
    except UnicodeDecodeError as err:
        raise ApiError(HTTPStatus.BAD_REQUEST, "body: not valid UTF-8") from err
    except RecursionError as err:
        raise ApiError(HTTPStatus.BAD_REQUEST, "body: JSON nested too deeply") from err
    except ValueError as err:  # an integer past Python's 4,300-digit limit
        raise ApiError(HTTPStatus.BAD_REQUEST, "body: a number has too many digits") from err
    if repeated:  # as `tuner validate` refuses it in a grid file
        keys = ", ".join(shown(key) for key in repeated[:10])
        raise ApiError(HTTPStatus.BAD_REQUEST, f"body: a key is given twice in one object "
                       f"({keys}); JSON keeps only the last, so say which value you mean")
    return value
