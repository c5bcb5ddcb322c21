"""Speed-up from a second worker: `tuner run` whole commands at 1 and 2 workers (issue #11).

A 16-trial grid on datasets/20ng-mini: LDA and ProdLDA, K in {10, 20}, two iteration budgets,
two seeds (`--seeds N`: N seeds, 8 x N trials, a longer sweep of the same trials). The bag of
words is precomputed once (`tuner precompute`); then each configuration runs as a user would
run it (a subprocess, the warm cache, a SQLite MLflow store of its own that already exists, as
after a user's first sweep: a copy of an empty store made once, whose creation time is printed),
configurations alternating, `--repeats` times:

- `tuner run --max-workers 1` (its one worker gets every core's threads, as users get it),
- `tuner run --max-workers 1 --threads-per-worker 1` (one worker, one thread),
- `tuner run --max-workers 2` (the cores shared out: one thread each on two cores);
- the same trials on a bare spawn ProcessPoolExecutor (1 and 2 single-threaded workers):
  tuner's own `run_trial` (fit and score), no runner, no MLflow, as the seed's "40-line pool"
  would run them; its phase is timed in the workers the same way (first trial start to last end).

From each tuner run's store it reads when the first trial started and the last ended, and every
trial's fit_seconds. It prints, as medians over repeats:

- the whole command's wall time and the speed-up wall(1) / wall(2), start-up included, from both
  one-worker baselines;
- the sweep phase (first trial start to last trial end) and its speed-up;
- the fixed cost (command minus sweep phase: Python and library imports, grid validation,
  opening the store, ranking, exit), which a second worker cannot shorten;
- Σfit per model: how much slower each fit runs beside another one (contention for the cores'
  caches and memory bandwidth, and for the parent's CPU time), or with one thread fewer;
- the Σfit-based efficiency Σfit / (sweep phase x workers);
- CPU time: the command's own process (tuner's parent: per trial too) and its whole process tree
  (the fork server and workers it leaves to exit are adopted and waited for here), from which
  the CPU bound of each speed-up: on C cores the many-worker command cannot take less than its
  tree's CPU time / C, whatever the runner's scheduling.

First it prints the machine's own ceiling, without tuner or topic models: how much slower each of
two single-threaded processes runs than one alone, for a cache-resident matrix product, a pure
Python loop and a memory-bound array update (two vCPUs may share one physical core, its caches
or the memory bus).

Usage: python bench/parallel_efficiency.py [--repeats 3] [--seeds 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import adopt_orphans, machine, run_accounted, scratch, write_grid

from tuner.devices import usable_cores
from tuner.grid import load_grid

PARAMS = {"num_topics": [10, 20], "vocab_size": 2000, "lda.max_iter": [100, 200],
          "prodlda.epochs": [10, 15], "prodlda.patience": None}
TUNER = str(Path(sys.executable).parent / "tuner")
EMPTY_STORE = "empty.db"
# label -> (kind, workers, threads per worker or None for tuner's default)
CONFIGS = {"tuner, 1 worker": ("tuner", 1, None),
           "tuner, 1 worker x 1 thread": ("tuner", 1, 1),
           "tuner, 2 workers": ("tuner", 2, None),
           "bare pool, 1 worker x 1 thread": ("bare", 1, 1),
           "bare pool, 2 workers": ("bare", 2, 1)}
SPEEDUPS = [("tuner, 1 worker", "tuner, 2 workers"),
            ("tuner, 1 worker x 1 thread", "tuner, 2 workers"),
            ("bare pool, 1 worker x 1 thread", "bare pool, 2 workers")]


@dataclass
class Measured:
    wall: float  # the whole command
    phase: float  # first trial start to last trial end
    fit: dict[str, float]  # model -> sum of fit_seconds
    own_cpu: float = 0.0  # the command's process (with the children it waited for)
    tree_cpu: float = 0.0  # every process of the command
    trials: int = 0


def trial_runs(store: Path) -> list[tuple[float, float, str, float]]:
    """(start s, end s, model, fit_seconds) of every trial run in the store."""
    query = """select r.start_time, r.end_time, m.value, f.value from runs r
               join tags m on m.run_uuid = r.run_uuid and m.key = 'tuner.model'
               join latest_metrics f on f.run_uuid = r.run_uuid and f.key = 'fit_seconds'"""
    with sqlite3.connect(store) as db:
        return [(s / 1000, e / 1000, model, fit) for s, e, model, fit in db.execute(query)]


def run_tuner(grid: Path, cache: Path, workers: int, threads: int | None,
              folder: Path) -> Measured:
    store = folder / f"w{workers}-{time.monotonic_ns()}.db"
    shutil.copyfile(folder / EMPTY_STORE, store)
    command = [TUNER, "run", str(grid), "--max-workers", str(workers), "--quiet",
               "--cache-dir", str(cache), "--tracking-uri", f"sqlite:///{store}"]
    if threads is not None:
        command += ["--threads-per-worker", str(threads)]
    # its warnings (the corpus's advice) were printed once by `tuner precompute`, not per run
    ran = run_accounted(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    runs = trial_runs(store)
    phase = max(e for _, e, _, _ in runs) - min(s for s, _, _, _ in runs)
    return Measured(ran.wall, phase, fit_sums((model, fit) for _, _, model, fit in runs),
                    ran.own_cpu, ran.tree_cpu, len(runs))


def fit_sums(fits: Iterable[tuple[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for model, seconds in fits:
        total[model] = total.get(model, 0.0) + seconds
    return total


def make_empty_store(folder: Path) -> float:
    """An MLflow store with its tables and no run, made in a fresh interpreter: seconds taken."""
    code = ("import sys; from mlflow.tracking import MlflowClient; "
            "MlflowClient(sys.argv[1]).search_experiments()")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, f"sqlite:///{folder / EMPTY_STORE}"],
                   check=True, capture_output=True)
    return time.perf_counter() - started


def run_bare(grid: Path, cache: Path, workers: int) -> Measured:
    """This script's --bare mode in a fresh interpreter, timed whole as a user's script."""
    ran = run_accounted([sys.executable, __file__, "--bare", str(workers), str(grid), str(cache)],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found = json.loads(ran.stdout.strip().splitlines()[-1])
    return Measured(ran.wall, found["phase"], found["fit"], ran.own_cpu, ran.tree_cpu)


def _bare_worker(models: tuple[str, ...]) -> None:
    from tuner.engine.worker import init_worker, warm_up

    init_worker(1, exit_fast=True)  # as tuner's pool workers
    warm_up(models)


def _timed_trial(spec: Any) -> tuple[Any, float, float]:
    from tuner.engine.worker import run_trial

    started = time.time()
    record = run_trial(spec)
    return record, started, time.time()


def bare_pool(workers: int, grid_path: str, cache: str) -> None:
    """The grid's trials on a plain spawn pool of single-threaded workers: tuner's run_trial, no
    runner, no store. Prints the sweep phase (first trial start to last trial end, as read from
    tuner's store) and Σfit per model as JSON."""
    from tuner.engine.sweep import check_inputs, precompute

    grid = load_grid(grid_path)
    prepared = precompute(grid, check_inputs(grid), Path(cache), progress=False)
    models = tuple(sorted({t.model for t in prepared.trials}))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_bare_worker, initargs=(models,)) as pool:
        timed = list(pool.map(_timed_trial, prepared.trials))
    failed = [r.spec.name for r, _, _ in timed if r.status.value != "COMPLETE"]
    if failed:
        raise SystemExit(f"bare pool: trials failed: {failed}")
    phase = max(end for _, _, end in timed) - min(start for _, start, _ in timed)
    fit = fit_sums((r.spec.model, r.metrics["fit_seconds"]) for r, _, _ in timed)
    print(json.dumps({"phase": phase, "fit": fit}))


