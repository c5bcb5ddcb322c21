"""Sweeps started over HTTP: validate the request like the CLI does, then queue it; at most
`max_active` sweeps run at once (one per experiment), each in a thread through `execute_sweep`.

An inline grid may name only files under the data roots; it is written under the cache folder
after it validated, in a folder of this server's own, and removed when its sweep ends; a server
that starts removes the folders of servers that are gone (else a killed server's grids stay
for good).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

from tuner.engine.executors import SharedPool, make_executor
from tuner.engine.sweep import CheckedInputs, PreparedSweep
from tuner.errors import (
    ApiError,
    GridError,
    SweepAbortedError,
    SweepInterrupted,
    SweepLockedError,
    TunerError,
)
from tuner.grid import Grid, is_text
from tuner.grid_sections import MAX_EXPERIMENT, is_file
from tuner.params import shown
from tuner.serve import MAX_BATCH_TOKENS, MAX_TRIAL_SECONDS, MIN_FREE_GB
from tuner.serve.boards import BoardCache
from tuner.serve.errors import public_failure, validation_error
from tuner.serve.paths import DataRoots, contained_grid
from tuner.tracking.uri import local_store
from tuner.trial import TrialRecord, TrialStatus

log = logging.getLogger(__name__)  # tuner serve shows its INFO lines: each sweep's start and end

__all__ = ["ApiError", "JobSettings", "SweepJob", "SweepRegistry"]
JobStatus = Literal["queued", "running", "finished", "failed", "cancelled"]
INLINE_FOLDER = "inline_grids"
OWNER_FILE = "owner"  # in a server's folder of inline grids: which process it is
# Sweeps that ended, kept for GET, at most this many: sweeps that fail at once (a store refusing
# the experiment) escape the queue's limit, and unbounded every one would stay in memory for ever.
KEEP_ENDED = 1000


@dataclass(frozen=True)
class JobSettings:
    grids_dir: Path
    cache_dir: Path
    tracking_uri: str
    max_workers: int = 2
    max_trials: int = 10000
    data_roots: tuple[Path, ...] = ()  # empty: grids_dir and ./datasets
    max_active: int = 1
    max_queued: int = 20
    threads_per_worker: int | None = None  # None: the usable cores shared out among workers
    max_batch_tokens: int = MAX_BATCH_TOKENS
    min_free_gb: float = MIN_FREE_GB
    max_trial_s: float | None = MAX_TRIAL_SECONDS  # None: the grids' timeout_s alone

    @property
    def roots(self) -> DataRoots:
        return DataRoots.served(self.data_roots, self.grids_dir)


LOCK_POLL_S = 2.0  # how often a sweep whose experiment another process holds asks again
LEADERBOARD_ENTRIES = 50  # the best configurations an answer lists; `configurations` counts all


@dataclass
class SweepJob:
    """The state of one sweep started over HTTP (mutated only under the registry's lock)."""

    id: str
    experiment: str
    grid: str
    status: JobStatus = "queued"
    total: int | None = None
    completed: int = 0
    failed: int = 0
    pruned: int = 0
    skipped: int = 0
    repeated: int = 0  # TPE: suggestions that repeated an earlier trial (its result, not run)
    unrunnable: int = 0  # TPE: trials of suggestions skipped as breaking a model's rules
    unasked: int = 0  # TPE: trials of the budget left once a finite space was all suggested
    error: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    metric: str | None = None
    data_context: str | None = None  # what its trials are judged on (tuner.trial.data_context)
    journalled: int = 0  # results the store refused, logged by the experiment's next sweep
    # what the ranked trials' own figures say is likely wrong with them (collapsed fits, ...)
    warnings: list[str] = field(default_factory=list)
    # How many things validation warned of before any trial (too few iterations, repeated
    # texts...): their text may quote the data, so it is in the server's log and on the sweep
    # run in MLflow (warnings.json), not here; the count is, so a client knows to look there.
    validation_warnings: int = 0
    # why a sweep waits: whose turn came but has not started (another's lock), or that is
    # running but waits on another sweep's cache entry
    waiting: str | None = None
    created: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def progress(self) -> float | None:
        if not self.total:
            return None
        if self.status == "finished":  # a TPE search of a fit that reads no seed makes fewer
            return 1.0  # trials than its budget's n_trials x seeds
        done = self.completed + self.pruned + self.failed + self.skipped + self.repeated + \
            self.unrunnable + self.unasked
        return round(done / self.total, 4)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "progress": self.progress}


