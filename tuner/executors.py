"""Where trials run: a stdlib Executor over worker processes (spawned, thread-capped)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Literal

from tuner.devices import THREAD_VARIABLES
from tuner.worker import init_worker

ExecutorKind = Literal["process"]


def threads_per_worker(max_workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max_workers)


def make_executor(kind: ExecutorKind, max_workers: int) -> Executor:
    """A process pool whose workers are spawned (fork hangs once torch/numba threads ran) and
    whose native thread pools are capped so `max_workers` workers share the cores."""
    if kind != "process":
        raise ValueError(f"unknown executor kind {kind!r}; expected 'process'")
    threads = threads_per_worker(max_workers)
    # Spawned workers read these when numpy/numba/torch load, before any initializer runs.
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    context = multiprocessing.get_context("spawn")
    slot_counter = context.Value("i", 0)
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=context,
                               initializer=init_worker,
                               initargs=(threads, slot_counter))