def _matrix_products() -> float:
    import numpy as np

    a, started = np.random.default_rng(0).random((300, 300)), time.perf_counter()
    for _ in range(400):
        a = (a @ a) / 300.0
    return time.perf_counter() - started


def _python_loop() -> float:
    started, total = time.perf_counter(), 0
    for i in range(12_000_000):
        total += i * i % 7
    return time.perf_counter() - started


def _array_updates() -> float:
    import numpy as np

    x, started = np.ones(20_000_000), time.perf_counter()
    for _ in range(30):
        x = x * 1.0000001 + 1e-9
    return time.perf_counter() - started


_START: Any = None  # a barrier: the two copies start together


def _start_together(barrier: Any) -> None:
    global _START
    from tuner.devices import limit_threads

    limit_threads(1)
    _START = barrier


def _timed(name: str) -> float:
    _START.wait()
    return {"matrix products": _matrix_products, "Python loop": _python_loop,
            "array updates": _array_updates}[name]()


def print_machine_ceiling() -> None:
    """Each workload alone, then two copies at once, each in its own spawned process."""
    context = multiprocessing.get_context("spawn")
    figures = []
    for name in ("matrix products", "Python loop", "array updates"):
        with ProcessPoolExecutor(1, mp_context=context, initializer=_start_together,
                                 initargs=(context.Barrier(1),)) as pool:
            alone = pool.submit(_timed, name).result()
        with ProcessPoolExecutor(2, mp_context=context, initializer=_start_together,
                                 initargs=(context.Barrier(2),)) as pool:
            pair = list(pool.map(_timed, [name, name]))
        figures.append(f"{name} x{max(pair) / alone:.2f}")
    print(f"machine ceiling: each of two single-threaded processes runs slower than one alone: "
          f"{', '.join(figures)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=positive, default=2,
                        help="seeds per configuration (default 2: the 16-trial grid)")
    parser.add_argument("--bare", nargs=3, metavar=("WORKERS", "GRID", "CACHE"),
                        help=argparse.SUPPRESS)  # the bare pool's own process
    args = parser.parse_args()
    if args.bare:
        bare_pool(int(args.bare[0]), args.bare[1], args.bare[2])
        return
    adopt_orphans()
    folder = scratch()
    grid = write_grid(folder, models=["lda", "prodlda"], params=PARAMS,
                      seeds=list(range(1, args.seeds + 1)))
    cache = folder / "cache"
    subprocess.run([TUNER, "precompute", str(grid), "--cache-dir", str(cache), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"machine: {machine()}; {load_grid(grid).trial_count} trials (LDA, ProdLDA) on "
          f"20ng-mini; medians of {args.repeats} alternating runs")
    print_machine_ceiling()
    print(f"a new store: importing MLflow and creating its tables took "
          f"{make_empty_store(folder):.1f} s (once per store; each run below gets a copy)")
    results: dict[str, list[Measured]] = {label: [] for label in CONFIGS}
    for _ in range(args.repeats):
        for label, (kind, workers, threads) in CONFIGS.items():
            results[label].append(run_tuner(grid, cache, workers, threads, folder)
                                  if kind == "tuner" else run_bare(grid, cache, workers))
    summary = {label: summarize(label, runs) for label, runs in results.items()}
    for base, other in SPEEDUPS:
        print_speedup(base, other, summary)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def summarize(label: str, runs: list[Measured]) -> dict[str, float]:
    kind, workers, _ = CONFIGS[label]
    models = sorted(runs[0].fit)
    row = {"wall": statistics.median([r.wall for r in runs]),
           "phase": statistics.median([r.phase for r in runs])}
    row |= {f"fit:{m}": statistics.median([r.fit[m] for r in runs]) for m in models}
    row["fit"] = sum(row[f"fit:{m}"] for m in models)
    row["own_cpu"] = statistics.median([r.own_cpu for r in runs])
    row["tree_cpu"] = statistics.median([r.tree_cpu for r in runs])
    fixed = row["wall"] - row["phase"]
    fits = ", ".join(f"{m} {row[f'fit:{m}']:.1f} s" for m in models)
    per_trial = row["own_cpu"] / max(runs[0].trials, 1) * 1000
    own = (f"the parent's {row['own_cpu']:.2f} s in all ({per_trial:.0f} ms "
           f"per trial, start-up included)" if kind == "tuner"
           else f"the script and its pool {row['own_cpu']:.2f} s")
    print(f"{label}: command {row['wall']:.1f} s (all: "
          f"{', '.join(f'{r.wall:.1f}' for r in runs)}), sweep phase {row['phase']:.1f} s, "
          f"fixed cost {fixed:.1f} s, sum(fit) {row['fit']:.1f} s ({fits}), "
          f"efficiency sum(fit)/(phase x workers) {row['fit'] / (row['phase'] * workers):.2f}; "
          f"CPU: {own}, all processes {row['tree_cpu']:.1f} s")
    return row


def print_speedup(base: str, other: str, summary: dict[str, dict[str, float]]) -> None:
    one, many = summary[base], summary[other]
    slower = ", ".join(f"{k[4:]} x{many[k] / one[k]:.2f}" for k in one if k.startswith("fit:"))
    print(f"speed-up [{base}] -> [{other}]: whole command {one['wall'] / many['wall']:.2f}, "
          f"phase {one['phase'] / many['phase']:.2f}; each fit: {slower}")
    serial, parallel, slowdown = one["wall"] - one["phase"], one["phase"], many["fit"] / one["fit"]
    print(f"  the most 2 workers could give (Amdahl: the one-worker command's {serial:.1f} s "
          f"outside the sweep phase stays serial, and the phase halves but for the fits' x"
          f"{slowdown:.2f} beside another): {amdahl_bound(serial, parallel, slowdown):.2f}; "
          f"{phase_needed(serial, slowdown, TARGET)}")
    cores = usable_cores()
    print(f"  the most the same work could give on {cores} cores (CPU bound: the "
          f"{CONFIGS[other][1]}-worker command's processes used {many['tree_cpu']:.1f} CPU s, "
          f"so it cannot end before {many['tree_cpu'] / cores:.1f} s): "
          f"{cpu_bound(one['wall'], many['tree_cpu'], cores):.2f}")


TARGET = 1.8  # issue #11


def cpu_bound(wall_one: float, tree_cpu_many: float, cores: int) -> float:
    """The most a many-worker command can speed up on `cores` cores: however well scheduled, it
    takes at least its processes' total CPU time spread over every core."""
    return wall_one / (tree_cpu_many / cores)


def amdahl_bound(serial: float, parallel: float, slowdown: float, workers: int = 2) -> float:
    """The speed-up of a command whose `serial` seconds no worker shortens and whose `parallel`
    seconds split over `workers`, each running `slowdown` times slower beside the others."""
    return (serial + parallel) / (serial + parallel * slowdown / workers)


def phase_needed(serial: float, slowdown: float, target: float, workers: int = 2) -> str:
    """How long the one-worker sweep phase must be for the bound to reach `target`."""
    room = 1 - target * slowdown / workers
    if room <= 0:
        return f"no sweep length reaches {target} at this slowdown"
    needed = (target - 1) * serial / room
    return f"the bound reaches {target} once the one-worker sweep phase is {needed:.0f} s or more"


if __name__ == "__main__":
    main()
