"""The sweep loop: skip finished trials, submit the rest, watch them, hand records to the tracker.

It knows executors only as `submit` + `wait`. Faults it survives: a trial that raises (FAILED
record from the worker), a worker that dies (pool rebuilt; the trials then in flight rerun alone,
so the one that crashed it is retried once and then FAILED), a trial past its time or memory
limit (its worker is killed, the trial FAILED), and SIGINT/SIGTERM (workers stopped, open runs
KILLED).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from trainers import load_trainer
from tuner.engine.search import TpeSource
from tuner.engine.sweep import PreparedSweep
from tuner.engine.worker import read_started, run_trial
from tuner.errors import SweepInterrupted
from tuner.tracking.tracker import MlflowTracker, SweepHandle
from tuner.trial import TrialError, TrialRecord, TrialSpec, TrialStatus

log = logging.getLogger(__name__)
ExecutorFactory = Callable[[], Executor]
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Limits:
    """Per-trial limits; None means unlimited."""

    timeout_s: float | None = None
    max_memory_mb: float | None = None


@dataclass
class SweepResult:
    sweep: SweepHandle
    records: list[TrialRecord] = field(default_factory=list)
    skipped: int = 0
    stale: int = 0

    @property
    def completed(self) -> int:
        return sum(r.status is TrialStatus.COMPLETE for r in self.records)

    @property
    def failed(self) -> int:
        return sum(r.status is TrialStatus.FAILED for r in self.records)


@dataclass
class _Running:
    spec: TrialSpec
    run_id: str


def run_sweep(prepared: PreparedSweep, tracker: MlflowTracker, make_executor: ExecutorFactory,
              max_workers: int, on_record: Callable[[TrialRecord], None] | None = None,
              limits: Limits | None = None) -> SweepResult:
    """Run every trial not already FINISHED in the tracker; log each as it completes."""
    grid = prepared.grid
    sweep = tracker.start_sweep(grid.experiment, _sweep_tags(prepared), _sweep_params(prepared),
                                prepared.inputs.corpus.ids)
    result = SweepResult(sweep, stale=tracker.fail_stale_runs(sweep))
    done = tracker.finished_metrics(sweep)
    source = _source(prepared, done)
    loop = _Loop(tracker, sweep, result, on_record, limits or Limits(), max_workers, source, done)
    try:
        with _stop_on_signals(loop):
            loop.execute(make_executor)
    except BaseException:
        loop.abandon("KILLED")
        tracker.end_sweep(sweep, "KILLED", {})
        raise
    tracker.set_tags(sweep.run_id, {"tuner.skipped": str(result.skipped),
                                    "tuner.trials": str(len(result.records) + result.skipped)})
    if isinstance(source, TpeSource):
        tracker.client.log_dict(sweep.run_id, {"configurations": source.finished}, "search.json")
    tracker.end_sweep(sweep, "FINISHED", {})
    return result


class ListSource:
    """The trials of a grid or random search, in order."""

    def __init__(self, trials: list[TrialSpec]) -> None:
        self.queue = list(trials)

    def next(self) -> TrialSpec | None:
        return self.queue.pop(0) if self.queue else None

    def exhausted(self) -> bool:
        return not self.queue

    def tell(self, key: str, metrics: Mapping[str, float] | None) -> None:
        """Static sources learn nothing from results."""


def expected_cost(spec: TrialSpec) -> float:
    """A rough relative cost, to submit long trials first: the last trials of a sweep then are
    short, and no worker idles long at the end (longest-processing-time-first)."""
    return load_trainer(spec.model).expected_cost(spec.params)


def _source(prepared: PreparedSweep, done: Mapping[str, Mapping[str, float]]
            ) -> ListSource | TpeSource:
    grid = prepared.grid
    if grid.search.strategy != "tpe":
        return ListSource(sorted(prepared.trials, key=expected_cost, reverse=True))
    from tuner.metrics import default_metric, higher_is_better

    metrics = grid.search.metrics or (grid.leaderboard_metric or
                                      default_metric(prepared.inputs.truth is not None),)
    search = replace(grid.search, metrics=tuple(metrics))
    directions: list[Literal["minimize", "maximize"]] = [
        "maximize" if higher_is_better(m) else "minimize"
        for m in metrics]
    assert prepared.factory is not None
    space = {s.model: s.space for s in grid.sweeps}
    return TpeSource(space, search, grid.seeds, prepared.factory.make, directions)


@contextmanager
def _stop_on_signals(loop: _Loop) -> Iterator[None]:
    """While the sweep runs, SIGINT/SIGTERM ask the loop to stop at its next poll (never in the
    middle of a tracker write)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield  # signals only reach the main thread (e.g. a sweep run by the HTTP service)
        return

    def handler(signum: int, _frame: object) -> None:
        loop.stop_signal = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


