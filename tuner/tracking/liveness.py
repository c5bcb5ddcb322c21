"""Whether the sweep that opened a run is still alive, read from its run's tags.

On this host a sweep's process says so: its pid, and when that process started (a killed sweep's
pid given to another process must not keep its runs). Another host's processes cannot be asked,
so a sweep on a store other hosts reach (an MLflow server, PostgreSQL) beats a heartbeat tag
on its run every HEARTBEAT_S, and one not heard from for SILENT_AFTER_S has died: a second
machine sweeping the same experiment would otherwise take the first's live runs for a dead
sweep's, mark them FAILED and run every trial again beside it. A beating sweep of this host
must beat too: a long-lived `tuner serve` whose sweep run could not be ended lives on."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from tuner.errors import SweptElsewhereError
from tuner.processes import process_alive, process_started
from tuner.tracking.tags import BEATS_TAG, HEARTBEAT_TAG, HOST_TAG, PID_TAG, STARTED_TAG

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0
# Six beats missed, and room for two hosts' clocks a minute apart: a sweep that died on another
# host holds its experiment this long, one killed on this host not at all (its pid says).
SILENT_AFTER_S = 180.0


def sweep_tags(pid: int, beats: bool) -> dict[str, str]:
    """The tags that tell a sweep's liveness, as its run opens; `beats`: it will beat."""
    started = process_started(pid)
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), HEARTBEAT_TAG: _now(),
            **({STARTED_TAG: started} if started is not None else {}),
            **({BEATS_TAG: f"{HEARTBEAT_S:g}"} if beats else {})}


def swept_elsewhere_error(experiment: str, other: str) -> SweptElsewhereError:
    """The error of a sweep refused because `other` (Tracker.swept_elsewhere) runs."""
    return SweptElsewhereError(
        f"experiment '{experiment}' is being swept by another machine on this tracking store "
        f"({other}); wait for it to end, or run every sweep of this store from one machine, "
        "where they queue; no trial was started")


def sweep_alive(tags: Mapping[str, str]) -> bool:
    """Whether the sweep whose run has `tags` still runs. On this host: its process (not this
    one: a sweep of this process that is over cannot be alive, each experiment runs one sweep
    at a time), heard from within SILENT_AFTER_S if it beats (BEATS_TAG). On another host: a
    sweep that beats, heard from within SILENT_AFTER_S; one that does not (a local store's, or
    an older tuner's) cannot be told alive."""
    silent = silent_for(tags)
    heard = silent is not None and silent <= SILENT_AFTER_S
    if tags.get(HOST_TAG) == socket.gethostname():
        return _process_alive(tags.get(PID_TAG), tags.get(STARTED_TAG)) and \
            (heard or BEATS_TAG not in tags)
    return heard and BEATS_TAG in tags


def silent_for(tags: Mapping[str, str]) -> float | None:
    """Seconds since the sweep's last heartbeat; None if it never beat."""
    try:
        return max(0.0, time.time() - float(tags[HEARTBEAT_TAG]))
    except (KeyError, ValueError):
        return None


def _process_alive(pid: str | None, started: str | None) -> bool:
    """`pid` runs, is not this process and, where the sweep noted when its process started,
    is that process (after a reboot, or once pids wrap, the pid may be another's)."""
    if not pid or not pid.isdigit() or int(pid) == os.getpid() or not process_alive(int(pid)):
        return False
    now = process_started(int(pid))
    return started is None or now is None or now == started


@contextmanager
def beating(beat: Callable[[str], None]) -> Iterator[None]:
    """Call `beat(now)` every HEARTBEAT_S seconds from a thread while the block runs. A beat
    that fails (the store is down a moment) is skipped: the next may pass, and a sweep whose
    store stays down stops on its own writes."""
    stop, every_s = threading.Event(), HEARTBEAT_S

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                beat(_now())
            except Exception as err:  # logged; the next beat tries again
                log.debug("the sweep's heartbeat was not written: %s", err)

    thread = threading.Thread(target=loop, name="tuner-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()  # a beat in flight may wait on the store's retries: not joined


def _now() -> str:
    return str(int(time.time()))
