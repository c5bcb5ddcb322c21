"""`tuner serve` over real HTTP on 127.0.0.1: auth, validation, conflicts, a finished sweep."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import VENV_BIN, free_port, tiny_grid, tuner_cli
from tuner.flow import experiment_lock

TOKEN = "test-token-" + "x" * 20


@dataclass(frozen=True)
class Api:
    url: str
    grids: Path
    cache: Path
    corpus: Path

    def call(self, method: str, path: str, body: Any = None, token: str | None = TOKEN,
             raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, small_corpus: Path,
        session_cache: Path) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("serve")
    grids = root / "grids"
    grids.mkdir()
    (grids / "tiny.json").write_text(json.dumps(tiny_grid("served", small_corpus, [1])))
    (root / "secret.json").write_text("{}")
    port = free_port()
    env = {**os.environ, "TUNER_API_TOKEN": TOKEN, "MLFLOW_DISABLE_TELEMETRY": "true"}
    process = subprocess.Popen(
        [str(VENV_BIN / "tuner"), "serve", "--port", str(port), "--grids-dir", str(grids),
         "--cache-dir", str(session_cache), "--tracking-uri",
         f"sqlite:///{root / 'mlflow.db'}", "--max-workers", "2"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    api = Api(f"http://127.0.0.1:{port}", grids, session_cache, small_corpus)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if api.call("GET", "/health")[0] == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"tuner serve did not come up: {process.communicate()[0]}")
    yield api
    process.terminate()
    process.wait(timeout=30)


def _wait_done(api: Api, sweep_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = api.call("GET", f"/sweeps/{sweep_id}")
        assert status == 200
        if job["status"] in ("finished", "failed"):
            return job
        time.sleep(0.5)
    pytest.fail(f"sweep {sweep_id} still {job['status']} after {timeout} s")


def test_health_needs_no_token(api: Api) -> None:
    assert api.call("GET", "/health", token=None) == (200, {"status": "ok"})


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_sweeps_refuse_missing_or_wrong_token(api: Api, token: str | None) -> None:
    status, body = api.call("GET", "/sweeps", token=token)
    assert status == 401
    assert "bearer token" in body["error"]


def test_bad_grid_answers_400_with_every_problem(api: Api) -> None:
    grid = tiny_grid("bad", api.corpus, [1])
    grid["params"] = {"num_topics": 1000, "vocab_size": 1000, "lda.max_iter": 10}
    grid["seeds"] = [-1]
    status, body = api.call("POST", "/sweeps", {"grid_inline": grid})
    assert status == 400
    assert any(p.startswith("grid_inline: params.num_topics:") for p in body["problems"])
    assert any(p.startswith("grid_inline: seeds[0]: expects an int in 0-4294967295")
               for p in body["problems"])


def test_missing_dataset_answers_400(api: Api) -> None:
    grid = tiny_grid("bad", api.corpus, [1])
    grid["dataset"] = {"path": "no-such.jsonl"}
    status, body = api.call("POST", "/sweeps", {"grid_inline": grid})
    assert status == 400
    assert any("dataset.path: file not found" in p for p in body["problems"])


@pytest.mark.parametrize("name, expected", [("../secret.json", 400), ("/etc/passwd", 400),
                                            ("missing.json", 404)])
def test_grid_name_cannot_leave_the_grids_folder(api: Api, name: str, expected: int) -> None:
    status, body = api.call("POST", "/sweeps", {"grid": name})
    assert status == expected, body


def test_body_over_one_mib_answers_413_before_reading_it(api: Api) -> None:
    host, port = api.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    connection.putrequest("POST", "/sweeps")
    connection.putheader("Authorization", f"Bearer {TOKEN}")
    connection.putheader("Content-Length", str(1024 * 1024 + 1))
    connection.endheaders()  # the body is never sent: the server must answer from the header
    answer = connection.getresponse()
    assert answer.status == 413
    assert "at most 1048576 bytes" in json.loads(answer.read())["error"]
    connection.close()


def test_body_must_name_a_grid(api: Api) -> None:
    status, body = api.call("POST", "/sweeps", {"grids": "tiny.json"})
    assert status == 400
    assert "'grid'" in body["error"]


def test_locked_experiment_answers_409(api: Api) -> None:
    """A `tuner run` (e.g. from cron) holding the experiment's lock blocks a served sweep."""
    with experiment_lock(api.cache, "served"):
        status, body = api.call("POST", "/sweeps", {"grid": "tiny.json"})
    assert status == 409
    assert "already running" in body["error"]


@pytest.fixture(scope="module")
def finished(api: Api) -> dict[str, Any]:
    """Start the tiny sweep, ask for the same experiment again at once, then wait."""
    status, job = api.call("POST", "/sweeps", {"grid": "tiny.json"})
    assert status == 202, job
    second = api.call("POST", "/sweeps", {"grid": "tiny.json"})
    return {"second": second, "job": _wait_done(api, job["id"])}


def test_second_sweep_of_a_running_experiment_answers_409(finished: dict[str, Any]) -> None:
    assert finished["second"][0] == 409


def test_finished_sweep_reports_counts(finished: dict[str, Any]) -> None:
    job = finished["job"]
    assert (job["status"], job["completed"], job["failed"], job["total"], job["progress"]) == \
        ("finished", 2, 0, 2, 1.0), job


def test_leaderboard_ranks_the_trials(api: Api, finished: dict[str, Any]) -> None:
    status, board = api.call("GET", f"/sweeps/{finished['job']['id']}/leaderboard")
    assert status == 200
    assert board["metric"] == "ari"
    values = [e["metrics"]["ari"] for e in board["entries"]]
    assert len(values) == 2 and values == sorted(values, reverse=True)


def test_unknown_sweep_answers_404(api: Api) -> None:
    assert api.call("GET", "/sweeps/nope")[0] == 404


def test_public_address_without_token_is_refused(tmp_path: Path) -> None:
    env_free = tuner_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), cwd=tmp_path)
    assert env_free.returncode == 2
    assert "TUNER_API_TOKEN" in env_free.stderr
