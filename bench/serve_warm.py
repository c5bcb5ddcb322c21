"""`tuner serve` with warm workers (issue #11 item 3): how long after the POST a sweep's first trial
starts, for the first sweep the server runs and for a second one (a different grid on the same
corpus), and whether the second ran on the first one's worker processes.

Usage:
    python bench/serve_warm.py [--workers 2]

"Starts" is the MLflow start time of the sweep's first trial run, which the parent opens when it
hands the trial to a worker; "first result" is when that run ended. Both sweeps are LDA on
20ng-mini (bags of words computed by the first); target of issue #11: the second sweep's first
trial within 1 s of the POST.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import CORPUS, machine, scratch

TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def call(url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def grid(experiment: str, topics: list[int]) -> dict[str, Any]:
    return {"experiment": experiment,
            "dataset": {"path": str(CORPUS), "label_field": "label"},
            "model": "lda", "params": {"num_topics": topics, "vocab_size": 2000,
                                       "max_iter": 50}, "seeds": [1]}


def sweep(url: str, store: str, experiment: str, topics: list[int]) -> tuple[float, float, set]:
    """POST a sweep, wait for it; seconds from the POST to its first trial's start and end,
    and the worker processes its trials ran on."""
    from mlflow.tracking import MlflowClient

    posted = time.time()
    job = call(url, "POST", "/sweeps", {"grid_inline": grid(experiment, topics)})
    while call(url, "GET", f"/sweeps/{job['id']}")["status"] not in ("finished", "failed"):
        time.sleep(0.2)
    client = MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], "tags.`tuner.role` = 'trial'")
    first = min(runs, key=lambda r: r.info.start_time)
    return (first.info.start_time / 1000 - posted, first.info.end_time / 1000 - posted,
            {r.data.tags["tuner.worker"] for r in runs})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root = scratch()
    store, port = f"sqlite:///{root / 'mlflow.db'}", free_port()
    env = {**os.environ, "TUNER_API_TOKEN": TOKEN}
    log = (root / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "tuner"), "serve", "--port", str(port),
         "--cache-dir", str(root / "cache"), "--tracking-uri", store, "--max-workers",
         str(args.workers), "--data-root", str(CORPUS.parent)],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                call(url, "GET", "/health")
                break
            except OSError:
                time.sleep(0.3)
        first = sweep(url, store, "serve-first", [5, 10])
        second = sweep(url, store, "serve-second", [15, 20])
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"machine: {machine()}; tuner serve --max-workers {args.workers}; LDA on 20ng-mini")
    for name, (start, end, _) in (("first sweep", first), ("second sweep", second)):
        print(f"{name}: first trial started {start:.2f} s after the POST, its result "
              f"{end:.2f} s after")
    print(f"second sweep on the first one's workers: {second[2] <= first[2]} "
          f"({len(first[2] | second[2])} worker processes in all); target: second sweep's "
          f"first trial within 1 s of the POST")


if __name__ == "__main__":
    main()
