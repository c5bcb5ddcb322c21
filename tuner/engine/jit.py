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

A worker that never runs UMAP never imports numba: the default changes as numba's import ends.
Importing numba up front cost each worker 0.27 s of CPU before its first trial, in sweeps of
models that never use it (LDA, ProdLDA and most others).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

CACHE_VARIABLE = "NUMBA_CACHE_DIR"


def enable_jit_cache(folder: Path) -> None:
    """Cache every numba function this process compiles under `folder`. Call it before numba's
    users (UMAP) are imported: first thing in a worker. numba itself is not imported here."""
    os.environ[CACHE_VARIABLE] = str(folder)
    numba = sys.modules.get("numba")
    if numba is not None:  # it read the variable when it loaded
        numba.config.CACHE_DIR = str(folder)
        _cache_by_default(numba)
    elif not any(isinstance(finder, _OnNumbaImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _OnNumbaImport())


def _cache_by_default(numba: ModuleType) -> None:
    if getattr(numba.njit, "_tuner_cached", False):
        return
    numba.njit = _caching(numba.njit)  # type: ignore[attr-defined]
    numba.jit = _caching(numba.jit)  # type: ignore[attr-defined]
    # A function asked to cache that reads dynamic globals (pynndescent's nn_descent, on
    # corpora large enough for UMAP to use it) is compiled as before, and numba says so on
    # stderr, twice a function and process: noise a user took for a fault (new-user audit of
    # 2026-12-05), mostly made by the default set here (a library's own cache=True too).
    warnings.filterwarnings("ignore", message="Cannot cache compiled function",
                            category=numba.core.errors.NumbaWarning)


class _OnNumbaImport(importlib.abc.MetaPathFinder):
    """Finds numba as the other finders would, and makes caching the default as soon as its
    package has run, before the module that imported it (UMAP) goes on."""

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != "numba":
            return None
        sys.meta_path.remove(self)  # once: the other finders locate numba
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchAfterExec(spec.loader)
        return spec


class _PatchAfterExec(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _cache_by_default(module)

    def __getattr__(self, name: str) -> Any:  # resources and the rest: the real loader's
        return getattr(self.loader, name)


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
