"""The one place that picks CUDA or CPU, and limits threads per worker process."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tuner.data.versions import installed_version

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's cpuset), not the
    host's count that `os.cpu_count()` gives. A CPU quota (`docker --cpus`) is not seen."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


MAX_WORKERS_PER_CORE = 8


def worker_limit_problem(flag: str, workers: int) -> str | None:
    """Why `workers` local worker processes are refused, or None: more than
    MAX_WORKERS_PER_CORE per usable core only share the cores, each holding its own copy of the
    libraries. Unrefused, `--max-workers 100000` forks 225 workers on 2 cores, and no trial has
    started after 10 minutes."""
    limit = MAX_WORKERS_PER_CORE * usable_cores()
    if workers <= limit:
        return None
    return (f"{flag} expects an int in 1-{limit} on this machine ({MAX_WORKERS_PER_CORE} per "
            f"usable core, {usable_cores()} cores: more worker processes only share the cores, "
            f"each holding its own libraries in memory); got {workers}")


def cuda_device_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@functools.cache
def device_kind() -> str:
    """"cuda" or "cpu": the kind of device pick_device gives on this machine. A CPU build of
    torch (a version ending "+cpu") cannot use CUDA, which is known without importing torch
    (0.6 s of a command's start-up)."""
    build = installed_version("torch")
    if build == "absent" or build.endswith("+cpu"):
        return "cpu"
    return "cuda" if cuda_device_count() else "cpu"


@functools.cache
def device_identity() -> str:
    """What a fit on this machine's device depends on: "cpu", or "cuda:" and the visible GPUs'
    models (cuBLAS and cuDNN pick other kernels on another GPU, and so round otherwise: one
    key for an A100's fit and an H200's served one as the other's). Several models are named
    together, as workers spread over them."""
    if device_kind() != "cuda":
        return "cpu"
    torch = _torch()
    return cuda_identity([torch.cuda.get_device_name(i) for i in range(cuda_device_count())])


def cuda_identity(models: list[str]) -> str:
    """"cuda:" and the distinct GPU models, sorted: "cuda:NVIDIA A100-SXM4-80GB+NVIDIA H200"."""
    return "cuda:" + "+".join(sorted(set(models)))


def encoding_dtype() -> str:
    """The dtype document embeddings are computed in here (load_encoder: half on CUDA)."""
    return "float16" if device_kind() == "cuda" else "float32"


def pick_device(slot: int = 0) -> str:
    """'cuda:N' for worker slot `slot` spread over the visible GPUs, else 'cpu'."""
    count = cuda_device_count()
    return f"cuda:{slot % count}" if count else "cpu"


def limit_threads(threads: int) -> None:
    """Cap a worker process's native thread pools so N workers on N cores do not
    oversubscribe them (loading and scoring included); each fit is capped by `thread_limit`
    through `tuner.fitting.fit_trial`. Run it first thing in a worker.
    """
    from threadpoolctl import threadpool_limits

    numba = sys.modules.get("numba")  # loaded: its pool size is fixed (see thread_limit)
    for name in THREAD_VARIABLES:
        if numba is None or name != "NUMBA_NUM_THREADS":
            os.environ[name] = str(threads)
    threadpool_limits(limits=threads)  # BLAS pools numpy already started ignore the variables
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(threads)
    if numba is not None:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


@contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Run a fit on at most `threads` threads, then restore the previous settings.

    Covers pools that already started (BLAS and OpenMP through threadpoolctl, torch) and those a
    fit starts later (the environment variables, read by numba and friends on import): an
    oversubscribed pool makes small matrix products tens of times slower.
    """
    from threadpoolctl import threadpool_limits

    threads = max(1, threads)
    # Once numba has loaded, its pool size is fixed: a changed NUMBA_NUM_THREADS then makes its
    # next parallel call fail, so it is capped through set_num_threads instead.
    numba = sys.modules.get("numba")
    variables = [n for n in THREAD_VARIABLES if numba is None or n != "NUMBA_NUM_THREADS"]
    with environment({name: str(threads) for name in variables}):
        torch = _torch()
        previous = torch.get_num_threads() if torch is not None else None
        numba_previous = numba.get_num_threads() if numba is not None else None
        try:
            with threadpool_limits(limits=threads):
                if torch is not None:
                    torch.set_num_threads(threads)
                if numba is not None:
                    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
                yield
        finally:
            if torch is not None and previous is not None:
                torch.set_num_threads(previous)
            if numba is not None and numba_previous is not None:
                numba.set_num_threads(numba_previous)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then restore what was there before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        restore_environment(saved)


def restore_environment(saved: Mapping[str, str | None]) -> None:
    """Give each variable its saved value; None: unset it."""
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch
