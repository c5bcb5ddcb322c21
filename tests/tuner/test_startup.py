"""A command's start-up imports run without the cyclic garbage collector, which comes back (with
the start-up's objects frozen) once they are done: for `tuner run` once it has validated the grid,
started its workers' fork server and imported what its tracking store needs, before it opens the
store; for any other command at once. Each case runs in a fresh interpreter, since freezing the
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
        seen.setdefault(name, (gc.isenabled(), gc.get_freeze_count() > 0,
                               "mlflow.store.tracking.sqlalchemy_store" in sys.modules))
        return real(*args, **kwargs)
    setattr(module, name, watched)
watch(sweep, "check_inputs"); watch(flow, "MlflowTracker")
real_import = flow.import_tracking_libraries
def import_tracking_libraries(uri):
    from multiprocessing.forkserver import _forkserver
    seen["fork server started"] = _forkserver._forkserver_pid is not None
    real_import(uri)
flow.import_tracking_libraries = import_tracking_libraries
pause_collection()
code = main(sys.argv[1:])
print(code, seen.get("check_inputs"), seen.get("MlflowTracker"), gc.isenabled(),
      seen.get("fork server started"))
"""


def _watched_main(*argv: str) -> str:
    out = subprocess.run([sys.executable, "-c", _WATCHED_MAIN, *argv], capture_output=True,
                         text=True, timeout=600, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    return out.stdout.strip().splitlines()[-1]


def test_a_run_resumes_collection_before_it_opens_its_store(tmp_path, small_corpus):
    """Validation runs paused (a bad grid fails before MLflow's import); MLflow's store modules
    are imported paused, once the fork server has started (its imports overlap them); the store
    (which may create its tables) opens with the collector back and the imports frozen."""
    grid = make_grid(tmp_path, small_corpus)
    line = _watched_main("run", str(grid), "--quiet", "--max-workers", "1",
                         "--cache-dir", str(tmp_path / "cache"),
                         "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    assert line == "0 (False, False, False) (True, True, True) True True"


def test_a_run_that_fails_before_its_store_opens_resumes_collection(tmp_path, small_corpus):
    grid = make_grid(tmp_path, small_corpus, params={"num_topics": 500})  # out of range
    assert _watched_main("run", str(grid)) == "2 None None True None"


def test_other_commands_resume_collection_at_once(tmp_path, small_corpus):
    grid = make_grid(tmp_path, small_corpus)
    assert _watched_main("validate", str(grid)) == "0 (True, True, False) None True None"


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


def test_a_warm_up_imports_without_the_collector_and_freezes_nothing():
    """A `tuner serve` worker may warm up after trials, holding their data: nothing is frozen."""
    code = """
import gc, importlib
import tuner.engine.worker as worker
states = []
real = importlib.import_module
def watched(name, *args):
    states.append(gc.isenabled())
    return real(name, *args)
worker.importlib.import_module = watched
worker.warm_up(("LDA",))
print(set(states), gc.isenabled(), gc.get_freeze_count())
"""
    assert _python(code) == "{False} True 0"


def test_a_download_resumes_the_collector(tmp_path):
    """A model that is not cached is downloaded during validation: minutes, never paused. (The
    Hub address here refuses the connection at once.)"""
    code = """
import gc
from tuner.data.embeddings import resolve_model_path
from tuner.errors import EmbeddingModelError
from tuner.startup import pause_collection
pause_collection()
try:
    resolve_model_path("someone/no-such-model")
except EmbeddingModelError:
    pass
print(gc.isenabled(), gc.get_freeze_count() > 0)
"""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TUNER_OFFLINE")}
    env |= {"PYTHONPATH": str(REPO), "HF_ENDPOINT": "http://127.0.0.1:9",
            "HF_HOME": str(tmp_path / "hf"), "HF_HUB_ETAG_TIMEOUT": "2",
            "HF_HUB_DOWNLOAD_TIMEOUT": "2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True True"


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


LEAKING_WORKER = """
import multiprocessing as mp, os, signal, sys, time

def hold(queue):
    semaphore = mp.get_context("spawn").Semaphore()  # registered with the resource tracker
    queue.put(1)
    time.sleep(60)

if __name__ == "__main__":
    if sys.argv[1] == "quiet":
        from tuner.startup import quiet_resource_tracker

        quiet_resource_tracker()
    context = mp.get_context("spawn")
    queue = context.Queue()
    worker = context.Process(target=hold, args=(queue,))
    worker.start()
    queue.get()
    os.kill(worker.pid, signal.SIGKILL)  # as kill_workers stops a sweep's workers
    worker.join()
"""


def test_the_resource_tracker_frees_a_killed_workers_semaphores_without_a_warning(tmp_path):
    """After a Ctrl-C that stopped the sweep and marked its trials KILLED, the tracker added
    "There appear to be 2 leaked semaphore objects to clean up at shutdown" (new-user audit of
    2026-12-04): the semaphores of the workers kill_workers stops, which it frees."""
    script = tmp_path / "leak.py"
    script.write_text(LEAKING_WORKER, encoding="utf-8")

    def stderr(mode: str) -> str:
        return subprocess.run([sys.executable, str(script), mode], cwd=REPO, env={
            **os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            timeout=120).stderr

    assert "leaked semaphore" in stderr("plain")  # the warning the filter is for
    assert "leaked semaphore" not in stderr("quiet")
