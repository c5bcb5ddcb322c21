"""What the fork server runs before it forks any pool worker (see
tuner.engine.executors.worker_context): take the parent's module search path, then import the
modules the parent named, so that every worker starts with them loaded. Both come in
$TUNER_FORK_SERVER_IMPORTS, set while the server starts.

The path comes first because Python 3.11's fork server ignores the one it is given: a `trainers/`
or `torch.py` in the folder tuner runs from would otherwise shadow the real package in the
server, and so in every worker. A module that fails to import here is left to the workers, which
import it again in their warm-up or fit and report the error there, as spawned workers did:
multiprocessing's own preload stops the fork server, and with it every worker start, on any error
but ImportError (a torch build missing a CUDA library raises OSError)."""

from __future__ import annotations

import atexit
import importlib
import json
import os
import sys
from collections.abc import Sequence

VARIABLE = "TUNER_FORK_SERVER_IMPORTS"


def encode(modules: Sequence[str], path: Sequence[str]) -> str:
    """The variable's value, for the fork server the calling process is about to start."""
    return json.dumps({"modules": list(modules), "path": list(path), "parent": os.getpid()})


def import_all(modules: Sequence[str]) -> list[str]:
    """Import each module; the names of those that failed."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the worker meets it again and reports it
            failed.append(name)
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
    atexit.register(_exit_without_teardown)  # first, so that it runs last
    sys.path[:] = wanted["path"]
    import_all(wanted["modules"])


def _exit_without_teardown() -> None:
    """The fork server's last exit handler: it leaves once its parent has gone, and unloading
    torch and the rest would take about 1 s of CPU (measured on 2 cores) after `tuner run` has
    returned, beside whatever runs next. Its workers never run it: they leave by os._exit."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(0)


_preload(os.environ.get(VARIABLE, ""))
