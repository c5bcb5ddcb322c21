"""What the fork server runs before it forks any pool worker (see
tuner.engine.executors.worker_context): import the modules named in $TUNER_FORK_SERVER_IMPORTS,
so that every worker starts with them loaded.

A module that fails to import here is left to the workers, which import it again in their warm-up
or fit and report the error there, as spawned workers did: multiprocessing's own preload stops
the fork server, and with it every worker start, on any error but ImportError (a torch build
missing a CUDA library raises OSError)."""

from __future__ import annotations

import importlib
import os

VARIABLE = "TUNER_FORK_SERVER_IMPORTS"


def import_all(names: str) -> list[str]:
    """Import each comma-separated module; the names of those that failed."""
    failed = []
    for name in filter(None, names.split(",")):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the worker meets it again and reports it
            failed.append(name)
    return failed


import_all(os.environ.get(VARIABLE, ""))
