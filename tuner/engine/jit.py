"""Numba code compiled once per machine, not once per worker and sweep.

UMAP (BERTopic) and pynndescent compile their numba functions in every new process: about
10-13 s of a worker's first BERTopic trial on a 2-core machine, paid again by every worker of
every sweep. Numba caches a function on disk only when it is declared with `cache=True`, which
most of UMAP's are not. A worker therefore makes `cache=True` the default of `numba.njit` and
`numba.jit` before UMAP is imported, with the cache in the tuner cache folder. Measured
(2,000 x 384 embeddings, one thread, loaded machine): a fresh process's first UMAP fit took
51 s with an empty cache and 16 s with a warm one, against 15 s for a second fit in the same
process. Numba keys each entry by the source file and its timestamp, so an upgraded library
never loads stale code; a function it cannot cache (a closure) is compiled as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_VARIABLE = "NUMBA_CACHE_DIR"


def enable_jit_cache(folder: Path) -> None:
    """Cache every numba function this process compiles under `folder`. Call it before numba
    is imported by anything (first thing in a worker)."""
    os.environ[CACHE_VARIABLE] = str(folder)
    try:
        import numba
    except ImportError:
        return
    if getattr(numba.njit, "_tuner_cached", False):
        return
    numba.njit = _caching(numba.njit)
    numba.jit = _caching(numba.jit)


def _caching(decorator: Callable[..., Any]) -> Callable[..., Any]:
    """`decorator` with cache=True unless the caller says otherwise; used bare (`@njit`) or
    with options (`@njit(fastmath=True)`, `njit(signature)`)."""
    def cached(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not isinstance(args[0], str):
            return _decorate(decorator, args[0], (), kwargs)
        return lambda function: _decorate(decorator, function, args, kwargs)

    cached._tuner_cached = True  # type: ignore[attr-defined]
    return cached


def _decorate(decorator: Callable[..., Any], function: Any, args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
    if "cache" in kwargs:  # the library's own choice
        return decorator(*args, **kwargs)(function)
    try:
        return decorator(*args, cache=True, **kwargs)(function)
    except RuntimeError:  # no file to cache beside (code made by exec): compiled as before
        return decorator(*args, **kwargs)(function)
