"""Processes on this host: whether one is alive, which one a pid is, and a fast exit."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

SignalHandler = Callable[[int, object], None]
PARENT_CHECK_S = 2.0  # how often a watch asks whether the process it serves is alive


def process_alive(pid: int, owned: bool = False) -> bool:
    """Whether process `pid` exists (with `owned`, as one this user may signal: another user's
    process under a reused pid is not the one we watch)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not owned
    return True


def process_started(pid: int) -> str | None:
    """Which process `pid` is: this boot's id and the clock ticks after boot at which it
    started (Linux's /proc); None where that cannot be read. A pid is reused once pids wrap or
    after a reboot; this pair is not."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        ticks = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        return f"{boot}:{ticks[19]}"  # field 22, starttime: the 20th after the command's ")"
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def exit_fast(code: int) -> NoReturn:
    """Run the exit handlers (logging's, multiprocessing's finalizers, libraries'), flush the
    standard streams, then leave without tearing the interpreter down: unloading torch, MLflow
    and the rest takes 1 to 2 s on 2 CPU cores, which every command and pool worker would
    otherwise pay after its work is committed."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with the stream closed (`>&-` in cron)
                stream.flush()
        except (OSError, ValueError):  # a reader that left (`| head`), a closed stream
            pass
    os._exit(code)


@contextmanager
def signals_handled(handler: SignalHandler,
                    signums: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[bool]:
    """`handler` for `signums` while the block runs, the handlers before it after. Signals reach
    the main thread alone: elsewhere (a sweep the HTTP service runs) nothing is set, and it
    yields False."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield True
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


def leave_when_gone(parent: int, code: int) -> None:
    """From a daemon thread, end this process with `code` (no clean-up) once process `parent`
    is gone: a `tuner run` or `tuner serve` killed with SIGKILL (the OOM killer, `timeout -s
    KILL` around a cron job) runs no clean-up, and its workers and fork server, about 260 MB
    each, would otherwise wait for work for ever."""
    import time

    def watch() -> None:
        while process_alive(parent, owned=True):
            time.sleep(PARENT_CHECK_S)
        os._exit(code)

    threading.Thread(target=watch, name="tuner-parent-watch", daemon=True).start()
