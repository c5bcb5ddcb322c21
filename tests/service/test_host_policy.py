"""Which Host headers `tuner serve` answers (its guard against DNS rebinding)."""

from __future__ import annotations

import pytest

from tuner.errors import TunerError
from tuner.serve.server import HostPolicy


@pytest.mark.parametrize("bind, header, allowed", [
    ("127.0.0.1", "127.0.0.1:8080", True),
    ("127.0.0.1", "LOCALHOST:8080", True),
    ("127.0.0.1", "[::1]:8080", True),
    ("127.0.0.1", "localhost:8081", False),
    ("127.0.0.1", "localhost", False),  # port 80 implied
    ("127.0.0.1", "attacker.example:8080", False),
    ("127.0.0.1", None, False),
    ("10.0.0.5", "10.0.0.5:8080", True),
    ("10.0.0.5", "localhost:8080", False),
    ("0.0.0.0", "localhost:8080", True),
    ("0.0.0.0", "0.0.0.0:8080", False),
    ("0.0.0.0", "tuner:8080", True),  # --allowed-host tuner
    ("0.0.0.0", "tuner:9999", False),
    ("0.0.0.0", "localhost:18080", True),  # --allowed-host localhost:18080
    ("0.0.0.0", "tuner:8080:1", False),
])
def test_host_header(bind: str, header: str | None, allowed: bool) -> None:
    policy = HostPolicy.of(bind, 8080, ["tuner", "localhost:18080"] if bind == "0.0.0.0" else [])
    assert policy.allows(header) is allowed


@pytest.mark.parametrize("entry", ["tuner:http", "tuner:1:2", ":8080", "[::1"])
def test_a_malformed_allowed_host_is_refused(entry: str) -> None:
    with pytest.raises(TunerError, match=r"--allowed-host .*: expects NAME or NAME:PORT"):
        HostPolicy.of("127.0.0.1", 8080, [entry])