class SweepRegistry:
    """Every sweep this server started, the queue, and the sweeps running now."""

    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings
        self.roots = settings.roots
        self._lock = threading.Lock()
        self._jobs: dict[str, SweepJob] = {}
        self._futures: dict[str, Future[None]] = {}
        self._stops: dict[str, threading.Event] = {}  # per sweep: a cancel or the server's stop
        self._stop = threading.Event()
        self._boards = BoardCache()
        _remove_gone_servers_grids(settings.cache_dir.resolve() / INLINE_FOLDER)
        self._pool = ThreadPoolExecutor(settings.max_active, thread_name_prefix="sweep")
        self._workers = SharedPool(lambda: make_executor("process", settings.max_workers,
                                                         cache_dir=settings.cache_dir,
                                                         threads=settings.threads_per_worker))

    def jobs(self) -> list[SweepJob]:
        with self._lock:
            return list(self._jobs.values())

    def get(self, job_id: str) -> SweepJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(HTTPStatus.NOT_FOUND, f"no sweep with id {shown(job_id)} on this "
                           "server: sweeps live in its memory, so one sent before it last "
                           "started is not here; its results are in MLflow, under its "
                           "experiment, and sending its grid again resumes it, skipping the "
                           "trials that finished")
        return job

    def submit(self, body: Any) -> SweepJob:
        """Validate a request body and queue its sweep; 400/404/409/503 as ApiError."""
        if self._stop.is_set():
            raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "the server is shutting down")
        job_id = uuid.uuid4().hex[:12]
        named = self._experiment_named(body)
        self._refuse_running(named)  # before validation reads the data
        with self._lock:
            self._raise_if_full(self._waiting())  # and asked again once it validated
        self._raise_if_disk_full()
        if named is not None and len(named) <= MAX_EXPERIMENT:  # as early, before validation
            self._refuse_artifacts_elsewhere(named)
        grid, inputs, inline = self._validated_request(body)
        if named != grid.experiment:
            self._refuse_artifacts_elsewhere(grid.experiment)
        job = SweepJob(job_id, grid.experiment, "grid_inline" if inline else str(body["grid"]),
                       validation_warnings=len(inputs.advice))
        self._register(job)
        log.info("sweep %s accepted: experiment %r, %r", job_id, job.experiment, job.grid)
        for advice in inputs.advice:
            log.warning("sweep %s: %s", job_id, advice)
        if inline is not None:
            grid = replace(grid, path=self._write_inline(job, inline))
        with self._lock:
            self._futures[job_id] = self._pool.submit(self._run, job, grid, inputs)
        return job

    def cancel(self, job_id: str) -> SweepJob:
        """Cancel a queued sweep, or stop a running one as SIGTERM would (its workers stopped,
        its open runs KILLED, its finished trials kept); 409 for a sweep that has ended."""
        job = self.get(job_id)
        with self._lock:
            future, stop = self._futures.get(job_id), self._stops.get(job_id)
            if job.status not in ("queued", "running") or stop is None:
                raise ApiError(HTTPStatus.CONFLICT, f"sweep {job_id}: already {job.status}")
            stop.set()
        if future is not None and future.cancel():
            self._end(job, "cancelled", "cancelled before it started")
        return job

    def shutdown(self, timeout: float) -> bool:
        """Stop taking sweeps, drop the queued ones and stop the running ones: their workers
        are killed and no new pool starts, so each ends KILLED. True if all ended in time."""
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            futures = dict(self._futures)
            jobs = dict(self._jobs)
            for stop in self._stops.values():
                stop.set()
        for job_id, future in futures.items():
            job = jobs.get(job_id)
            if future.cancelled() and job is not None and job.status == "queued":
                self._end(job, "failed", "cancelled: the server stopped first")
        running = [f for f in futures.values() if not f.done()]
        deadline = time.monotonic() + timeout
        while running and time.monotonic() < deadline:
            for child in multiprocessing.active_children():  # the sweeps' worker processes
                child.kill()
            running = list(wait(running, timeout=0.5).not_done)
        self._workers.close()
        return not running

    def leaderboard(self, job_id: str) -> dict[str, Any]:
        job = self.get(job_id)
        if job.experiment_id is None or job.metric is None:
            return {"status": job.status, "metric": job.metric, "entries": []}
        with self._lock:  # what the board shows changes with these (or with other processes'
            # runs: BoardCache builds it again after FRESH_S)
            state = (job.id, job.status, job.metric, job.data_context, job.completed,
                     job.failed, job.pruned, job.skipped)
        return self._boards.get(state, lambda: self._board(job))

    def _board(self, job: SweepJob) -> dict[str, Any]:
        from tuner.reporting.leaderboard import ALL_ROWS, leaderboard
        from tuner.tracking.tracker import MlflowTracker

        assert job.metric is not None
        board = leaderboard(MlflowTracker(self.settings.tracking_uri), job.experiment,
                            job.metric, ALL_ROWS, job.data_context)
        return {"status": job.status, "metric": job.metric, "experiment": job.experiment,
                "configurations": len(board), "truncated": len(board) > LEADERBOARD_ENTRIES,
                # model_seeds: seeds_asked's earlier name, kept for clients
                "entries": [{**asdict(entry), "model_seeds": entry.seeds_asked}
                            for entry in board[:LEADERBOARD_ENTRIES]]}

    def _validated_request(self, body: Any
                           ) -> tuple[Grid, CheckedInputs, dict[str, Any] | None]:
        if not isinstance(body, dict) or len({"grid", "grid_inline"} & set(body)) != 1:
            raise ApiError(HTTPStatus.BAD_REQUEST, "body: expects a JSON object with either "
                           "'grid' (a file name under grids/) or 'grid_inline' (a grid object)")
        if "grid" in body:
            path, label = _named_grid(self.settings.grids_dir, body["grid"])
            return (*self._validated(path, label), None)
        raw = body["grid_inline"]
        if not isinstance(raw, dict):
            raise ApiError(HTTPStatus.BAD_REQUEST, f"grid_inline: expects a JSON object; "
                           f"got {type(raw).__name__}")
        inline = contained_grid(raw, self.roots, self.settings.grids_dir.resolve())
        folder = self._inline_folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _claim(folder)
        except OSError as err:
            raise ApiError(HTTPStatus.INSUFFICIENT_STORAGE, f"grid_inline: cannot be stored "
                           f"under the cache folder: {err.strerror}") from err
        # in the server's own folder, not the machine's temporary one
        with tempfile.TemporaryDirectory(prefix=".validating-", dir=folder) as validating:
            path = Path(validating) / "grid.json"  # read by load_grid, gone once it validated
            path.write_text(json.dumps(inline), encoding="utf-8")
            # its files must stay under the roots at this read and at every later one
            roots = tuple(str(root) for root in self.roots.roots)
            return (*self._validated(path, "grid_inline", roots), inline)

    def _validated(self, path: Path, label: str, roots: tuple[str, ...] = ()
                   ) -> tuple[Grid, CheckedInputs]:
        """load_grid + check_inputs, as the CLI does; problems become a 400 with every line."""
        from tuner.data.vocab import check_some_word
        from tuner.engine.sweep import check_inputs
        from tuner.grid import load_grid

        grid = None
        try:
            grid = load_grid(path, self.settings.max_trials)
            inputs = check_inputs(grid, self.settings.max_trials, roots=roots,
                                  cache_dir=self.settings.cache_dir)
            check_some_word(inputs.corpus, grid.preprocessing)  # as `tuner validate`
            _refuse_large_batches(path, inputs, self.settings.max_batch_tokens)
            return grid, inputs
        except TunerError as err:
            files = {} if grid is None else {"dataset": grid.dataset.path,
                                             "ground_truth": grid.ground_truth}
            shortened = DataRoots.of((*self.roots.roots, self.settings.grids_dir))
            raise validation_error(err, path, label, shortened,
                                   {k: v for k, v in files.items() if v is not None}) from err

    def _experiment_named(self, body: Any) -> str | None:
        """The experiment a request's grid names, read without validating it, so that a named
        grid of a running experiment is refused before its corpus is read (4 to 5 s for 20 MB,
        against 0.06 s inline)."""
        if isinstance(body, dict) and "grid" in body and "grid_inline" not in body:
            return _file_experiment(_named_grid(self.settings.grids_dir, body["grid"])[0])
        return _inline_experiment(body)

    def _refuse_running(self, experiment: str | None) -> None:
        """409 for an experiment a sweep runs now, said as soon as the grid's name is known:
        before validation reads a corpus for a request that will be refused. _register asks
        again under the lock it queues under."""
        if experiment is not None:
            with self._lock:
                self._raise_if_running(experiment, self._waiting())

    def _refuse_artifacts_elsewhere(self, experiment: str) -> None:
        """400 for an experiment whose artifacts a sweep would write outside the store's folder
        (MLflow's Default experiment: where the store was first opened)."""
        from tuner.tracking.tracker import MlflowTracker

        uri = self.settings.tracking_uri
        if uri.startswith("sqlite:///") and MlflowTracker(uri).artifacts_elsewhere(experiment):
            raise ApiError(HTTPStatus.BAD_REQUEST, f"experiment {shown(experiment)} keeps its "
                           "artifacts in a folder outside this server's tracking store (as "
                           "MLflow's own Default experiment does); name another experiment")

    def _waiting(self) -> list[SweepJob]:
        return [j for j in self._jobs.values() if j.status in ("queued", "running")]

    def _raise_if_running(self, experiment: str, waiting: list[SweepJob]) -> None:
        from tuner.flow import is_locked

        queued = any(j.experiment == experiment and j.status == "queued" for j in waiting)
        if queued:  # not "already running", which a queued sweep is not
            raise ApiError(HTTPStatus.CONFLICT, f"experiment '{experiment}': a sweep of it is "
                           "already queued; wait for it to finish")
        if any(j.experiment == experiment for j in waiting) or \
                is_locked(self.settings.tracking_uri, experiment):
            raise ApiError(HTTPStatus.CONFLICT, f"experiment '{experiment}': a sweep is already "
                           "running; wait for it to finish")

    def _raise_if_full(self, waiting: list[SweepJob]) -> None:
        """503 when the queue holds --max-queued sweeps; said before a request's validation
        too, which costs a refused request as much as an accepted one."""
        queued = sum(j.status == "queued" for j in waiting)
        if queued >= self.settings.max_queued:
            held = "1 sweep is" if queued == 1 else f"{queued} sweeps are"
            raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, f"{held} queued, the most this "
                           "server holds; try again later")

    def _raise_if_disk_full(self) -> None:
        """507 while the cache's disk, or a SQLite store's, has less than --min-free-gb free; a
        queued sweep asks again as it starts."""
        free = self._free_gb()
        if free < self.settings.min_free_gb:
            raise ApiError(HTTPStatus.INSUFFICIENT_STORAGE, _disk_full(free,
                                                                       self.settings.min_free_gb))

    def _free_gb(self) -> float:
        """The least free space of the cache's disk and a SQLite store's (its artifacts go
        beside it)."""
        store = local_store(self.settings.tracking_uri) \
            if self.settings.tracking_uri.startswith("sqlite:///") else None
        folders = [self.settings.cache_dir, *([store.parent] if store is not None else [])]
        return min(_free_gb_under(folder) for folder in folders)

    def _register(self, job: SweepJob) -> None:
        with self._lock:
            waiting = self._waiting()
            self._raise_if_running(job.experiment, waiting)
            self._raise_if_full(waiting)
            self._forget_oldest_ended()
            self._jobs[job.id] = job
            self._stops[job.id] = threading.Event()

    def _forget_oldest_ended(self) -> None:
        """Keep the KEEP_ENDED most recent sweeps that have ended (called under the lock)."""
        ended = [j for j in self._jobs.values() if j.finished_at is not None]
        surplus = max(0, len(ended) - KEEP_ENDED + 1)
        for job in sorted(ended, key=lambda j: j.finished_at or 0.0)[:surplus]:
            for table in (self._jobs, self._futures, self._stops):
                table.pop(job.id, None)

    def _write_inline(self, job: SweepJob, inline: dict[str, Any]) -> Path:
        path = self._inline_path(job)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(inline, indent=1), encoding="utf-8")
        except OSError as err:
            with self._lock:
                del self._jobs[job.id], self._stops[job.id]
            raise ApiError(HTTPStatus.INSUFFICIENT_STORAGE, f"grid_inline: cannot be stored "
                           f"under the cache folder: {err.strerror}") from err
        return path

    def _inline_folder(self) -> Path:
        return self.settings.cache_dir.resolve() / INLINE_FOLDER / _server_folder_name()

    def _inline_path(self, job: SweepJob) -> Path:
        return self._inline_folder() / f"{job.id}.json"

    def _run(self, job: SweepJob, grid: Grid, inputs: CheckedInputs) -> None:
        from tuner.flow import SweepHooks, SweepSettings, execute_sweep, is_locked

        # One warm pool, lent to sweep after sweep; sweeps that run at once (--max-active-sweeps
        # above 1) each start their own, so one sweep's time limit never kills another's trials.
        pool = self._workers if self.settings.max_active == 1 else None
        with self._lock:
            stop = self._stops[job.id]
        settings = SweepSettings(self.settings.tracking_uri, self.settings.cache_dir,
                                 self.settings.max_workers, progress=False, stop=stop,
                                 pool=pool, threads_per_worker=self.settings.threads_per_worker,
                                 trial_timeout_s=served_timeout(grid.timeout_s,
                                                                self.settings.max_trial_s))
        hooks = SweepHooks(lambda prepared, done: self._started(job, prepared, len(done)),
                           lambda record: self._recorded(job, record),
                           lambda run_id: self._opened(job, run_id),
                           on_wait=lambda line: self._waits(job, line))
        if is_locked(self.settings.tracking_uri, job.experiment):  # queued, never "running"
            self._wait_behind_others(job, grid, inputs, stop)
            return
        free = self._free_gb()
        if free < self.settings.min_free_gb:  # the queue's sweeps filled it meanwhile
            self._end(job, "failed", _disk_full(free, self.settings.min_free_gb))
            return
        with self._lock:
            job.status = "running"
        try:
            outcome = execute_sweep(grid, inputs, settings, hooks)
        except SweepLockedError:  # raised before anything of the sweep started
            self._wait_behind_others(job, grid, inputs, stop)
            return
        except SweepInterrupted:
            if self._stop.is_set():
                self._end(job, "failed", "interrupted: the server stopped (SIGTERM)")
            else:
                self._end(job, "cancelled", "cancelled while running: its workers were "
                          "stopped, its running trials ended KILLED, finished ones are kept")
            return
        except Exception as err:  # a background thread has no caller to raise to
            if isinstance(err, SweepAbortedError):  # its results the store refused are kept
                with self._lock:
                    job.journalled = err.journalled
            self._end(job, "failed", public_failure(err, self.roots, self.settings.tracking_uri))
            return
        with self._lock:
            job.experiment_id, job.parent_run_id = outcome.experiment_id, outcome.parent_run_id
            counts = outcome.counts
            job.metric, job.skipped = outcome.metric, counts.skipped
            job.repeated, job.unrunnable, job.unasked = (counts.repeated, counts.unrunnable,
                                                         counts.unasked)
            job.journalled = outcome.journalled
            job.warnings = [w for w in outcome.warnings if w not in outcome.quoting]
        if counts.failed and not (counts.completed or counts.skipped or counts.pruned):
            # else an automation that checks the status alone takes an empty leaderboard for a
            # result
            self._end(job, "failed", f"every trial failed ({counts.failed}); each trial run's "
                      "tuner.error tag in MLflow says why")
            return
        self._end(job, "finished", None)

    def _waits(self, job: SweepJob, line: str | None) -> None:
        """A running sweep's wait on another sweep's cache entry, in its status (`waiting`)."""
        with self._lock:
            job.waiting = line

    def _wait_behind_others(self, job: SweepJob, grid: Grid, inputs: CheckedInputs,
                            stop: threading.Event) -> None:
        """A sweep whose experiment another process (a `tuner run`, another server on the
        store) locked after it was queued was accepted, so it does not end `failed` with the
        lock's error when its turn comes: it goes back to the end of the queue, `queued` with
        `waiting` saying why, so the sweeps queued behind it run meanwhile (waiting in its
        thread would hold the only slot), and asks again every LOCK_POLL_S."""
        with self._lock:
            said, job.status, job.waiting = job.waiting, "queued", (
                f"another sweep of experiment '{job.experiment}' (a `tuner run`, another "
                "server on this store, or a sweep on another machine) is running; this one "
                "starts when it ends")
        if said is None:
            log.info("sweep %s waits for the lock of experiment %r", job.id, job.experiment)
        if not stop.wait(LOCK_POLL_S):
            with self._lock:
                if not self._stop.is_set():
                    try:
                        self._futures[job.id] = self._pool.submit(self._run, job, grid, inputs)
                        return
                    except RuntimeError:  # the server's pool shut down meanwhile
                        pass
        if self._stop.is_set():
            self._end(job, "failed", "cancelled: the server stopped first")
        else:
            self._end(job, "cancelled", "cancelled while it waited for another sweep of its "
                      "experiment to end; nothing was started")

    def _end(self, job: SweepJob, status: JobStatus, error: str | None) -> None:
        with self._lock:
            job.status, job.error, job.finished_at = status, error, time.time()
            job.waiting = None
        # a sweep's end in the server's log, as its acceptance is
        log.info("sweep %s %s: experiment %r, %d completed, %d failed, %d skipped%s", job.id,
                 status, job.experiment, job.completed, job.failed, job.skipped,
                 f"; {error}" if error else "")
        if job.grid == "grid_inline":
            self._inline_path(job).unlink(missing_ok=True)

    def _started(self, job: SweepJob, prepared: PreparedSweep, skipped: int) -> None:
        from tuner.tracking.tracker import MlflowTracker

        experiment_id = MlflowTracker(self.settings.tracking_uri).experiment_id(job.experiment)
        with self._lock:
            # a TPE search makes its trials as it goes: its budget (not total 0)
            job.total = len(prepared.trials) or prepared.grid.trial_count
            job.skipped, job.waiting = skipped, None
            job.experiment_id, job.data_context = experiment_id, prepared.context
            job.metric = prepared.grid.ranking_metric(prepared.inputs.truth is not None)

    def _opened(self, job: SweepJob, run_id: str) -> None:
        """The parent run, known while the sweep runs, so that an automation can link to
        MLflow meanwhile, not only once it ends."""
        with self._lock:
            job.parent_run_id = run_id

    def _recorded(self, job: SweepJob, record: TrialRecord) -> None:
        with self._lock:
            if record.status is TrialStatus.COMPLETE:
                job.completed += 1
            elif record.status is TrialStatus.PRUNED:
                job.pruned += 1
            else:
                job.failed += 1


