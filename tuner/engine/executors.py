"""Where trials run: a stdlib Executor over thread-capped worker processes forked from a fork
server, or the same interface on a Dask cluster (`Client.get_executor(pure=False)`)."""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.spawn
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, TypeVar

from trainers import load_trainer
from tuner.devices import environment, usable_cores
from tuner.engine import preload as preload_imports
from tuner.engine.jit import CACHE_VARIABLE
from tuner.engine.worker import SCORING_IMPORTS, init_worker, warm_up
from tuner.errors import TunerError

log = logging.getLogger(__name__)
T = TypeVar("T")

EXECUTOR_KINDS = ("process", "dask")
JIT_FOLDER = "numba"


def threads_per_worker(max_workers: int, requested: int | None = None) -> int:
    """Native threads for each worker's fit: `requested` (`--threads-per-worker`), else the
    usable cores shared out, at least one."""
    return requested if requested is not None else max(1, usable_cores() // max_workers)


def make_executor(kind: str, max_workers: int, scheduler: str | None = None,
                  memory_limit_mb: float | None = None, cache_dir: Path | None = None,
                  threads: int | None = None, models: Sequence[str] = ()) -> Executor:
    """A process pool (workers from a fork server, see worker_context, with native threads
    capped so `max_workers` workers share the cores) or a Dask executor: on the cluster at
    `scheduler`, else on a local cluster of `max_workers` single-threaded worker processes. With
    `cache_dir`, workers keep compiled numba code in `<cache_dir>/numba`, or in NUMBA_CACHE_DIR
    when it is set (see jit_folder and tuner.engine.jit).
    `threads`: native threads per worker (default: the cores shared out, see threads_per_worker).
    `models`: the sweep's, whose libraries the fork server imports once for all workers."""
    threads = threads_per_worker(max_workers, threads)
    jit_cache = jit_folder(cache_dir)
    if kind == "dask":
        return DaskExecutor(max_workers, scheduler, memory_limit_mb, jit_cache, threads)
    if kind != "process":
        raise TunerError(f"--executor expects one of {'/'.join(EXECUTOR_KINDS)}; got {kind!r}")
    context = worker_context(preload_modules(models))
    slot_counter = context.Value("i", 0)
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=context,
                               initializer=init_worker,
                               initargs=(threads, slot_counter, jit_cache, True,
                                         parent_environment(), os.getpid()))


def jit_folder(cache_dir: Path | None) -> str | None:
    """Where workers keep compiled numba code: the user's own NUMBA_CACHE_DIR when it is set
    (numba's variable, so one folder can serve every cache folder of a machine), else
    `<cache_dir>/numba`."""
    if os.environ.get(CACHE_VARIABLE):
        return str(Path(os.environ[CACHE_VARIABLE]).resolve())
    return str(Path(cache_dir).resolve() / JIT_FOLDER) if cache_dir is not None else None


WORKER_MODULE = "tuner.engine.worker"


def worker_context(preload: Sequence[str] = (WORKER_MODULE,)) -> BaseContext:
    """Where pool workers come from. On Linux, a fork server: one process imports tuner's worker
    code and `preload` once, and each worker is forked from it, so that N workers do not each
    import torch (1.4 s of CPU each, beside the parent's own start-up, on a 2-core machine; see
    bench/worker_start.py). The server never runs a fit, so no torch, BLAS or numba thread has
    worked in it when it forks (the hang that rules out plain fork). Linux only: on macOS, forking
    after Accelerate or libdispatch have loaded is unsafe (why Python spawns there), and Windows
    has no fork; both spawn.

    The server is one per parent process and starts with its first pool: `preload` counts for
    that pool only, and later pools import what else they need in their workers."""
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload_imports.__name__])
    with _SERVER_START:
        path = multiprocessing.spawn.get_preparation_data("")["sys_path"]  # '' made absolute
        with environment(preload_imports.server_environment(preload, path)):
            multiprocessing.forkserver.ensure_running()  # started now, so it sees the variable
    return context


_SERVER_START = threading.Lock()  # `tuner serve` makes pools from its sweeps' threads


def parent_environment() -> dict[str, str]:
    """The environment workers get: never read while another thread starts the fork server
    with its own search variables set (see preload.server_environment)."""
    with _SERVER_START:
        return dict(os.environ)


