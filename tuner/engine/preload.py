"""What the fork server runs before it forks any pool worker (see
tuner.engine.executors.worker_context): take the parent's module search path, then import the
modules the parent named, so that every worker starts with them loaded. Both come in
$TUNER_FORK_SERVER_IMPORTS, set while the server starts.

The path comes first because the fork server ignores the one it is given: a `trainers/`
or `torch.py` in the folder tuner runs from would otherwise shadow the real package in the
server, and so in every worker. This module itself is found before that: the server starts
with the working folder left off its path (PYTHONSAFEPATH) and this tuner's folder on it
(PYTHONPATH), so that a `tuner/` in the working folder (another checkout) is not the tuner the
server runs; it gives both variables back their values before it imports anything else. Python
3.10 has no PYTHONSAFEPATH, and `python -E` ignores both: there the working folder still comes
first for this one import.

A module that fails to import here is left to the workers, which import it again in their
warm-up or fit and report the error there, as spawned workers did: multiprocessing's own preload
stops the fork server, and with it every worker start, on any error but ImportError (a torch
build missing a CUDA library raises OSError)."""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import multiprocessing.util
import os
import site
import sys
from collections.abc import Sequence
from pathlib import Path

from tuner.devices import restore_environment

VARIABLE = "TUNER_FORK_SERVER_IMPORTS"
SEARCH_VARIABLES = ("PYTHONPATH", "PYTHONSAFEPATH")


def server_environment(modules: Sequence[str], path: Sequence[str]) -> dict[str, str]:
    """The variables the fork server the calling process is about to start needs: what to import
    and the parent's path (VARIABLE), and the search variables that find this module."""
    restore = {name: os.environ.get(name) for name in SEARCH_VARIABLES}
    wanted = {"modules": list(modules), "path": list(path), "parent": os.getpid(),
              "restore": restore}
    users = restore["PYTHONPATH"]
    search = [*_own_root(), *([users] if users else [])]
    return {VARIABLE: json.dumps(wanted), "PYTHONSAFEPATH": "1",
            "PYTHONPATH": os.pathsep.join(search)}


def _own_root() -> list[str]:
    """The folder this tuner package is in, unless it is a site folder (an installed tuner),
    which the server's path holds anyway, after the standard library."""
    root = Path(__file__).resolve().parents[__name__.count(".")]  # tuner/engine/preload.py
    site_folders = {Path(folder).resolve()
                    for folder in [*site.getsitepackages(), site.getusersitepackages()]}
    return [] if root in site_folders else [str(root)]


def import_all(modules: Sequence[str]) -> list[str]:
    """Import each module; the names of those that failed. A plug-in trainer imported here
    has its files read now, as its workers will key it (trainers.plugin_source)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the worker meets it again and reports it
            failed.append(name)
    if "trainers" in sys.modules:
        try:
            sys.modules["trainers"].remember_plugin_sources()
        except Exception:  # noqa: BLE001 - a plug-in that fails to load fails its trials
            pass
    return failed


def _preload(value: str) -> None:
    """Act only in the process the variable was set for: this module is also imported by the
    parent (tuner.engine.executors), and a variable left in an environment must not rewrite
    another process's path."""
    if not value:
        return
    wanted = json.loads(value)
    if wanted.get("parent") != os.getppid():
        return
    _exit_last_without_teardown()
    _leave_with(int(wanted["parent"]))
    restore_environment(wanted.get("restore", {}))  # workers and what they start see the user's
    sys.path[:] = wanted["path"]
    # Imports without the cyclic collector, then everything frozen before the first fork (as
    # Python's documentation of gc.freeze advises): workers' collections skip torch's and the
    # trainers' objects and leave their pages shared. Every child turns the collector back on;
    # the server itself never runs anything else.
    gc.disable()
    os.register_at_fork(after_in_child=gc.enable)
    import_all(wanted["modules"])
    gc.freeze()


def _leave_with(parent: int) -> None:
    """End the fork server once the sweep's process is gone, from a thread of its own. The
    server would otherwise stay while any worker lives (each worker holds the pipe whose end
    tells the server its parent is gone), and a worker in a tomotopy fit holds its
    interpreter's lock, so its own watch cannot run: after a SIGKILL of `tuner run`, LDA
    workers at K=50 lived on 15 s at 1,500 iterations and 39 s at 4,000 (concurrency audit of
    2026-12-05). Its workers ask the kernel to kill them when it ends (worker.init_worker)."""
    from tuner.processes import leave_when_gone

    leave_when_gone(parent, 0)


_SERVER: int | None = None  # the fork server's pid, once it has preloaded


def _exit_last_without_teardown() -> None:
    """Make the fork server leave, once its parent has gone, without unloading torch and the rest:
    about 0.9 s after `tuner run` has returned (measured on 2 cores), beside whatever runs next.
    Registered before the preload's imports, so the handlers those register run first;
    multiprocessing's own, registered when it was imported, is moved after this one."""
    global _SERVER
    _SERVER = os.getpid()
    last = multiprocessing.util._exit_function  # type: ignore[attr-defined]  # not in typeshed
    atexit.unregister(last)
    atexit.register(_exit_without_teardown)
    atexit.register(last)


def _exit_without_teardown() -> None:
    if os.getpid() != _SERVER:
        return  # a worker inherits the server's handlers and leaves its own way (worker._exit_now)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


_preload(os.environ.get(VARIABLE, ""))
