"""BERTopic trial time with and without a UMAP-cache hit, on the bundled 20ng-mini corpus."""

from __future__ import annotations

import time

from _common import command_line, machine, scratch, write_grid

from trainers import load_trainer
from tuner.data.inputs import FitContext
from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import load_trial_data
from tuner.grid import load_grid


def main() -> None:
    command_line(__doc__)  # no argument: --help prints what it measures
    folder = scratch()
    grid = load_grid(write_grid(folder, models=["bertopic"], params={"vocab_size": 5000}))
    prepared = precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    data = load_trial_data(prepared.trials[0].data)
    trainer = load_trainer("BERTopic")
    ctx = FitContext(seed=1, top_n=10, cache_dir=str(folder / "cache"))
    fit = trainer().fit  # warm the UMAP/numba compilation first: it is paid once per worker
    fit(data, trainer.params.with_defaults({"n_neighbors": 14}), ctx)
    for label, size in (("miss", 10), ("hit", 20), ("hit", 30)):
        params = trainer.params.with_defaults({"min_cluster_size": size})
        started = time.perf_counter()
        output = fit(data, params, ctx)
        print(f"{label}: min_cluster_size={size} {time.perf_counter() - started:.2f} s "
              f"(umap_cache_hit={output.extras['umap_cache_hit']})")
    print(f"machine: {machine()}; documents: {data.bow.n_docs}")


if __name__ == "__main__":
    main()
