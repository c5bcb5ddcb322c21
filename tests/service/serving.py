"""Start a real `tuner serve` process on 127.0.0.1 and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sqlite_store
from tests.service.conftest import VENV_BIN, free_port

TOKEN = "test-token-" + "x" * 20


@dataclass(frozen=True)
class Served:
    """A running `tuner serve`: its process, base URL, log file and folders."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path
    root: Path
    cache: Path
    store: str

    def call(self, method: str, path: str, body: Any = None, token: str | None = TOKEN,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            request.add_header(name, value)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(root: Path, cache: Path, *args: str, token: str | None = TOKEN,
                 env: dict[str, str] | None = None, store: str | None = None) -> Served:
    """`tuner serve` in `root` (its working folder), by default with a SQLite store there."""
    port = free_port()
    store = store or sqlite_store(root / "mlflow.db")
    log = root / "serve.log"
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1",
                   **(env or {})}
    if token is not None:
        environment["TUNER_API_TOKEN"] = token
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(VENV_BIN / "tuner"), "serve", "--port", str(port), "--cache-dir", str(cache),
             "--tracking-uri", store, *args],
            cwd=root, env=environment, stdout=handle, stderr=subprocess.STDOUT)
    served = Served(process, f"http://127.0.0.1:{port}", port, log, root, cache, store)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if served.call("GET", "/health")[0] == 200:
                return served
        except OSError:
            time.sleep(0.3)
    served.stop()
    pytest.fail(f"tuner serve did not come up:\n{served.log_text()}")


def wait_done(served: Served, sweep_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, job = served.call("GET", f"/sweeps/{sweep_id}")
        assert status == 200
        if job["status"] in ("finished", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    pytest.fail(f"sweep {sweep_id} still {job.get('status')} after {timeout} s")
