"""Pool workers come from a fork server that imports tuner's worker code and the sweep's libraries
once (issue #11 item 3), yet behave as spawned ones did: the parent's environment of the moment,
their own thread caps, no numba code compiled outside the JIT cache."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import time
from pathlib import Path

from trainers import registry
from tuner.engine import preload
from tuner.engine.executors import WORKER_MODULE, WarmPool, make_executor, preload_modules
from tuner.engine.preload import import_all
from tuner.engine.worker import SCORING_IMPORTS

REPO = Path(__file__).resolve().parents[2]

# A fresh interpreter: the fork server is one per process, started by its first pool.
FRESH_POOL = """
import json, os, sys
from trainers import registry
from tuner.engine.executors import make_executor

def report(_):
    return {"parent": os.getppid(), "pid": os.getpid(),
            "tomotopy": "tomotopy" in sys.modules, "numba": "numba" in sys.modules}

if __name__ == "__main__":
    pool = make_executor("process", 2, models=["LDA"], cache_dir=sys.argv[1])
    try:
        found = list(pool.map(report, range(8)))
    finally:
        pool.shutdown()
    print(json.dumps({"me": os.getpid(), "workers": found}))
"""


def test_workers_fork_from_one_server_that_imported_the_sweeps_libraries(tmp_path):
    """Run from a folder holding a decoy `tuner/` and `trainers/` (another checkout, say): the
    server searches the parent's path, not the folder it was started in, so they shadow nothing."""
    script = tmp_path / "fresh_pool.py"
    script.write_text(FRESH_POOL, encoding="utf-8")
    decoy = f"open({str(tmp_path / 'decoy-imported')!r}, 'w').close()\n"
    # Python 3.10 has no PYTHONSAFEPATH: there the server's first import still searches the
    # working folder (see tuner.engine.preload)
    decoys = ("tuner", "trainers") if sys.version_info >= (3, 11) else ("trainers",)
    for package in decoys:
        (tmp_path / "elsewhere" / package).mkdir(parents=True)
        (tmp_path / "elsewhere" / package / "__init__.py").write_text(decoy)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "cache")],
                         capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True,
                         cwd=tmp_path / "elsewhere")
    assert not (tmp_path / "decoy-imported").exists()
    found = json.loads(out.stdout.strip().splitlines()[-1])
    workers = found["workers"]
    servers = {w["parent"] for w in workers}
    assert len(servers) == 1 and found["me"] not in servers  # forked by the server, not spawned
    # no task imported tomotopy: the server did, once, before forking
    assert all(w["tomotopy"] for w in workers)
    # the JIT cache is set, but nothing this sweep runs uses numba: no worker imported it
    assert not any(w["numba"] for w in workers)


def test_preload_leaves_out_libraries_that_compile_numba_code_at_import():
    assert preload_modules(["LDA", "ProdLDA"]) == [WORKER_MODULE, *SCORING_IMPORTS, "tomotopy",
                                                   "trainers.nets.prodlda"]
    # umap: after the JIT cache is set
    assert preload_modules(["BERTopic"]) == [WORKER_MODULE, *SCORING_IMPORTS]