def _refuse_large_batches(path: Path, inputs: CheckedInputs, limit: int) -> None:
    """GridError for an embedding whose batches would hold more than `limit` tokens, or, past
    QUADRATIC_FROM tokens a window, the attention of that many: it grows with the window's
    square (eager attention holds batch x heads x max_length^2 numbers a layer)."""
    problems = []
    for spec in inputs.embeddings:
        most = served_batch_size(spec.max_length, limit)
        if spec.batch_size > most:
            fix = f"lower batch_size to {most} or less" if most else \
                f"lower max_length to {served_window(limit)} or less"
            problems.append(
                f"{path}: embedding.batch_size: the service embeds in its own process, at most "
                f"{limit} tokens a batch (batch_size x max_length; fewer past {QUADRATIC_FROM} "
                f"tokens a window, as attention grows with its square); got {spec.batch_size} x "
                f"{spec.max_length}: {fix}, or sweep it with tuner run (tuner serve "
                "--max-batch-tokens raises the limit)")
    if problems:
        raise GridError(problems)


QUADRATIC_FROM = 512  # window length from which a served batch's cap falls with its square


def served_batch_size(max_length: int, limit: int) -> int:
    """The largest embedding batch a served sweep may run at `max_length` tokens a window."""
    return limit * QUADRATIC_FROM // (max_length * max(max_length, QUADRATIC_FROM))