def preload_modules(models: Sequence[str]) -> list[str]:
    """What the fork server imports for a sweep of `models`: tuner's worker code, what scoring
    needs, and the trainers' `warm_imports` (never their `jit_imports`, which compile numba
    code). Once in the server rather than once per worker: 0.25 to 0.35 s of CPU per worker for
    scoring's import alone (measured after torch), beside the parent's start-up on 2 cores."""
    modules = [WORKER_MODULE, *SCORING_IMPORTS]
    for model in models:
        modules += [m for m in load_trainer(model).warm_imports if m not in modules]
    return modules


class WarmPool:
    """An executor factory whose first executor starts now: its workers start and import the
    sweep's heavy libraries while the parent validates and precomputes. Later calls (after a
    pool break) make fresh executors."""

    def __init__(self, make: Callable[[], Executor], models: Sequence[str], workers: int) -> None:
        self._make = make
        self._first: Executor | None = make()
        self._lock = threading.Lock()
        self._closing = self._started = False
        # Starting a worker waits for the fork server's imports (submit holds the pool's lock
        # meanwhile): off the parent's thread.
        self._starting = threading.Thread(target=self._warm_up, args=(self._first, models, workers),
                                          name="start-workers", daemon=True)
        self._starting.start()

    def _warm_up(self, executor: Executor, models: Sequence[str], workers: int) -> None:
        try:
            for _ in range(workers):
                if self._closing:
                    break
                executor.submit(warm_up, tuple(models))
        except Exception as err:  # shut down, broken, or the fork server died while importing:
            log.debug("starting the workers early failed: %s", err)  # the sweep's submit meets it
        finally:
            with self._lock:  # whichever of this thread and close() comes second stops the pool
                self._started, closing = True, self._closing
            if closing:
                _stop_early(executor)

    def __call__(self) -> Executor:
        if self._first is None:
            return self._make()
        self._starting.join()
        first, self._first = self._first, None
        return first

    def close(self) -> None:
        """Stop the early executor if no sweep took it (precompute failed), now or, if its
        workers are still starting, as soon as the last has (waited for, up to REAP_WAIT_S: the
        fork server's imports, a second or two; stopped by that thread as the process exited,
        the pool raced the exit handler, see _stop_early); a pool lent by a SharedPool stays
        warm for the next sweep."""
        if self._first is None:
            return
        with self._lock:
            self._closing, started = True, self._started
        if started:
            _stop_early(self._first)
        else:
            self._starting.join(REAP_WAIT_S)
        self._first = None


def _stop_early(executor: Executor) -> None:
    """Kill the workers (they may be importing torch: not waited for), then let the pool's
    manager thread see them gone and close its pipes before the process exits: Python 3.11's
    exit handler wakes every manager through a pipe whose `_closed` flag it reads without a
    lock, and a manager closing it in that moment made `tuner run` end in an EBADF traceback
    after its own error (a CI run, once)."""
    if not isinstance(executor, LentExecutor):
        kill_workers(executor)
        executor.shutdown(wait=False, cancel_futures=True)
        if isinstance(executor, ProcessPoolExecutor):
            _join_manager(executor)


class SharedPool:
    """One process pool lent to sweep after sweep by a long-running service (`tuner serve`), so
    its workers stay warm between sweeps: libraries imported, compiled code loaded, data files
    memo-ised. A sweep gets a LentExecutor: its `shutdown` leaves the pool running; a pool that
    broke, or whose workers a sweep killed (a time limit, a stop), is replaced at the next lend.
    For sweeps one after another only: a sweep that kills the pool's workers would break the
    trials of another sweep running beside it."""

    def __init__(self, make: Callable[[], Executor]) -> None:
        self._make = make
        self._pool: Executor | None = None
        self._lock = threading.Lock()

    def lend(self) -> LentExecutor:
        with self._lock:
            if self._pool is None or getattr(self._pool, "_broken", False):
                self._pool = self._make()
            return LentExecutor(self._pool, self)

    def retire(self, pool: Executor) -> None:
        """`pool`'s workers were killed: the next lend starts a fresh one."""
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            kill_workers(pool)
            pool.shutdown(wait=False, cancel_futures=True)


