"""Helpers shared by the benchmark scripts: the bundled corpus, grids, machine facts."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The benches time tuner's own numba cache (`<cache>/numba`, empty or warm): a machine-wide
# NUMBA_CACHE_DIR, which tuner's workers would use instead, would make every sweep warm.
os.environ.pop("NUMBA_CACHE_DIR", None)

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "datasets" / "20ng-mini" / "corpus.jsonl"


def command_line(doc: str | None, *optional: tuple[str, Any, str]) -> argparse.Namespace:
    """A bench script's arguments: `--help` prints its docstring; each of `optional` is a
    positional argument (name, default, help) that may be left out, typed as its default."""
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default, text in optional:
        kind = Path if isinstance(default, Path) else type(default)
        parser.add_argument(name, nargs="?", type=kind, default=default,
                            help=f"{text} (default {default})")
    return parser.parse_args()


def optional_package(module: str, install: str) -> Any:
    """A package a bench compares with but tuner does not depend on, or an exit that says how
    to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"this bench needs {module}: pip install {install}") from None


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def write_grid(folder: Path, **fields: object) -> Path:
    grid: dict[str, object] = {
        "experiment": "bench", "dataset": {"path": str(CORPUS), "language": "en"},
        "models": ["lda"], "params": {}, "seeds": [1],
        # documents embedded by their start, as every round before `long_documents` measured
        "embedding": {"model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean",
                      "long_documents": "start"},
        # The workload every round measured before max_df's default became 0.7 (2026-12-01),
        # so the figures compare across rounds (0.7 keeps more words: the 16-trial bench's
        # one-thread sum of fits was 18.1 s at 0.7 and 17.5 s at 0.5).
        "preprocessing": {"max_df": 0.5}}
    grid.update(fields)
    path = folder / "grid.json"
    path.write_text(json.dumps(grid), encoding="utf-8")
    return path


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="tuner-bench-"))


def memory_mb(pid: int) -> tuple[float, float]:
    """A process's resident and private (shared with no other process) memory, in MB, from
    /proc/PID/smaps_rollup (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":")
        fields[name] = float(value.split()[0]) / 1024
    return fields["Rss"], fields["Private_Clean"] + fields["Private_Dirty"]


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def adopt_orphans() -> None:
    """Make this process a subreaper (Linux): a process a command leaves behind (a fork server,
    its workers) is reparented here instead of to init, so run_accounted can wait for it and
    count its CPU time."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


@dataclass(frozen=True)
class Accounted:
    wall: float  # the command's own process, start to exit
    own_cpu: float  # its user + system CPU seconds, with the children it waited for itself
    tree_cpu: float  # every process it started, waited for here once it had exited
    stdout: str


def run_accounted(command: Sequence[str], **popen: Any) -> Accounted:
    """Run `command` to its end, then wait for what it left running (call adopt_orphans first)
    and count the CPU time of its whole process tree. Raises CalledProcessError on failure."""
    ours = _children()  # e.g. multiprocessing's resource tracker: not the command's
    before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, **popen)
    out, err = process.communicate()
    wall = time.perf_counter() - started
    own = _children_cpu() - before
    _wait_for_orphans(ours)
    if process.returncode != 0:
        if err:  # captured (a caller that keeps a command's warnings quiet): say why it failed
            sys.stderr.write(err if isinstance(err, str) else err.decode(errors="replace"))
        raise subprocess.CalledProcessError(process.returncode, command, out, err)
    return Accounted(wall, own, _children_cpu() - before, out or "")


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _children() -> set[int]:
    """This process's children, from /proc (Linux, with CONFIG_PROC_CHILDREN)."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except FileNotFoundError:  # the thread has just ended
            continue
    return found


ORPHANS_DEADLINE_S = 120.0


def _wait_for_orphans(ours: set[int]) -> None:
    """Wait until every child but `ours` has exited (an orphan's own orphans come here too);
    kill what is left after ORPHANS_DEADLINE_S and say so."""
    deadline = time.monotonic() + ORPHANS_DEADLINE_S
    while left := _children() - ours:
        if time.monotonic() > deadline:
            for pid in left:
                os.kill(pid, 9)
            raise RuntimeError(f"processes {sorted(left)} outlived the command by "
                               f"{ORPHANS_DEADLINE_S:.0f} s; killed")
        for pid in left:
            try:
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    time.sleep(0.01)
            except ChildProcessError:
                pass
