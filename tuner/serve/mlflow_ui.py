"""`tuner ui`: the MLflow UI on the store `tuner run` logs to, and the address of an experiment's
page in it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.errors import TunerError
from tuner.params import closest

if TYPE_CHECKING:
    from mlflow.entities import Experiment
    from mlflow.tracking import MlflowClient

START_TIMEOUT_S = 90.0
POLL_S = 0.5
PARALLEL_COORDINATES_HOWTO = (
    "parallel coordinates: on the experiment page tick the runs to compare (or the box above "
    "them for all), click Compare, then choose Parallel Coordinates Plot and the parameters and "
    "metrics to show")


class UiError(TunerError):
    """The MLflow UI could not be started."""


@dataclass(frozen=True)
class ExperimentPage:
    name: str
    experiment_id: str
    url: str


def experiment_page(tracking_uri: str, base_url: str, name: str | None) -> ExperimentPage | None:
    """The page of experiment `name`, or of the most recently updated experiment when `name` is
    None; None when the store holds no experiment of tuner's yet.

    Raises:
        UiError: `name` is not in the store.
        TrackingError: no store there (a SQLite file that does not exist), or it cannot be read.
    """
    from tuner.tracking.tracker import open_client

    client = open_client(tracking_uri, existing=True)  # a typo made an empty store, and served it
    if name is not None:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            known = [e.name for e in client.search_experiments()]
            raise UiError(f"experiment '{name}' is not in {tracking_uri}; it holds: "
                          f"{', '.join(known) or 'no experiment'}{closest(name, known)}")
    else:
        experiment = _latest_experiment(client)
        if experiment is None:
            return None
    return ExperimentPage(experiment.name, experiment.experiment_id,
                          f"{base_url}/#/experiments/{experiment.experiment_id}")


def _latest_experiment(client: MlflowClient) -> Experiment | None:
    """The experiment whose newest run started last, else the one created last (None: none but
    MLflow's Default). MLflow's last_update_time is set when an experiment is made and not by its
    runs: by it, a sweep logged into an older experiment would open the newer, idle one."""
    experiments = [e for e in client.search_experiments(order_by=["creation_time DESC"])
                   if e.name != "Default"]
    if not experiments:
        return None
    newest = client.search_runs([e.experiment_id for e in experiments], max_results=1,
                                order_by=["attributes.start_time DESC"])
    if not newest:
        return experiments[0]
    return next(e for e in experiments if e.experiment_id == newest[0].info.experiment_id)


def start_mlflow_ui(tracking_uri: str, host: str, port: int, log: Path | None = None,
                    timeout_s: float = START_TIMEOUT_S) -> subprocess.Popen[bytes]:
    """Start `mlflow server` on `tracking_uri` and return once it answers on /health; its output
    goes to `log` (None: this process's stdout and stderr).

    Raises:
        UiError: the port is taken, or the server exited or did not answer in `timeout_s`.
    """
    _check_port_free(host, port)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", tracking_uri,
               "--host", host, "--port", str(port), "--workers", "1"]
    output = log.open("wb") if log is not None else None
    try:
        process = subprocess.Popen(command, stdout=output,
                                   stderr=subprocess.STDOUT if output else None,
                                   start_new_session=True)
    finally:
        if output is not None:
            output.close()  # the server holds its own descriptor
    try:
        _wait_until_healthy(process, host, port, timeout_s, log)
    except BaseException:  # ^C or SIGTERM while it starts: leave no server behind
        stop_mlflow_ui(process)
        raise
    return process


def _wait_until_healthy(process: subprocess.Popen[bytes], host: str, port: int,
                        timeout_s: float, log: Path | None) -> None:
    deadline = time.monotonic() + timeout_s
    see_log = f"; see {log}" if log else ""
    while not _healthy(f"http://{host}:{port}"):
        if process.poll() is not None:
            raise UiError(f"mlflow server on {host}:{port} exited with code "
                          f"{process.returncode}{see_log}")
        if time.monotonic() > deadline:
            raise UiError(f"mlflow server on {host}:{port} did not answer within "
                          f"{timeout_s:.0f} s{see_log}")
        time.sleep(POLL_S)


def stop_mlflow_ui(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers (its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # uvicorn waits on idle keep-alive connections
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as err:
            raise UiError(f"--port {port}: cannot listen on {host}:{port} ({err.strerror}); "
                          "pick another port with --port") from err


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