class LentExecutor(Executor):
    """A SharedPool's executor as one sweep sees it."""

    def __init__(self, pool: Executor, owner: SharedPool) -> None:
        self.pool, self.owner = pool, owner

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The pool outlives the sweep (its futures are all done or abandoned by now)."""

    def kill(self) -> None:
        kill_workers(self.pool)
        self.owner.retire(self.pool)


def worker_exits(executor: Executor | None) -> dict[int, str]:
    """How a pool's worker processes that have ended did end (pid -> "killed by SIGSEGV",
    "exit code 0"), a broken pool's once it has joined them; {} for a Dask cluster, whose workers
    are the cluster's."""
    if isinstance(executor, LentExecutor):
        return worker_exits(executor.pool)
    if not isinstance(executor, ProcessPoolExecutor):
        return {}
    _wait_until_reaped(executor)
    ended = {}
    for pid, process in list((executor._processes or {}).items()):
        code = process.exitcode
        if code is not None:
            ended[pid] = f"killed by {_signal_name(-code)}" if code < 0 else f"exit code {code}"
    return ended


REAP_WAIT_S = 10.0


def _wait_until_reaped(executor: ProcessPoolExecutor) -> None:
    """Let a broken pool's manager thread join its workers first (up to REAP_WAIT_S), so that
    their exit codes are read, not raced for: a forked-from-server worker's code is read once
    from a pipe, and a second thread polling it at the same time reads the pipe's end and takes
    255 (CPython's popen_forkserver), which a loaded CI run once reported for an aborted worker.
    A healthy pool's manager never ends: it is not waited for."""
    if getattr(executor, "_broken", False):
        _join_manager(executor)


def _join_manager(executor: ProcessPoolExecutor) -> None:
    """Wait up to REAP_WAIT_S for the pool's manager thread to end, unless this is it."""
    manager = getattr(executor, "_executor_manager_thread", None)
    if manager is not None and manager is not threading.current_thread():
        manager.join(REAP_WAIT_S)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def kill_workers(executor: Executor) -> None:
    """Kill this executor's own worker processes, and no other (sweeps run by `tuner serve`
    share one parent process). A Dask cluster's workers are the cluster's to manage."""
    if isinstance(executor, LentExecutor):
        executor.kill()
    elif isinstance(executor, ProcessPoolExecutor):
        for process in list((executor._processes or {}).values()):
            process.kill()


CONNECT_S = 30.0  # for a scheduler to answer
WORKERS_WAIT_S = 30.0  # for a scheduler with no worker to get one


