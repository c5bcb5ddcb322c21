"""Per-trial overhead (dispatch + scoring + MLflow logging) with a trainer that fits nothing, and
the parent's own CPU seconds per trial (its MLflow writes, scheduling, polling): on a 2-core
machine the parent must not cost a worker its core (issue #11 item 4)."""

from __future__ import annotations

import os
import resource
import sys
import time

from _common import REPO, command_line, machine, scratch, write_grid

os.environ["TUNER_TRAINERS"] = "Trivial=trivial_trainer:TrivialTrainer"
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "bench"), str(REPO)])
sys.path.insert(0, str(REPO / "bench"))

from tuner.engine.executors import make_executor  # noqa: E402
from tuner.engine.runner import run_sweep  # noqa: E402
from tuner.engine.sweep import check_inputs, precompute  # noqa: E402
from tuner.grid import load_grid  # noqa: E402
from tuner.tracking.tracker import MlflowTracker  # noqa: E402

TRIALS = 40


def main() -> None:
    command_line(__doc__)  # no argument: --help prints what it measures
    folder = scratch()
    grid = load_grid(write_grid(folder, models=["trivial"],
                                params={"variant": list(range(TRIALS)), "vocab_size": 2000}))
    prepared = precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    tracker = MlflowTracker(f"sqlite:///{folder / 'mlflow.db'}")
    tracker.experiment_id(grid.experiment)
    for workers in (1, 2):
        tracker = MlflowTracker(f"sqlite:///{folder / f'mlflow-{workers}.db'}")
        tracker.experiment_id(grid.experiment)
        make = lambda w=workers: make_executor("process", w)  # noqa: E731
        run_sweep(prepared, tracker, make, workers)  # warm-up: spawn, imports, first load
        tracker = MlflowTracker(f"sqlite:///{folder / f'mlflow-{workers}b.db'}")
        tracker.experiment_id(grid.experiment)
        started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        result = run_sweep(prepared, tracker, make, workers)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        parent_cpu = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
        fit = sum(r.metrics["fit_seconds"] for r in result.records)
        evaluation = sum(r.metrics["eval_seconds"] for r in result.records)
        print(f"workers={workers}: {TRIALS} trivial trials in {wall:.2f} s -> "
              f"{wall / TRIALS:.3f} s per trial (fit {fit / TRIALS * 1000:.1f} ms, scoring "
              f"{evaluation / TRIALS * 1000:.1f} ms per trial); includes pool start-up; the "
              f"parent's CPU {parent_cpu / TRIALS * 1000:.0f} ms per trial "
              f"({parent_cpu / wall:.0%} of one core)")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
