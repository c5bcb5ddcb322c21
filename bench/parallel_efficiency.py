"""Speed-up from a second worker: `tuner run` whole commands at 1 and 2 workers (issue #11).

A 16-trial grid on datasets/20ng-mini: LDA and ProdLDA, K in {10, 20}, two iteration budgets,
two seeds. The bag of words is precomputed once (`tuner precompute`); then each worker count runs
`tuner run` as a user would (a subprocess, a fresh SQLite MLflow store, the warm cache),
alternating worker counts, `--repeats` times. From each run's store it reads when the first trial
started and the last ended, and every trial's fit_seconds. It prints, as medians over repeats:

- the whole command's wall time and the speed-up wall(1) / wall(2), start-up included;
- the sweep phase (first trial start to last trial end) and its speed-up;
- the fixed cost (command minus sweep phase: Python and library imports, grid validation,
  opening the store, ranking, exit), which a second worker cannot shorten;
- Σfit per model at each worker count: how much slower each fit runs beside another one
  (contention for the cores' caches and memory bandwidth, and for the parent's CPU time);
- the Σfit-based efficiency Σfit / (sweep phase x workers).

Usage: python bench/parallel_efficiency.py [WORKERS ...] [--repeats 3]   (default: 1 2)
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import machine, scratch, write_grid

PARAMS = {"num_topics": [10, 20], "vocab_size": 2000, "lda.max_iter": [100, 200],
          "prodlda.epochs": [10, 15], "prodlda.patience": None}
TUNER = str(Path(sys.executable).parent / "tuner")


@dataclass
class Measured:
    wall: float  # the whole `tuner run` command
    phase: float  # first trial start to last trial end
    fit: dict[str, float]  # model -> sum of fit_seconds


def trial_runs(store: Path) -> list[tuple[float, float, str, float]]:
    """(start s, end s, model, fit_seconds) of every trial run in the store."""
    query = """select r.start_time, r.end_time, m.value, f.value from runs r
               join tags m on m.run_uuid = r.run_uuid and m.key = 'tuner.model'
               join latest_metrics f on f.run_uuid = r.run_uuid and f.key = 'fit_seconds'"""
    with sqlite3.connect(store) as db:
        return [(s / 1000, e / 1000, model, fit) for s, e, model, fit in db.execute(query)]


def run_once(grid: Path, cache: Path, workers: int, folder: Path) -> Measured:
    store = folder / f"w{workers}-{time.monotonic_ns()}.db"
    started = time.perf_counter()
    subprocess.run([TUNER, "run", str(grid), "--max-workers", str(workers), "--quiet",
                    "--cache-dir", str(cache), "--tracking-uri", f"sqlite:///{store}"],
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    runs = trial_runs(store)
    fit: dict[str, float] = {}
    for _, _, model, seconds in runs:
        fit[model] = fit.get(model, 0.0) + seconds
    phase = max(e for _, e, _, _ in runs) - min(s for s, _, _, _ in runs)
    return Measured(wall, phase, fit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workers", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = scratch()
    grid = write_grid(folder, models=["lda", "prodlda"], params=PARAMS, seeds=[1, 2])
    cache = folder / "cache"
    subprocess.run([TUNER, "precompute", str(grid), "--cache-dir", str(cache), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"machine: {machine()}; 16 trials (LDA, ProdLDA) on 20ng-mini; "
          f"medians of {args.repeats} alternating runs")
    results: dict[int, list[Measured]] = {w: [] for w in args.workers}
    for _ in range(args.repeats):
        for workers in args.workers:
            results[workers].append(run_once(grid, cache, workers, folder))
    summary = {w: summarize(w, runs) for w, runs in results.items()}
    base = args.workers[0]
    for workers in args.workers[1:]:
        print_speedup(base, workers, summary)


def summarize(workers: int, runs: list[Measured]) -> dict[str, float]:
    models = sorted(runs[0].fit)
    row = {"wall": statistics.median([r.wall for r in runs]),
           "phase": statistics.median([r.phase for r in runs])}
    row |= {f"fit:{m}": statistics.median([r.fit[m] for r in runs]) for m in models}
    row["fit"] = sum(row[f"fit:{m}"] for m in models)
    fixed = row["wall"] - row["phase"]
    fits = ", ".join(f"{m} {row[f'fit:{m}']:.1f} s" for m in models)
    print(f"workers={workers}: command {row['wall']:.1f} s (all: "
          f"{', '.join(f'{r.wall:.1f}' for r in runs)}), sweep phase {row['phase']:.1f} s, "
          f"fixed cost {fixed:.1f} s, sum(fit) {row['fit']:.1f} s ({fits}), "
          f"efficiency sum(fit)/(phase x workers) {row['fit'] / (row['phase'] * workers):.2f}")
    return row


def print_speedup(base: int, workers: int, summary: dict[int, dict[str, float]]) -> None:
    one, many = summary[base], summary[workers]
    slower = ", ".join(f"{k[4:]} x{many[k] / one[k]:.2f}" for k in one if k.startswith("fit:"))
    print(f"speed-up {base} -> {workers} workers: whole command {one['wall'] / many['wall']:.2f}, "
          f"sweep phase {one['phase'] / many['phase']:.2f}; each fit beside another: {slower}")


if __name__ == "__main__":
    main()
