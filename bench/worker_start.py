"""Starting a pool's workers: spawned (each imports tuner and the sweep's libraries itself) vs
forked from tuner's fork server (which imports them once), issue #11 item 3.

For 1, 2 and 4 workers of an LDA + ProdLDA sweep (tomotopy, torch), each in a fresh interpreter
so that each start is cold in the same way, it prints medians over `--repeats` of:
- seconds from the pool's creation until every worker has run its warm-up (imports done),
- CPU seconds the workers (and the fork server) spent to get there,
- each worker's private memory (memory no other process shares, from /proc/PID/smaps_rollup).

Usage: python bench/worker_start.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import multiprocessing.forkserver
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import REPO, machine, memory_mb

MODELS = ("LDA", "ProdLDA")
WORKER_COUNTS = (1, 2, 4)
METHODS = ("spawn", "fork server")


def _ready(models: tuple[str, ...], folder: str, workers: int) -> int:
    """Warm up, then wait until every worker has: each task then has a worker of its own."""
    from tuner.engine.worker import warm_up

    warm_up(models)
    Path(folder, str(os.getpid())).touch()
    deadline = time.monotonic() + 300
    while len(os.listdir(folder)) < workers and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def start_once(method: str, workers: int) -> dict[str, float]:
    """One pool started in this (fresh) process: seconds to ready, CPU seconds, private MB."""
    from tuner.engine.executors import preload_modules, worker_context
    from tuner.engine.worker import init_worker

    if method == "spawn":
        context = multiprocessing.get_context("spawn")
    else:
        context = worker_context(preload_modules(MODELS))
    folder = tempfile.mkdtemp(prefix="tuner-bench-start-")
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                             initargs=(1, None, None, True, dict(os.environ))) as pool:
        pids = set(pool.map(_ready, [MODELS] * workers, [folder] * workers,
                            [workers] * workers))
        seconds = time.perf_counter() - started
        helpers = [multiprocessing.forkserver._forkserver._forkserver_pid] \
            if method != "spawn" else []
        cpu = sum(_cpu_seconds(pid) for pid in [*pids, *helpers] if pid)
        private = statistics.mean(memory_mb(pid)[1] for pid in pids)
    if len(pids) != workers:
        raise SystemExit(f"{len(pids)} distinct workers answered, not {workers}")
    return {"seconds": seconds, "cpu": cpu, "private": private}


def measure(method: str, workers: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--one", method, str(workers)], check=True,
                         capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(start_once(args.one[0], int(args.one[1]))))
        return
    print(f"machine: {machine()}; workers for {' + '.join(MODELS)}; medians of {args.repeats}")
    for workers in WORKER_COUNTS:
        runs: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
        for _ in range(args.repeats):
            for method in METHODS:  # alternating, so both meet the same machine load
                runs[method].append(measure(method, workers))
        for method in METHODS:
            median = {k: statistics.median(r[k] for r in runs[method]) for k in runs[method][0]}
            print(f"{workers} worker(s), {method}: ready in {median['seconds']:.2f} s, "
                  f"{median['cpu']:.1f} CPU s, {median['private']:.0f} MB private per worker")


if __name__ == "__main__":
    main()