def served_window(limit: int) -> int:
    """The longest window a served batch of one may have."""
    return math.isqrt(limit * QUADRATIC_FROM)


def _named_grid(grids_dir: Path, name: Any) -> tuple[Path, str]:
    if not isinstance(name, str) or not name:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"grid: expects a file name under grids/; "
                       f"got {shown(name)}")
    root = grids_dir.resolve()
    try:
        path = (root / name).resolve()
    except (OSError, RuntimeError, ValueError) as err:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"grid: not a usable file name: {shown(name)}") \
            from err
    if not path.is_relative_to(root) or Path(name).is_absolute():
        raise ApiError(HTTPStatus.BAD_REQUEST, f"grid: must name a file inside the grids "
                       f"folder ({root.name}/); got {shown(name)}")
    if not is_file(path):
        raise ApiError(HTTPStatus.NOT_FOUND, f"grid: no file {shown(name)} in the grids folder "
                       f"({root.name}/)")
    if not _grid_shaped(path):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"grid: {shown(name)} is not a grid file (a JSON "
                       "object with 'dataset' and 'models' or 'model')")
    return path, name


def _grid_shaped(path: Path) -> bool:
    """Whether a named file looks like a grid before it is validated: validation quotes what a
    grid holds, and a data file that sits among the grids (labels, ground truth) must not be
    quoted back."""
    try:
        # read as load_grid reads it: else a data file with a byte order mark, unread as
        # UTF-8, is taken for a grid and its keys quoted back
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return True  # not JSON at all: load_grid says so without quoting it
    return isinstance(raw, dict) and "dataset" in raw and ("models" in raw or "model" in raw)


