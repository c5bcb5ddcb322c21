"""A real PostgreSQL server and a real `mlflow server` backed by it, both on 127.0.0.1, built
once per session and shared by the server, report and browser tests.

The PostgreSQL binaries come from the Debian `postgresql` package (installed by .ci/run);
postgres refuses to run as root, so as root the cluster belongs to the `postgres` user (or a
`tunertest` user created here when that user does not exist).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
# Locks of sweeps on a tracking server live in $TUNER_LOCK_DIR: keep the tests' out of ~/.cache.
os.environ.setdefault("TUNER_LOCK_DIR", tempfile.mkdtemp(prefix="tuner-test-locks-"))
PG_PACKAGE = "postgresql"


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    database: str

    def uri(self, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class MlflowServer:
    url: str
    artifacts: Path
    log: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_binary(name: str) -> str:
    """The newest /usr/lib/postgresql/*/bin/NAME; fail (not skip) naming what is missing."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        pytest.fail(f"PostgreSQL binary '{name}' not found in /usr/lib/postgresql/*/bin/; "
                    f"install the Debian package: apt-get install -y {PG_PACKAGE}")
    return found[-1]


def _cluster_owner() -> str | None:
    """None when not root; else a non-root user to own and run the cluster."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "tunertest"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "tunertest"], check=True)
    return "tunertest"


def _wait_for(check, what: str, timeout: float, log: Path | None = None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"{what} did not come up within {timeout:.0f} s\n{tail}")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    initdb, server = pg_binary("initdb"), pg_binary("postgres")
    owner = _cluster_owner()
    # Outside pytest's 0700 tmp tree, so a non-root owner can reach it.
    root = Path(tempfile.mkdtemp(prefix="tuner-pg-"))
    password = secrets.token_hex(12)
    (root / "pw").write_text(password)
    if owner:
        shutil.chown(root, owner)
        shutil.chown(root / "pw", owner)
    data, log = root / "data", root / "postgres.log"
    subprocess.run([initdb, "-D", str(data), "-U", "tuner", "--auth=scram-sha-256",
                    f"--pwfile={root / 'pw'}", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, user=owner)
    port = free_port()
    with log.open("w") as handle:
        if owner:
            shutil.chown(log, owner)
        process = subprocess.Popen(
            [server, "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
             "-c", "unix_socket_directories=", "-c", "fsync=off"],
            stdout=handle, stderr=subprocess.STDOUT, user=owner)
    try:
        _wait_for(lambda: _accepts(port), "postgres", 30, log)
        _create_database(port, password)
        yield Postgres("127.0.0.1", port, "tuner", password, "mlflow")
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def _create_database(port: int, password: str) -> None:
    import psycopg2

    deadline = time.monotonic() + 20
    while True:
        try:
            connection = psycopg2.connect(host="127.0.0.1", port=port, user="tuner",
                                          password=password, dbname="postgres")
            break
        except psycopg2.OperationalError:  # still starting up
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE mlflow")
    connection.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def mlflow_server(postgres: Postgres,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """`mlflow server` with the PostgreSQL backend store and proxied artifacts."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(VENV_BIN / "mlflow"), "server", "--backend-store-uri", postgres.uri(),
             "--artifacts-destination", str(root / "artifacts"), "--serve-artifacts",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_for(lambda: process.poll() is None and _healthy(url), "mlflow server", 120, log)
        yield MlflowServer(url, root / "artifacts", log)
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group; SIGKILL it if it lingers (uvicorn waits on idle
    keep-alive connections)."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def tiny_grid(experiment: str, corpus: Path, seeds: list[int]) -> dict[str, object]:
    """An LDA grid that trains in about a second per trial: 2 num_topics x len(seeds)."""
    return {
        "experiment": experiment,
        "dataset": {"path": str(corpus), "text_field": "text", "id_field": "id",
                    "label_field": "label", "language": "en"},
        "models": ["lda"],
        "params": {"num_topics": [5, 8], "vocab_size": 1000, "lda.max_iter": 10},
        "seeds": seeds,
        "metrics": {"npmi_window": 10, "topn": 10, "diversity_topn": 25},
    }


def tuner_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real `tuner` console script, as cron or a user runs it."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(VENV_BIN / "tuner"), *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


@dataclass(frozen=True)
class ServerSweep:
    """A finished 2-worker sweep logged through the PostgreSQL-backed server."""

    server: MlflowServer
    experiment: str
    grid: Path
    cache: Path
    wall_s: float
    trials: int
    stdout: str


@pytest.fixture(scope="session")
def server_sweep(mlflow_server: MlflowServer, small_corpus: Path, session_cache: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> ServerSweep:
    import json

    folder = tmp_path_factory.mktemp("server-sweep")
    grid = folder / "grid.json"
    grid.write_text(json.dumps(tiny_grid("pg-sweep", small_corpus, [1, 2])), encoding="utf-8")
    start = time.perf_counter()
    done = tuner_cli("run", str(grid), "--tracking-uri", mlflow_server.url, "--max-workers", "2",
                     "--cache-dir", str(session_cache), "--quiet", cwd=folder)
    wall = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return ServerSweep(mlflow_server, "pg-sweep", grid, session_cache, wall, 4, done.stdout)
