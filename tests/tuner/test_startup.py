"""A command's start-up runs without the cyclic garbage collector, which comes back (with the
start-up's objects frozen) once the start-up is over: for `tuner run` when its tracking store is
open, for any other command at once. Each case runs in a fresh interpreter, since freezing the
test process's objects would outlive the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_grid
from tuner.engine.executors import make_executor

REPO = Path(__file__).resolve().parents[2]


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_resume_freezes_what_the_start_up_made_and_collects_again():
    code = """
import gc, json
from tuner.startup import pause_collection, resume_collection
pause_collection()
paused = gc.isenabled()
import email.parser, xml.dom.minidom
resume_collection()
frozen = gc.get_freeze_count()
resume_collection()
print(paused, gc.isenabled(), frozen > 1000, gc.get_freeze_count() == frozen)
"""
    assert _python(code) == "False True True True"


def test_resume_without_a_pause_freezes_nothing():
    """As in `tuner serve`, whose sweeps reach the same call: a long-running process must not
    freeze objects that may later become garbage."""
    code = """
import gc
from tuner.startup import resume_collection
resume_collection()
print(gc.isenabled(), gc.get_freeze_count())
"""
    assert _python(code) == "True 0"


_WATCHED_MAIN = """
import gc, sys
import tuner.engine.sweep as sweep, tuner.flow as flow
from tuner.cli import main
from tuner.startup import pause_collection
seen = {}
def watch(module, name):
    real = getattr(module, name)
    def watched(*args, **kwargs):
        seen.setdefault(name, (gc.isenabled(), gc.get_freeze_count() > 0))
        return real(*args, **kwargs)
    setattr(module, name, watched)
watch(sweep, "check_inputs"); watch(flow, "precompute")
pause_collection()
code = main(sys.argv[1:])
print(code, seen.get("check_inputs"), seen.get("precompute"), gc.isenabled())
"""


def _watched_main(*argv: str) -> str:
    out = subprocess.run([sys.executable, "-c", _WATCHED_MAIN, *argv], capture_output=True,
                         text=True, timeout=600, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    return out.stdout.strip().splitlines()[-1]


def test_a_run_resumes_collection_once_its_store_is_open(tmp_path, small_corpus):
    """Validation runs paused; precompute (which may embed a corpus for minutes) runs with the
    collector back and the start-up frozen."""
    grid = make_grid(tmp_path, small_corpus)
    line = _watched_main("run", str(grid), "--quiet", "--max-workers", "1",
                         "--cache-dir", str(tmp_path / "cache"),
                         "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    assert line == "0 (False, False) (True, True) True"


def test_a_run_that_fails_before_its_store_opens_resumes_collection(tmp_path, small_corpus):
    grid = make_grid(tmp_path, small_corpus, params={"num_topics": 500})  # out of range
    assert _watched_main("run", str(grid)) == "2 None None True"


def test_other_commands_resume_collection_at_once(tmp_path, small_corpus):
    grid = make_grid(tmp_path, small_corpus)
    assert _watched_main("validate", str(grid)) == "0 (True, True) None True"


def _collector() -> tuple[bool, bool]:
    import gc

    return gc.isenabled(), gc.get_freeze_count() > 0


def test_workers_from_the_fork_server_collect_and_skip_its_imports():
    """The fork server imports with the collector off and freezes before it forks; each worker
    turns the collector back on."""
    pool = make_executor("process", 1)
    try:
        assert pool.submit(_collector).result(timeout=120) == (True, True)
    finally:
        pool.shutdown()


def test_a_workers_first_warm_up_freezes_its_imports_and_later_ones_only_pause():
    """A `tuner serve` worker warms up again for each sweep while it holds the last sweep's data:
    only its first warm-up (its start-up) freezes."""
    code = """
import gc
from tuner.engine.worker import warm_up
before = gc.get_freeze_count()
warm_up(("LDA",))
first = gc.get_freeze_count()
kept = [[i] for i in range(1000)]
warm_up(("LDA",))
print(gc.isenabled(), first > before, gc.get_freeze_count() == first)
"""
    assert _python(code) == "True True True"


def test_imports_inside_a_paused_start_up_leave_the_collector_to_its_caller():
    code = """
import gc
from tuner.startup import imports_without_collection, pause_collection
pause_collection()
with imports_without_collection():
    import json
print(gc.isenabled(), gc.get_freeze_count())
"""
    assert _python(code) == "False 0"
