"""Per-trial time and memory limits: the worker running a trial past either is killed."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from tuner.engine.memory import rss_mb
from tuner.engine.triage import failed
from tuner.engine.worker import read_started
from tuner.processes import process_alive
from tuner.trial import TrialError, TrialRecord, TrialStatus


@dataclass(frozen=True)
class Limits:
    """Per-trial limits; None means unlimited."""

    timeout_s: float | None = None
    max_memory_mb: float | None = None


class Watchdog:
    """Watches the trials in flight through the marker files their workers write
    (`started_dir/<trial key>` = "pid start-time"); owns that folder and removes it on close."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        _remove_orphaned_folders()
        self.started_dir = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        self.killed: dict[str, TrialError] = {}  # trial key -> why its worker was killed
        self._killed_start: dict[str, tuple[int, float]] = {}  # the (pid, start) it killed

    def check(self, keys: Iterable[str]) -> None:
        """Kill the worker of every trial in `keys` that is past a limit. A trial started again
        after its worker was killed (a cluster that reruns the tasks of a lost worker) is
        watched again."""
        for key in keys:
            started = read_started(self.started_dir, key)
            if started is None or self._killed_start.get(key) == started:
                continue
            pid, since = started
            if not process_alive(pid):  # left by a dead worker; the retry's worker writes anew
                continue
            reason = self._exceeded(pid, time.time() - since)
            if reason is not None:
                self.killed[key], self._killed_start[key] = reason, started
                _kill(pid)

    def forget(self, keys: Iterable[str]) -> None:
        """The pool broke under these trials: their workers are gone, and their markers and
        verdicts with them. Otherwise a retry reads its dead worker's marker as its own (past
        the time limit at once), is counted killed without anything dying, and is never watched
        again: its hang holds the sweep for ever."""
        for key in keys:
            self.killed.pop(key, None)
            self._killed_start.pop(key, None)
            (self.started_dir / key).unlink(missing_ok=True)

    def held_to_limits(self, record: TrialRecord) -> TrialRecord:
        """`record`, or a FAILED one if its worker's peak memory during the trial passed
        --max-memory: the check above samples, and a trial that ends between two samples passes
        any limit (a 0.2 s LDA fit under 1 MB), so whether a trial fails would depend on timing.
        A re-scored fit's peak was its own sweep's to hold."""
        limit = self.limits.max_memory_mb
        peak = record.metrics.get("peak_memory_mb")
        if (limit is None or peak is None or peak <= limit
                or record.status is TrialStatus.FAILED or record.rescored_from is not None):
            return record
        return replace(failed(record.spec, TrialError(
            "OutOfMemory", f"out of memory: the worker's resident memory peaked at {peak:.0f} MB "
            f"during the trial, more than --max-memory {limit:g} MB", "")),
            threads=record.threads, worker=record.worker)

    def close(self) -> None:
        shutil.rmtree(self.started_dir, ignore_errors=True)

    def _exceeded(self, pid: int, elapsed: float) -> TrialError | None:
        timeout = self.limits.timeout_s
        if timeout is not None and elapsed > timeout:
            return TrialError("TrialTimeout", f"timeout: still running after {timeout:g} s; "
                              "its worker was stopped", "")
        limit = self.limits.max_memory_mb
        rss = rss_mb(pid) if limit is not None else None
        if limit is not None and rss is not None and rss > limit:
            return TrialError("OutOfMemory", f"out of memory: the worker used {rss:.0f} MB, "
                              f"more than --max-memory {limit:g} MB; it was stopped", "")
        return None


PREFIX = "tuner-inflight-"


def _remove_orphaned_folders() -> None:
    """Remove the marker folders of sweeps whose process is gone: one killed with SIGKILL never
    ran `close`, and its folder stayed in the temporary folder for ever."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        owner = folder.name.removeprefix(PREFIX).split("-", 1)[0]
        if owner.isdigit() and not process_alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # gone, or its pid reused by another user
        pass