def _inline_experiment(body: Any) -> str | None:
    """The experiment an inline grid names, before it is validated (None: not one yet)."""
    raw = body.get("grid_inline") if isinstance(body, dict) else None
    return _experiment_of(raw)


def _file_experiment(path: Path) -> str | None:
    """The experiment a grid file names, before it is validated (None: not one yet)."""
    try:
        return _experiment_of(json.loads(path.read_text(encoding="utf-8-sig")))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None  # validation says what is wrong with it


def _experiment_of(raw: Any) -> str | None:
    name = raw.get("experiment") if isinstance(raw, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() and is_text(name) else None


def _server_folder_name(pid: int | None = None) -> str:
    """`<host>-<pid>`: a cache folder shared by containers (each with pids of its own, often
    the same) or by hosts over NFS holds each server's grids apart, and a server judges only
    its own host's folders (by the pid alone, it would remove a live container's)."""
    host = re.sub(r"[^\w.-]", "_", socket.gethostname())[:64] or "host"
    return f"{host}-{os.getpid() if pid is None else pid}"


def _claim(folder: Path) -> None:
    """Note which process owns `folder` (its pid names it; the note tells a reused pid apart)."""
    from tuner.processes import process_started

    owner = folder / OWNER_FILE
    if not owner.is_file():
        owner.write_text(process_started(os.getpid()) or "", encoding="ascii")


def _remove_gone_servers_grids(inline: Path) -> None:
    """Remove the inline grids of this host's servers that no longer run: their sweeps ended
    with them. Other hosts' folders are theirs to judge. Grids of the layout before per-server
    folders (files directly under `inline`) have no owner to ask and go too."""
    from tuner.processes import process_started

    try:
        entries = list(inline.iterdir())
    except OSError:  # none yet, or unreadable: nothing to remove
        return
    mine = _server_folder_name(0)[:-1]  # "<host>-"
    for entry in entries:
        pid = entry.name.removeprefix(mine)
        if entry.name.startswith(mine) and pid.isdigit() and entry.is_dir() \
                and not entry.is_symlink():
            alive = process_started(int(pid))
            noted = _read_owner(entry)
            if alive is not None and (noted is None or noted in ("", alive)):
                continue
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.endswith(".json") or entry.name.startswith(".validating-"):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _read_owner(folder: Path) -> str | None:
    try:
        return (folder / OWNER_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _free_gb_under(folder: Path) -> float:
    """Free space on the disk that holds `folder` (or its nearest existing parent), in GB."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free / 1e9


def served_timeout(asked: float | None, most: float | None) -> float | None:
    """A served trial's time limit: the grid's timeout_s, at most --max-trial-seconds."""
    if most is None:
        return asked
    return most if asked is None else min(asked, most)


def _disk_full(free: float, least: float) -> str:
    return (f"the cache folder's or the tracking store's disk has {free:.1f} GB free, under "
            f"this server's --min-free-gb {least:g}: no sweep starts until space is freed "
            "(while no sweep runs, the cache "
            "folder's bow/, umap/, word2vec/ and models/ folders and emb-*.npy files may be "
            "deleted: they are computed again when needed, models/ (copies of model folders "
            "sent sweeps named) at the next request that names the folder; its journal/ holds "
            "results not yet logged)")
