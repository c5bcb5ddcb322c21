"""Embedding stage, cold (empty cache) vs warm (cache hit), on the bundled 20ng-mini corpus."""

from __future__ import annotations

import time

from _common import command_line, machine, scratch, write_grid

from tuner.engine.sweep import check_inputs, precompute
from tuner.grid import load_grid


def main() -> None:
    command_line(__doc__)  # no argument: --help prints what it measures
    folder = scratch()
    grid = load_grid(write_grid(folder, models=["bertopic"], params={"vocab_size": 5000}))
    inputs = check_inputs(grid)
    timings = []
    for label in ("cold", "warm"):
        started = time.perf_counter()
        prepared = precompute(grid, inputs, folder / "cache", progress=False)
        timings.append(time.perf_counter() - started)
        print(f"{label}: {timings[-1]:.2f} s  {prepared.cache_events}")
    print(f"machine: {machine()}; documents: {len(inputs.corpus)}")
    print(f"warm / cold = {timings[1] / timings[0]:.4%}")


if __name__ == "__main__":
    main()
