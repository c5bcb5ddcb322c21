"""A process's resident memory, now and at its peak (Linux /proc; None elsewhere)."""

from __future__ import annotations

import os
import re

_PEAK = re.compile(r"^VmHWM:\s+(\d+)\s+kB", re.MULTILINE)


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB; None where unavailable."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak() -> bool:
    """Start this process's peak resident memory again from what it holds now (Linux 4.0+);
    False where that is not possible, and the peak then covers the process's whole life."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_mb() -> float | None:
    """This process's peak resident memory in MB since it started or since `reset_peak`."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            found = _PEAK.search(handle.read())
    except OSError:
        return None
    return int(found.group(1)) / 1024 if found else None
