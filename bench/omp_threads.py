"""A ProdLDA fit on one and two native threads, alone and beside a busy process, with OpenMP's
default wait policy and with OMP_WAIT_POLICY=PASSIVE: what a worker's thread count costs when
other work shares the cores (the sweep's parent, another program).

Usage: python bench/omp_threads.py [REPEATS]

Each fit (20ng-mini, K=20, 30 epochs, patience null, seed 1) runs in a fresh interpreter, as a
worker would, whose environment sets the policy before torch loads; the busy process is a
Python loop on one core. Prints each fit's seconds and, per setting, the median.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from _common import CORPUS, REPO, command_line

FIT = """
import json, sys, time
threads, folder = int(sys.argv[1]), sys.argv[2]
import torch
torch.set_num_threads(threads)
from pathlib import Path
from tests.conftest import make_grid
from trainers import load_trainer
from tuner.data.inputs import FitContext
from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import fit_view, load_trial_data
from tuner.grid import load_grid
grid = load_grid(make_grid(Path(folder), Path(sys.argv[3]), models=["prodlda"],
                           params={"num_topics": 20, "prodlda.epochs": 30,
                                   "prodlda.patience": None}))
trial = precompute(grid, check_inputs(grid), Path(folder) / "cache", progress=False).trials[0]
data = load_trial_data(trial.data)
context = FitContext(seed=1, device="cpu", top_n=10, threads=threads,
                     cache_dir=str(Path(folder) / "cache"))
started = time.perf_counter()
load_trainer("ProdLDA")().fit(fit_view(data, trial.data), trial.params, context)
print(json.dumps(round(time.perf_counter() - started, 2)))
"""


def fit_seconds(threads: int, policy: str | None, folder: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_WAIT_POLICY", None)
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run([sys.executable, "-c", FIT, str(threads), folder, str(CORPUS)],
                          capture_output=True, text=True, env=env, cwd=REPO, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    repeats = command_line(__doc__, ("repeats", 2, "fits per setting")).repeats
    with tempfile.TemporaryDirectory() as folder:
        fit_seconds(1, None, folder)  # the bag of words cached, torch's files read once
        for load in ("alone", "beside a busy process"):
            busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) \
                if load != "alone" else None
            try:
                for threads in (1, 2):
                    for policy in (None, "PASSIVE"):
                        times = [fit_seconds(threads, policy, folder) for _ in range(repeats)]
                        print(f"{load:<22} threads {threads}  OMP_WAIT_POLICY "
                              f"{policy or 'default':<8} {' '.join(f'{t:6.2f}' for t in times)}"
                              f"  median {statistics.median(times):.2f} s", flush=True)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()


if __name__ == "__main__":
    main()