class _Loop:
    """One sweep's in-flight bookkeeping across pool rebuilds."""

    def __init__(self, tracker: MlflowTracker, sweep: SweepHandle, result: SweepResult,
                 on_record: Callable[[TrialRecord], None] | None, limits: Limits,
                 max_workers: int, source: ListSource | TpeSource,
                 done: Mapping[str, Mapping[str, float]]) -> None:
        self.tracker, self.sweep, self.result = tracker, sweep, result
        self.on_record, self.limits, self.max_workers = on_record, limits, max_workers
        self.source, self.done = source, done
        self.retry: list[TrialSpec] = []  # trials to resubmit after a pool break
        self.running: dict[Future[TrialRecord], _Running] = {}
        self.suspects: set[str] = set()  # trials in flight when a worker died unexplained
        self.killed: dict[str, TrialError] = {}  # trial key -> why we killed its worker
        self.started_dir = Path(tempfile.mkdtemp(prefix="tuner-inflight-"))
        self.stop_signal: int | None = None

    def execute(self, make_executor: ExecutorFactory) -> None:
        while self._has_work():
            executor = make_executor()
            try:
                broken = self._drain(executor)
            except BaseException:
                _kill_workers()
                executor.shutdown(wait=False, cancel_futures=True)
                raise
            if broken:
                _kill_workers()
            executor.shutdown(wait=not broken, cancel_futures=True)

    def _has_work(self) -> bool:
        return bool(self.retry) or not self.source.exhausted()

    def _next(self) -> TrialSpec | None:
        """The next trial to submit: a retry first; a finished trial is skipped (and told)."""
        while True:
            spec = self.retry.pop() if self.retry else self.source.next()
            if spec is None or spec.key not in self.done:
                return spec
            self.result.skipped += 1
            self.source.tell(spec.key, self.done[spec.key])

    def _drain(self, executor: Executor) -> bool:
        """Run trials on one executor until no work is left; True if its pool broke.

        Finished trials free their worker first and are logged after the next submissions, so
        no worker idles while the parent writes to the tracking store.
        """
        while self._has_work() or self.running:
            if self.stop_signal is not None:
                raise SweepInterrupted(self.stop_signal)
            if not self._fill(executor):
                self._handle_break()
                return True
            if not self.running:
                continue
            finished, _ = wait(self.running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            try:
                records = {future: self._record(future) for future in finished}
            except BrokenProcessPool:
                self._handle_break()
                return True
            done = [(self.running.pop(future), record) for future, record in records.items()]
            broken = not self._fill(executor)
            for entry, record in done:
                self._finish(entry, record)
            if broken:
                self._handle_break()
                return True
            self._enforce_limits()
        return False

    def _fill(self, executor: Executor) -> bool:
        """Submit trials until `max_workers` are in flight; False if the pool broke. A suspect
        (in flight when a worker died unexplained) runs alone, so its own crash names it."""
        while len(self.running) < self.max_workers:
            if any(e.spec.key in self.suspects for e in self.running.values()):
                return True
            if self.running and self.retry and self.retry[-1].key in self.suspects:
                return True
            spec = self._next()
            if spec is None:
                return True
            if not self._submit(executor, spec):
                return False
        return True

    def _submit(self, executor: Executor, spec: TrialSpec) -> bool:
        """Submit a trial; False (and the trial kept for a retry) if the pool broke."""
        try:
            future = executor.submit(run_trial, spec, str(self.started_dir))
        except BrokenProcessPool:
            self.retry.append(spec)
            return False
        self.running[future] = _Running(spec, self.tracker.start_trial(self.sweep, spec))
        return True

    def _record(self, future: Future[TrialRecord]) -> TrialRecord:
        """A finished trial's record; raises BrokenProcessPool if the pool died under it."""
        try:
            return future.result()
        except BrokenProcessPool:
            raise
        except Exception as err:  # a cluster lost the worker (e.g. Dask's KilledWorker)
            return _failed(self.running[future].spec,
                           TrialError(type(err).__name__, f"worker died: {err}", ""))

    def _handle_break(self) -> None:
        """The pool died. Trials that finished first keep their result; trials we killed are
        FAILED with our reason. Of the rest, a trial that was alone in flight caused the death:
        it is retried once, then FAILED "worker died". When several were in flight, none is
        blamed: each becomes a suspect and is rerun alone."""
        victims = dict(self.running)
        self.running.clear()
        explained = any(v.spec.key in self.killed for v in victims.values())
        others = []
        for future, entry in victims.items():
            if future.done() and future.exception() is None:
                self._finish(entry, future.result())
            elif entry.spec.key in self.killed:
                self._finish(entry, _failed(entry.spec, self.killed.pop(entry.spec.key)))
            else:
                others.append(entry)
        for entry in others:
            key = entry.spec.key
            if not explained and len(others) == 1 and key in self.suspects:
                self._finish(entry, _failed(entry.spec, _worker_died()))
                continue
            self.tracker.drop_trial(entry.run_id)
            if not explained:
                self.suspects.add(key)
            self.retry.append(entry.spec)

    def _enforce_limits(self) -> None:
        for entry in list(self.running.values()):
            started = read_started(self.started_dir, entry.spec.key)
            if started is None or entry.spec.key in self.killed:
                continue
            pid, since = started
            reason = self._limit_exceeded(pid, time.time() - since)
            if reason is not None:
                self.killed[entry.spec.key] = reason
                _kill(pid)

    def _limit_exceeded(self, pid: int, elapsed: float) -> TrialError | None:
        timeout = self.limits.timeout_s
        if timeout is not None and elapsed > timeout:
            return TrialError("TrialTimeout", f"timeout: still running after {timeout:g} s; "
                              "its worker was stopped", "")
        limit = self.limits.max_memory_mb
        rss = _rss_mb(pid) if limit is not None else None
        if limit is not None and rss is not None and rss > limit:
            return TrialError("OutOfMemory", f"out of memory: the worker used {rss:.0f} MB, "
                              f"more than --max-memory {limit:g} MB; it was stopped", "")
        return None

    def _finish(self, entry: _Running, record: TrialRecord) -> None:
        self.tracker.finish_trial(self.sweep, entry.run_id, record)
        complete = record.status is TrialStatus.COMPLETE
        self.source.tell(record.spec.key, record.metrics if complete else None)
        self.result.records.append(record)
        if self.on_record is not None:
            self.on_record(record)

    def abandon(self, status: str) -> None:
        """Stop every worker and end the open child runs with `status` (e.g. KILLED)."""
        _kill_workers()
        for entry in self.running.values():
            self.tracker.end_run(entry.run_id, status)
        self.running.clear()


def _failed(spec: TrialSpec, error: TrialError) -> TrialRecord:
    return TrialRecord(spec, TrialStatus.FAILED, error=error)


def _worker_died() -> TrialError:
    return TrialError("WorkerDied", "worker died: the worker process exited while running this "
                      "trial, on two attempts", "")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_workers() -> None:
    for child in multiprocessing.active_children():
        child.kill()


def _rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (Linux /proc); None where unavailable."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _sweep_tags(prepared: PreparedSweep) -> dict[str, str]:
    grid = prepared.grid
    tags = {"tuner.grid": str(grid.path), "tuner.corpus_sha256": prepared.inputs.corpus.sha256,
            "tuner.models": ",".join(s.model for s in grid.sweeps)}
    tags |= {f"tuner.cache.{k}": v for k, v in prepared.cache_events.items()}
    if prepared.embedding_keys:
        tags["tuner.embedding_keys"] = ",".join(k.digest for k in prepared.embedding_keys)
    return tags


def _sweep_params(prepared: PreparedSweep) -> dict[str, object]:
    grid = prepared.grid
    params: dict[str, object] = {
        "dataset": str(grid.dataset.path), "documents": len(prepared.inputs.corpus),
        "language": grid.dataset.language, "models": ",".join(s.model for s in grid.sweeps),
        "seeds": ",".join(map(str, grid.seeds)), "trials": len(prepared.trials),
        "npmi_window": grid.metrics.npmi_window, "topn": grid.metrics.topn,
        "diversity_topn": grid.metrics.diversity_topn,
        **{f"preprocessing.{k}": v for k, v in asdict(grid.preprocessing).items()},
        "ground_truth": str(grid.ground_truth) if grid.ground_truth else
        f"label_field:{grid.dataset.label_field}",
    }
    for i, key in enumerate(prepared.embedding_keys):
        suffix = "" if i == 0 else f"_{i}"
        params |= {f"embedding_model{suffix}": key.model, f"pooling{suffix}": key.pooling,
                   f"max_length{suffix}": key.max_length}
    return params
