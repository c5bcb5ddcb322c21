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
import statistics
import time
from pathlib import Path

from _common import machine, scratch, write_grid

PARAMS = {"num_topics": [20], "vocab_size": 2000, "lda.max_iter": [200],
          "prodlda.epochs": [15], "prodlda.patience": None}


def prepare(models: list[str], folder: Path) -> Path:
    """The grid, its bag of words precomputed into `folder`/cache."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.grid import load_grid

    params = {k: v for k, v in PARAMS.items() if "." not in k or k.split(".")[0] in models}
    grid = load_grid(write_grid(folder, models=models, params=params, seeds=[1]))
    precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    return folder / "grid.json"


def fit_loop(model: str, grid_path: str, cache: str, seconds: float, start: object,
             results: object) -> None:
    """Fit `model`'s trial over and over for `seconds` after the barrier; send the fit times."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.engine.worker import init_worker, run_trial
    from tuner.grid import load_grid

    grid = load_grid(grid_path)
    trials = precompute(grid, check_inputs(grid), Path(cache), progress=False).trials
    spec = next(t for t in trials if t.model.lower() == model)
    init_worker(1)
    run_trial(spec)  # the first fit's one-off costs (imports, allocations) are not measured
    start.wait()  # type: ignore[attr-defined]
    fits, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        record = run_trial(spec)
        if record.status.value != "COMPLETE":
            raise SystemExit(f"{model}: the trial failed: {record.error}")
        fits.append(record.metrics["fit_seconds"])
    results.put((model, fits))  # type: ignore[attr-defined]


def run_together(models: tuple[str, ...], grid: Path, cache: Path,
                 seconds: float) -> list[tuple[str, float]]:
    """(model, median fit) of each process, all started together."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(len(models)), context.Queue()
    processes = [context.Process(target=fit_loop, args=(m, str(grid), str(cache), seconds,
                                                        start, results)) for m in models]
    for process in processes:
        process.start()
    found = [results.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join()
    return [(model, statistics.median(fits)) for model, fits in found]


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
