"""How much slower a fit runs beside another fit than alone, by the pair's models (issue #11).

Each model's trial of the parallel_efficiency grid (K=20, the longer budget) is fitted again and
again by tuner's `run_trial` in a single-threaded process, alone, then beside a copy of itself,
then beside the other model's process, for `--seconds` each. It prints each fit's median time
and its slowdown against alone. The runner's ListSource reads this: two fits of one model contend
for the same part of the machine (ProdLDA's dense Adam and batch x vocabulary matrices), fits of
different models much less, so it starts a trial beside trials of other models when it can.

Usage: python bench/fit_pairs.py [--seconds 8] [--models lda prodlda]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import queue
import statistics
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from _common import machine, scratch, write_grid

PARAMS = {"num_topics": [20], "vocab_size": 2000, "lda.max_iter": [200],
          "prodlda.epochs": [15], "prodlda.patience": None}


def prepare(models: list[str], folder: Path) -> Path:
    """The grid, its bag of words precomputed into `folder`/cache."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.grid import load_grid

    params = {k: v for k, v in PARAMS.items() if "." not in k or k.split(".")[0] in models}
    grid_path = write_grid(folder, models=models, params=params, seeds=[1])
    grid = load_grid(grid_path)
    precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    return grid_path


def fit_loop(model: str, grid_path: str, cache: str, seconds: float, start: Barrier,
             results: Queue[tuple[str, list[float]]]) -> None:
    """Fit `model`'s trial over and over for `seconds` after the barrier; send the fit times."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.engine.worker import init_worker, run_trial
    from tuner.grid import load_grid
    from tuner.trial import TrialSpec, TrialStatus

    def fit(spec: TrialSpec) -> float:
        record = run_trial(spec)
        if record.status is not TrialStatus.COMPLETE:
            raise SystemExit(f"{model}: the trial failed: {record.error}")
        return float(record.metrics["fit_seconds"])

    grid = load_grid(grid_path)
    trials = precompute(grid, check_inputs(grid), Path(cache), progress=False).trials
    spec = next(t for t in trials if t.model.lower() == model)
    init_worker(1)
    fit(spec)  # the first fit's one-off costs (imports, allocations) are not measured
    start.wait(timeout=600)  # a partner that died breaks the barrier instead of hanging it
    fits, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        fits.append(fit(spec))
    results.put((model, fits))


def run_together(models: tuple[str, ...], grid: Path, cache: Path,
                 seconds: float) -> list[tuple[str, float]]:
    """(model, median fit) of each process, all started together."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(len(models)), context.Queue()
    processes = [context.Process(target=fit_loop, daemon=True,
                                 args=(m, str(grid), str(cache), seconds, start, results))
                 for m in models]
    for process in processes:
        process.start()
    found = [collect(results, processes) for _ in processes]
    for process in processes:
        process.join()
    return [(model, statistics.median(fits)) for model, fits in found]


def collect(results: Queue[tuple[str, list[float]]], processes: Sequence[BaseProcess]
            ) -> tuple[str, list[float]]:
    """One process's fit times; SystemExit as soon as a process ended without sending them."""
    while True:
        try:
            return results.get(timeout=5)
        except queue.Empty:
            failed = [p for p in processes if p.exitcode not in (None, 0)]
            if failed:
                raise SystemExit(
                    f"a fitting process failed (exit code {failed[0].exitcode})") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--models", nargs=2, default=["lda", "prodlda"])
    args = parser.parse_args()
    folder = scratch()
    grid = prepare(args.models, folder)
    print(f"machine: {machine()}; 20ng-mini, K=20, one thread per process, "
          f"{args.seconds:.0f} s per case, median fit")
    alone = {model: run_together((model,), grid, folder / "cache", args.seconds)[0][1]
             for model in args.models}
    for model, fit in alone.items():
        print(f"{model} alone: {fit:.3f} s")
    pairs = [(m, m) for m in args.models] + list(itertools.combinations(args.models, 2))
    for pair in pairs:
        found = run_together(pair, grid, folder / "cache", args.seconds)
        beside = ", ".join(f"{model} {fit:.3f} s (x{fit / alone[model]:.2f})"
                           for model, fit in found)
        print(f"{pair[0]} beside {pair[1]}: {beside}")


if __name__ == "__main__":
    main()
