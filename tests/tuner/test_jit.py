"""Compiled numba code is cached on disk by the workers, so the next process loads it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

PLAIN_NJIT = textwrap.dedent("""
    import numba

    @numba.njit
    def bare(x):
        return x + 1

    @numba.njit(fastmath=True)
    def with_options(x):
        return x * 2.0
""")

RUN = textwrap.dedent("""
    import sys
    from pathlib import Path
    if sys.argv[3] == "numba loaded first":
        import numba
    from tuner.engine.jit import enable_jit_cache
    enable_jit_cache(Path(sys.argv[1]))
    enable_jit_cache(Path(sys.argv[1]))  # a second call changes nothing
    loaded = "numba" in sys.modules
    sys.path.insert(0, sys.argv[2])
    import plain_module
    print(plain_module.bare(1), plain_module.with_options(1.5), loaded)
""")


@pytest.mark.parametrize("order", ["numba loaded first", "numba loaded by its user"])
def test_functions_declared_without_cache_are_cached_in_the_tuner_folder(tmp_path: Path,
                                                                          order: str):
    """Whether numba was loaded before the cache was set or by the module that uses it; a
    worker that never runs numba code never imports it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "plain_module.py").write_text(PLAIN_NJIT, encoding="utf-8")
    cache = tmp_path / "numba"
    done = subprocess.run([sys.executable, "-c", RUN, str(cache), str(tmp_path / "src"), order],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "3.0", str(order == "numba loaded first")]
    indexes = sorted(p.name for p in cache.rglob("*.nbi"))
    assert any("bare" in name for name in indexes) and any("with_options" in name
                                                           for name in indexes)


DYNAMIC_GLOBALS = textwrap.dedent("""
    import numba
    import numpy as np

    LARGE = np.zeros(2_000_000)  # a dynamic global: numba cannot cache what reads it

    @numba.njit
    def reads_a_large_array():
        return LARGE[0] == 0.0
""")


@pytest.mark.parametrize("numba_first", [True, False])
def test_a_function_that_cannot_be_cached_runs_without_a_warning(tmp_path: Path,
                                                                 numba_first: bool):
    """pynndescent's nn_descent reads dynamic globals: made to cache, numba printed "Cannot
    cache compiled function" on stderr twice a function and worker, which a user took for a
    fault (new-user audit of 2026-12-05)."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "dynamic_module.py").write_text(DYNAMIC_GLOBALS, encoding="utf-8")
    run = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        {"import numba" if numba_first else ""}
        from tuner.engine.jit import enable_jit_cache
        enable_jit_cache(Path(sys.argv[1]))
        sys.path.insert(0, sys.argv[2])
        import dynamic_module
        print(dynamic_module.reads_a_large_array())
    """)
    done = subprocess.run([sys.executable, "-c", run, str(tmp_path / "numba"),
                           str(tmp_path / "src")], capture_output=True, text=True, timeout=300,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"]
    assert "Cannot cache compiled function" not in done.stderr


AFTER_INIT = textwrap.dedent("""
    import sys
    from tuner.engine.worker import init_worker
    from tuner.devices import thread_limit
    init_worker(1, None, sys.argv[1])
    import numba

    @numba.njit
    def double(x):
        return x * 2

    with thread_limit(1):
        print(double(21), numba.get_num_threads())
""")


def test_a_worker_with_the_jit_cache_compiles_inside_a_fit(tmp_path: Path):
    """numba is sized by the worker's thread cap before it loads, so a fit's thread limit
    never asks it for another pool size (which numba refuses once its threads run)."""
    done = subprocess.run([sys.executable, "-c", AFTER_INIT, str(tmp_path / "numba")],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["42", "1"]


def test_workers_use_the_users_own_numba_cache_folder_when_it_is_set(tmp_path: Path,
                                                                     monkeypatch):
    """NUMBA_CACHE_DIR is numba's own variable: set, it serves every cache folder of the machine
    (the test session sets it); unset, each cache folder keeps its compiled code."""
    from tuner.engine.executors import jit_folder

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "machine"))
    assert jit_folder(tmp_path / "cache") == str(tmp_path / "machine")
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert jit_folder(tmp_path / "cache") == str(tmp_path / "cache" / "numba")
    assert jit_folder(None) is None