def test_no_trainers_warm_imports_load_numba():
    """What the fork server imports must not compile numba code outside the JIT cache: a trainer
    lists such modules as `jit_imports`."""
    modules = preload_modules(sorted(registry()))  # every trainer's, as one sweep
    code = ("import sys; from tuner.engine.preload import import_all; "
            "failed = import_all(sys.argv[1:]); print(failed, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[] False"


def _variable(name: str) -> str | None:
    return os.environ.get(name)


def test_a_worker_sees_the_parents_environment_when_its_pool_was_made(monkeypatch):
    """The fork server keeps the environment it started with; each pool's workers get the
    parent's of the moment, as spawned workers did (e.g. $TUNER_TRAINERS set for one sweep)."""
    first = make_executor("process", 1)
    try:
        assert first.submit(_variable, "TUNER_TEST_MARK").result(timeout=120) is None
    finally:
        first.shutdown()
    monkeypatch.setenv("TUNER_TEST_MARK", "set later")
    second = make_executor("process", 1)
    try:
        assert second.submit(_variable, "TUNER_TEST_MARK").result(timeout=120) == "set later"
    finally:
        second.shutdown()


def test_a_module_that_fails_in_the_fork_server_is_left_to_the_workers(tmp_path, monkeypatch):
    """multiprocessing's own preload lets any error but ImportError kill the fork server, and
    with it every worker start; tuner's preload notes the failure and goes on."""
    (tmp_path / "broken_cuda_build.py").write_text("raise OSError('libcudnn.so.9: not found')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_all(["json", "broken_cuda_build", "no_such_module_anywhere"]) == [
        "broken_cuda_build", "no_such_module_anywhere"]


def test_a_pool_closed_while_its_workers_start_leaves_none_running(monkeypatch):
    """Precompute failed while the first worker was starting: every worker the starter thread
    made, before or after close(), ends up stopped, and close() returns once the pool's manager
    has closed its pipes (the exit handler of Python 3.11 raced it: an EBADF traceback after
    `tuner run`'s error, a CI run once)."""
    from tuner.engine import executors

    monkeypatch.setattr(executors, "REAP_WAIT_S", 120.0)  # a loaded host's imports
    pool = WarmPool(lambda: make_executor("process", 2, models=["LDA", "ProdLDA"]),
                    ["LDA", "ProdLDA"], 2)
    started = pool._first._processes  # type: ignore[union-attr]  # shutdown drops the pool's own
    deadline = time.monotonic() + 120
    while not started and time.monotonic() < deadline:  # the first worker is being started
        time.sleep(0.01)
    executor = pool._first
    pool.close()
    assert not pool._starting.is_alive()
    manager = executor._executor_manager_thread  # type: ignore[union-attr]
    assert manager is None or not manager.is_alive()
    processes = list(started.values())
    assert processes  # the starter had begun: there is something to stop
    for process in processes:
        process.join(timeout=30)
    assert not any(p.is_alive() for p in processes)


def test_only_the_server_its_parent_started_acts_on_the_preload_variable(tmp_path, monkeypatch):
    """The variable names the process that set it: a process that inherits it from anyone else
    keeps its own module path and imports nothing; the set-up's own child takes the path and
    gives the search variables back their earlier values."""
    code = ("import os, sys; import tuner.engine.preload; "
            "print(sys.path[0] == sys.argv[1], os.environ.get('PYTHONSAFEPATH'))")

    def started_with(parent: int) -> list[str]:
        variables = preload.server_environment([], [str(tmp_path), str(REPO)])
        wanted = json.loads(variables[preload.VARIABLE]) | {"parent": parent}
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                             text=True, timeout=120, check=True, cwd=tmp_path,
                             env={**os.environ, **variables, preload.VARIABLE: json.dumps(wanted)})
        return out.stdout.split()

    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.delenv("PYTHONSAFEPATH", raising=False)
    assert started_with(os.getpid()) == ["True", "None"]  # this process's child
    assert started_with(os.getpid() + 1_000_000) == ["False", "1"]  # set by another process


def test_the_server_finds_this_tuner_before_the_users_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/users/own")
    variables = preload.server_environment([], [])
    assert variables["PYTHONPATH"].split(os.pathsep) == [str(REPO), "/users/own"]
    assert variables["PYTHONSAFEPATH"] == "1"
    # installed into a site folder: found there, after the standard library
    monkeypatch.setattr(site, "getsitepackages", lambda: [str(REPO)])
    assert preload.server_environment([], [])["PYTHONPATH"] == "/users/own"


TEARDOWN_WITNESS = """
import atexit, os, pathlib
folder = pathlib.Path(os.environ["TUNER_TEST_FOLDER"])
atexit.register(lambda: (folder / "exit handlers ran").touch())


class Witness:  # a module global: the interpreter's teardown deletes it
    def __del__(self) -> None:
        (folder / "torn down").touch()


witness = Witness()
(folder / "loaded").touch()
"""


def _witness_env(folder: Path) -> dict[str, str]:
    (folder / "teardown_witness.py").write_text(TEARDOWN_WITNESS)
    return {**os.environ, "PYTHONPATH": f"{REPO}:{folder}", "TUNER_TEST_FOLDER": str(folder)}


def _has_exited(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] == "Z"
    except FileNotFoundError:
        return True


def test_the_fork_server_leaves_without_tearing_its_modules_down(tmp_path):
    """Once its parent has gone, the fork server runs its exit handlers, then leaves without
    unloading what it imported (about 0.9 s with torch loaded, after `tuner run` returned)."""
    plain, served = tmp_path / "plain", tmp_path / "served"
    plain.mkdir(), served.mkdir()
    subprocess.run([sys.executable, "-c", "import teardown_witness"], check=True, timeout=120,
                   cwd=plain, env=_witness_env(plain))
    assert (plain / "torn down").exists()  # the witness sees an ordinary interpreter's teardown
    code = ("import multiprocessing.forkserver as fs, pathlib, sys, time; "
            "from tuner.engine.executors import worker_context; "
            "worker_context(['teardown_witness']); print(fs._forkserver._forkserver_pid); "
            "deadline = time.monotonic() + 60\n"
            "while not pathlib.Path(sys.argv[1], 'loaded').exists() and time.monotonic() < "
            "deadline: time.sleep(0.01)")  # the server acts only while its parent is alive
    out = subprocess.run([sys.executable, "-c", code, str(served)], capture_output=True,
                         text=True, timeout=120, check=True, cwd=served, env=_witness_env(served))
    assert (served / "loaded").exists()
    server, deadline = int(out.stdout.split()[-1]), time.monotonic() + 60
    while not _has_exited(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _has_exited(server)
    assert (served / "exit handlers ran").exists()  # the modules' own handlers still run
    assert not (served / "torn down").exists()
