"""Parallel efficiency = sum of fit times / (sweep wall time x workers), at 1 and 2 workers.

A 16-trial grid: LDA and ProdLDA, K in {10, 20}, two iteration budgets, two seeds.
Usage: python bench/parallel_efficiency.py [WORKERS ...]   (default: 1 2 nproc)
"""

from __future__ import annotations

import os
import sys
import time

from _common import machine, scratch, write_grid

from tuner.engine.executors import make_executor
from tuner.engine.runner import run_sweep
from tuner.engine.sweep import check_inputs, precompute
from tuner.grid import load_grid
from tuner.tracking.tracker import MlflowTracker

PARAMS = {"num_topics": [10, 20], "vocab_size": 2000, "lda.max_iter": [100, 200],
          "prodlda.epochs": [10, 15], "prodlda.patience": None}


def measure(workers: int, cache: object) -> tuple[float, float, int]:
    folder = scratch()
    grid = load_grid(write_grid(folder, models=["lda", "prodlda"], params=PARAMS, seeds=[1, 2]))
    prepared = precompute(grid, check_inputs(grid), cache, progress=False)  # type: ignore[arg-type]
    tracker = MlflowTracker(f"sqlite:///{folder / 'mlflow.db'}")
    tracker.experiment_id(grid.experiment)
    started = time.perf_counter()
    result = run_sweep(prepared, tracker, lambda: make_executor("process", workers), workers)
    wall = time.perf_counter() - started
    fit = sum(r.metrics.get("fit_seconds", 0.0) for r in result.records)
    return wall, fit, len(result.records)


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or sorted({1, 2, os.cpu_count() or 1})
    cache = scratch() / "cache"
    print(f"machine: {machine()}")
    for workers in counts:
        wall, fit, trials = measure(workers, cache)
        print(f"workers={workers}: trials={trials} wall={wall:.1f} s sum(fit)={fit:.1f} s "
              f"efficiency={fit / (wall * workers):.2f}")


if __name__ == "__main__":
    main()