def connect_scheduler(scheduler: str, timeout: float = CONNECT_S) -> Any:
    """A client of the Dask scheduler at `scheduler`, or a TunerError saying why not within
    `timeout` (and a few seconds more). Client's own timeout never fires on a port that accepts
    connections but speaks no Dask (the scheduler's dashboard), where the sweep would wait for
    ever; a malformed address would end in a traceback, exit 1. Whatever
    fails is that one error (a server that speaks first, ssh's, reads as a frame of exabytes:
    a MemoryError); a client made after the deadline is closed."""
    from distributed import Client

    found: dict[str, Any] = {}
    abandoned = threading.Event()

    def connect() -> None:
        try:
            client = started(lambda: Client(scheduler, timeout=timeout))
        except BaseException as err:  # handed to the caller's thread, whatever it is
            found["error"] = err
            return
        if abandoned.is_set():
            client.close()
        else:
            found["client"] = client

    thread = threading.Thread(target=connect, name="tuner-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout + 10)
    if thread.is_alive():
        abandoned.set()
        raise TunerError(f"--scheduler {scheduler}: nothing there answered as a Dask scheduler "
                         f"within {timeout + 10:.0f} s (a dashboard's port, not the "
                         "scheduler's?)")
    err = found.get("error")
    if isinstance(err, (KeyboardInterrupt, TunerError)):
        raise err
    if err is not None or "client" not in found:
        raise TunerError(f"--scheduler {scheduler}: no Dask scheduler answers there "
                         f"({type(err).__name__}: {err})") from err
    return found["client"]


def started(make: Callable[[], T]) -> T:
    """`make()` (a Dask Client or LocalCluster), made once more if its event loop did not start
    within Dask's own 10 s: distributed's LoopRunner then fails an assertion (a loaded host; a CI
    run, once). Dask keeps no handle on the first attempt's loop, which starts late and idles in
    a daemon thread until the process ends. Failing twice is a TunerError that says so (it read
    as "no Dask scheduler answers there", of a scheduler that answered)."""
    for attempt in (1, 2):
        try:
            return make()
        except AssertionError as err:
            if not _loop_start_failed(err):
                raise
            if attempt == 2:
                raise TunerError("Dask's event loop did not start within its 10 s, twice: this "
                                 "machine is too busy to start a Dask client now; try again "
                                 "when it is less loaded") from err
    raise AssertionError("unreachable")


def _loop_start_failed(err: AssertionError) -> bool:
    """Whether `err` is distributed's LoopRunner giving up on its event loop."""
    frame = err.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_code.co_name == "_start_unlocked"


def _wait_for_workers(client: Any, scheduler: str, timeout: float | None = None) -> None:
    """A scheduler with no worker takes the sweep's trials and runs none, for ever: wait
    `timeout` (WORKERS_WAIT_S) for one, then say so."""
    timeout = WORKERS_WAIT_S if timeout is None else timeout
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as err:
        client.close()
        raise TunerError(f"--scheduler {scheduler}: the scheduler has no worker (waited "
                         f"{timeout:.0f} s); start workers with `dask worker {scheduler}`, "
                         "then run the sweep again") from err


def _quiet_on_stopped_workers(record: logging.LogRecord) -> bool:
    """Drops the local scheduler's ERROR line on a task whose worker died. tuner stops a worker
    to end a trial past its time or memory limit, and records every such trial's failure with
    its cause (TrialTimeout, memory, "worker died: ..."): the line reads as a crash beside an
    ordinary timeout."""
    return "workers died while trying to run it" not in record.getMessage()


class DaskExecutor(Executor):
    """`submit` + `shutdown` on a Dask client; owns the local cluster it starts.

    Trials are submitted with pure=False (Dask never deduplicates two trials). Workers on other
    machines must see the embedding cache and the dataset at the same paths (a shared file
    system); each worker memory-maps them once.
    """

    def __init__(self, max_workers: int, scheduler: str | None,
                 memory_limit_mb: float | None, jit_cache: str | None = None,
                 threads: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as err:
            raise TunerError("--executor dask needs the package 'distributed': "
                             "pip install 'dask[distributed]'") from err
        self.cluster = None
        if scheduler is None:
            import dask

            memory = f"{memory_limit_mb}MiB" if memory_limit_mb else "auto"
            # A worker's death fails its task at once: otherwise the scheduler reruns a trial
            # the watchdog stopped for its time limit, unwatched, and the sweep hangs; it runs a
            # memory hog on four workers in turn.
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self.cluster = started(lambda: LocalCluster(
                    n_workers=max_workers, threads_per_worker=1, processes=True,
                    memory_limit=memory, dashboard_address=None))
            self.client = started(lambda: Client(self.cluster))
            logging.getLogger("distributed.scheduler").addFilter(_quiet_on_stopped_workers)
        else:
            self.client = connect_scheduler(scheduler)
            _wait_for_workers(self.client, scheduler)
        from tuner.engine.dask_setup import TunerWorkerSetup

        self.plugin = TunerWorkerSetup(threads_per_worker(max_workers, threads), jit_cache)
        try:
            self.client.register_plugin(self.plugin)
        except BaseException:
            self.shutdown()
            raise
        self.executor = self.client.get_executor(pure=False)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self.executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        plugin = getattr(self, "plugin", None)
        if self.cluster is None and plugin is not None:
            # an outside scheduler keeps a plugin for every later worker, other users' too:
            # this sweep's goes with it
            try:
                self.client.unregister_worker_plugin(plugin.name)
            except Exception as err:  # a scheduler already gone
                log.debug("could not remove the worker plugin %s: %s", plugin.name, err)
        try:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:  # a filter left behind would hide another cluster's lines in this process
            logging.getLogger("distributed.scheduler").removeFilter(_quiet_on_stopped_workers)
