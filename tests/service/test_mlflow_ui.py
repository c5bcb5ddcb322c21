"""`tuner ui`: the real MLflow UI on the store `tuner run` used, with the experiment's page
address printed and fetched over HTTP."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, sqlite_store
from tests.service.conftest import VENV_BIN, free_port
from tuner.cli import main

EXPERIMENT = "ui-sweep"
START_TIMEOUT_S = 120
PAGE_LINE = re.compile(r"^experiment 'ui-sweep': (http://127\.0\.0\.1:(\d+)/#/experiments/(\d+))$")


def _store(folder: Path) -> tuple[str, str]:
    """A SQLite store holding one experiment with one finished run; its URI and experiment id."""
    from mlflow.tracking import MlflowClient

    uri = sqlite_store(folder / "mlflow.db")
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment(EXPERIMENT)
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "ari", 0.25)
    client.set_terminated(run.info.run_id)
    return uri, experiment_id


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line.rstrip("\n"))


def _wait_for_line(lines: queue.Queue[str], pattern: re.Pattern[str], seen: list[str]
                   ) -> re.Match[str]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if found := pattern.match(line):
            return found
    raise AssertionError(f"tuner ui printed no experiment page in {START_TIMEOUT_S} s: {seen}")


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    folder = tmp_path_factory.mktemp("ui")
    uri, experiment_id = _store(folder)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": uri, "TMPDIR": str(folder)}
    process = subprocess.Popen([str(VENV_BIN / "tuner"), "ui", "--port", str(port)], cwd=folder,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        found = _wait_for_line(lines, PAGE_LINE, seen)
        time.sleep(0.5)  # the how-to line follows the page line
        while not lines.empty():
            seen.append(lines.get())
        yield {"port": port, "experiment_id": experiment_id, "found": found, "output": seen,
               "process": process, "log": folder / f"tuner-ui-{port}.log"}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


def test_prints_the_experiment_page_of_the_store_tuner_run_uses(ui: dict) -> None:
    url, port, experiment_id = ui["found"].groups()
    assert int(port) == ui["port"] and experiment_id == ui["experiment_id"]
    assert any("Parallel Coordinates Plot" in line for line in ui["output"])


def test_server_chatter_goes_to_its_log(ui: dict) -> None:
    assert "Uvicorn running" in ui["log"].read_text(encoding="utf-8")
    assert not any("Uvicorn" in line or "store URI" in line for line in ui["output"])


def test_experiment_page_is_served(ui: dict) -> None:
    status, page = _get(ui["found"].group(1))
    assert status == 200 and "<html" in page.lower()


def test_rest_api_finds_the_experiment(ui: dict) -> None:
    status, body = _get(f"http://127.0.0.1:{ui['port']}/api/2.0/mlflow/experiments/get-by-name"
                        f"?experiment_name={EXPERIMENT}")
    assert status == 200
    assert json.loads(body)["experiment"]["experiment_id"] == ui["experiment_id"]


def test_stopping_tuner_ui_stops_the_server(ui: dict) -> None:
    process = ui["process"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    with pytest.raises(OSError, match="Connection refused"):
        _get(f"http://127.0.0.1:{ui['port']}/health")


def test_taken_port_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        before = signal.getsignal(signal.SIGTERM)
        code = main(["ui", "--port", str(port), "--tracking-uri", _store(tmp_path)[0]])
    assert code == 2
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # the caller's handler is back


def test_unknown_experiment_names_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    uri, _ = _store(tmp_path)
    assert main(["ui", "nosuch", "--tracking-uri", uri]) == 2
    assert f"experiment 'nosuch' is not in {uri}; it holds: " in capsys.readouterr().err


def test_a_store_that_is_not_there_is_not_made_and_served(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """A typo in --tracking-uri served a new empty store ("no experiment yet") and left it
    behind, where `tuner best` and `tuner report` refuse a missing one."""
    assert main(["ui", "--tracking-uri", f"sqlite:///{tmp_path}/typo/mlflow.db"]) == 2
    assert "no MLflow store at" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_the_default_page_is_the_experiment_whose_run_started_last(tmp_path: Path) -> None:
    """MLflow's last_update_time is an experiment's creation: a sweep logged into an older
    experiment opened a newer, idle one (fresh-clone audit of 2026-12-03). A misspelt name is
    answered with the closest."""
    from mlflow.tracking import MlflowClient

    from tuner.serve.mlflow_ui import UiError, experiment_page

    uri = sqlite_store(tmp_path / "mlflow.db")
    client = MlflowClient(tracking_uri=uri)
    assert experiment_page(uri, "http://ui", None) is None  # MLflow's Default alone
    older = client.create_experiment("20ng-demo")
    time.sleep(0.01)
    newer = client.create_experiment("audit-huffpost")
    assert experiment_page(uri, "http://ui", None).name == "audit-huffpost"  # no run yet
    client.set_terminated(client.create_run(newer).info.run_id)
    time.sleep(0.01)
    client.set_terminated(client.create_run(older).info.run_id)
    page = experiment_page(uri, "http://ui", None)
    assert (page.name, page.url) == ("20ng-demo", f"http://ui/#/experiments/{older}")
    with pytest.raises(UiError, match=r"it holds: .*; did you mean '20ng-demo'\?$"):
        experiment_page(uri, "http://ui", "20NG-demo")
