"""Tracking URIs as they may be shown (the password of `scheme://user:password@host` hidden),
and as one store is known whatever its spelling."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

# A scheme, not the tail of a longer word: without the look-behind a run of letters is tried
# from every letter (quadratic in its length; a 1 MiB grid field holds a thread for minutes).
_SCHEME = r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,30}://)"
# A database URI's password runs to the "@" as SQLAlchemy reads it: "/" included (base64
# passwords hold "/": `u:pa/ss@db`, `u:123/abc@db`), or spaces, but then no "/" (without
# spaces, `u:My Secret PW@db` is shown from its first space; with both, `db:5432/x; ask
# ops@example.com` hides the text up to the mail address).
_DATABASE_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>(?:postgres(?:ql)?|mysql|mariadb|mssql|oracle|sqlite)"
    r"(?:\+[A-Za-z0-9_]+)?://)(?P<user>[^\s/@:]{0,256}):(?:[^\s@]{0,4096}|[^@/\r\n]{0,512})@",
    re.IGNORECASE)
# Any other URI's userinfo ends before its path, query or fragment (`host:5000/runs@x` and
# `host?email=a@b` hold no password); a password may hold "@" (`user:p@ss@host`).
_CREDENTIALS = re.compile(_SCHEME + r"(?P<user>[^\s/?#@:]{0,256}):[^\s/?#]{0,4096}@")
# userinfo without a password: often a token (https://TOKEN@host).
_TOKEN = re.compile(_SCHEME + r"[^\s/?#@:]{1,4096}@")
# Any query parameter whose name holds one of these words (sslpassword, client_secret,
# X-Amz-Signature, X-Amz-Credential), and `auth` and `sig`.
_QUERY_SECRET = re.compile(
    r"(?P<name>[?&](?:[\w.-]{0,64}(?:password|passwd|pwd|token|secret|key|signature|credential)"
    r"|auth|sig)=)[^&\s#]*", re.IGNORECASE)


def redact_uri(text: str) -> str:
    """`text` with every credential of a URI replaced by `***`: the password of
    `scheme://user:password@`, a token given as `scheme://token@`, and secret query parameters.

    >>> redact_uri("postgresql://mlflow:s3cret@db:5432/mlflow")
    'postgresql://mlflow:***@db:5432/mlflow'
    >>> redact_uri("http://t0ken@mlflow:5000 and https://db/x?user=a&password=p")
    'http://***@mlflow:5000 and https://db/x?user=a&password=***'
    """
    text = _DATABASE_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
    text = _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
    text = _TOKEN.sub(r"\g<scheme>***@", text)
    return _QUERY_SECRET.sub(r"\g<name>***", text)


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def store_identity(tracking_uri: str) -> str:
    """One spelling per tracking store: a local store by its resolved path, a server by its
    scheme (driver dropped), host and path, without credentials; the loopback addresses are one
    host, and a scheme's default port is no port (`tuner run` against http://127.0.0.1:5000
    and a sweep against http://localhost:5000 took two locks and ran each trial twice)."""
    local = local_store(tracking_uri)
    if local is not None:
        return f"file:{local}"
    parts = urlsplit(tracking_uri)
    scheme = parts.scheme.split("+", 1)[0].lower()
    host = parts.netloc.rpartition("@")[2].lower()
    try:
        name, port = parts.hostname, parts.port
    except ValueError:  # a port that is no number: the spelling is all there is
        name, port = None, None
    if name is not None:
        name = "localhost" if name in LOOPBACK else name
        shown = f"[{name}]" if ":" in name else name
        host = shown if port is None or port == DEFAULT_PORTS.get(scheme) else f"{shown}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def local_store(tracking_uri: str) -> Path | None:
    """The database file or folder of a local store; None for a server."""
    if tracking_uri.startswith("sqlite:///"):  # its query (?timeout=30) names no other store
        return Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()
    if tracking_uri.startswith("file://"):
        return Path(urlsplit(tracking_uri).path).resolve()
    if "://" not in tracking_uri:
        return Path(tracking_uri).resolve()
    return None
