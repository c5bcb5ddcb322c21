"""A command's start-up imports without the cyclic garbage collector.

Importing tuner, MLflow and SQLAlchemy creates about 440,000 objects the collector tracks and
almost no garbage (a full collection afterwards freed 3,800 of them). While they are created the
collector runs again and again over the growing heap: `tuner run`'s imports and store set-up
took 2.3 CPU s with it and 1.8 s without (medians of six, 2 cores). Once the imports are done,
`gc.freeze()` moves everything alive to the permanent generation, so later collections skip it:
a full collection over that heap took 0.25 s, and after the freeze under a millisecond.

The pattern is the one Python's documentation gives for `gc.freeze`: disable early, freeze when
the long-lived objects exist (before forking, in the fork server), enable again. Only the
start-up runs paused (imports, and `tuner run`'s validation of its grid): a model download, the
store's opening and the sweep itself run with the collector, and only a command that ends with
its sweep freezes (never `tuner serve`, whose objects may become garbage long after).

Also here, as it must run before the first worker starts: the warning filter of
multiprocessing's resource tracker (quiet_resource_tracker).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_paused = False


def pause_collection() -> None:
    """Stop the cyclic collector until `resume_collection`."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collection() -> None:
    """Freeze what the start-up imported and collect again; a no-op unless `pause_collection`
    stopped the collector (so a long-running process, such as `tuner serve`, never freezes)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


@contextmanager
def imports_without_collection() -> Iterator[None]:
    """Run a block of imports without the cyclic collector, freezing nothing: a worker's warm-up
    (UMAP, HDBSCAN and bertopic for BERTopic: 6.1 CPU s with the collector, 4.2 s without,
    medians of three) may come after it has run trials and holds their data."""
    if not gc.isenabled():  # the caller paused it and will resume it
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# multiprocessing's resource tracker frees the semaphores of the workers kill_workers stops, and
# says "There appear to be 2 leaked semaphore objects to clean up at shutdown" after a Ctrl-C that
# stopped the sweep cleanly. It is started with the warning options of the process that starts it;
# the filter matches its messages alone.
TRACKER_WARNINGS = "ignore:resource_tracker:UserWarning"


def quiet_resource_tracker() -> None:
    """Have the resource tracker, once started, keep its leaked-semaphore warning to itself
    (call before the first worker pool or fork server starts it)."""
    if TRACKER_WARNINGS not in sys.warnoptions:
        sys.warnoptions.append(TRACKER_WARNINGS)
