"""The one place that picks CUDA or CPU, and limits threads per worker process."""

from __future__ import annotations

import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def cuda_device_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def pick_device(slot: int = 0) -> str:
    """'cuda:N' for worker slot `slot` spread over the visible GPUs, else 'cpu'."""
    count = cuda_device_count()
    return f"cuda:{slot % count}" if count else "cpu"


def limit_threads(threads: int) -> None:
    """Cap native thread pools so N workers on N cores do not oversubscribe them.

    Runs first thing in a worker process, never in the parent (whose environment other sweeps
    of `tuner serve` share).
    """
    for name in THREAD_VARIABLES:  # read by the libraries this process has not loaded yet
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # BLAS and OpenMP pools already loaded (numpy's)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
