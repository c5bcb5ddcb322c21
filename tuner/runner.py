"""The sweep loop: skip finished trials, submit the rest, collect records, hand them to the
tracker. It knows executors only as `submit` + `as_completed`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from tuner.sweep import PreparedSweep
from tuner.tracking import MlflowTracker, SweepHandle
from tuner.trial import TrialError, TrialRecord, TrialSpec, TrialStatus
from tuner.worker import run_trial

log = logging.getLogger(__name__)
ExecutorFactory = Callable[[], Executor]
WORKER_DIED = "worker died"


@dataclass
class SweepResult:
    sweep: SweepHandle
    records: list[TrialRecord] = field(default_factory=list)
    skipped: int = 0

    @property
    def completed(self) -> int:
        return sum(r.status is TrialStatus.COMPLETE for r in self.records)

    @property
    def failed(self) -> int:
        return sum(r.status is TrialStatus.FAILED for r in self.records)


def run_sweep(prepared: PreparedSweep, tracker: MlflowTracker, make_executor: ExecutorFactory,
              max_workers: int, on_record: Callable[[TrialRecord], None] | None = None
              ) -> SweepResult:
    """Run every trial not already FINISHED in the tracker; log each as it completes."""
    grid = prepared.grid
    sweep = tracker.start_sweep(grid.experiment, _sweep_tags(prepared), _sweep_params(prepared),
                                prepared.inputs.corpus.ids)
    result = SweepResult(sweep)
    done = tracker.finished_keys(sweep)
    pending = [t for t in prepared.trials if t.key not in done]
    result.skipped = len(prepared.trials) - len(pending)
    tracker.set_tags(sweep.run_id, {"tuner.skipped": str(result.skipped),
                                    "tuner.trials": str(len(prepared.trials))})

    def collect(record: TrialRecord) -> None:
        tracker.log_trial(sweep, record)
        result.records.append(record)
        if on_record is not None:
            on_record(record)

    status = "FAILED"
    try:
        _execute(pending, make_executor, max_workers, collect)
        status = "FINISHED"
    finally:
        tracker.end_sweep(sweep, status if status == "FINISHED" else "KILLED", {})
    return result


def _execute(pending: list[TrialSpec], make_executor: ExecutorFactory, max_workers: int,
             collect: Callable[[TrialRecord], None]) -> None:
    """Keep at most `max_workers` trials in flight, so a dead worker costs only those trials;
    those are retried once on a fresh pool, then recorded FAILED."""
    queue = list(reversed(pending))
    retried: set[str] = set()
    while queue:
        executor = make_executor()
        broken: list[TrialSpec] = []
        try:
            broken = _drain(executor, queue, max_workers, collect)
        finally:
            executor.shutdown(wait=not broken, cancel_futures=True)
        for spec in broken:
            if spec.key in retried:
                collect(_worker_died(spec))
            else:
                retried.add(spec.key)
                queue.append(spec)


def _drain(executor: Executor, queue: list[TrialSpec], max_workers: int,
           collect: Callable[[TrialRecord], None]) -> list[TrialSpec]:
    """Run the queue on one executor; return the in-flight trials if its pool broke."""
    in_flight: dict[Future[TrialRecord], TrialSpec] = {}
    while queue or in_flight:
        while queue and len(in_flight) < max_workers:
            spec = queue.pop()
            in_flight[executor.submit(run_trial, spec)] = spec
        finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in finished:
            spec = in_flight.pop(future)
            try:
                record = future.result()
            except BrokenProcessPool:
                return [spec, *in_flight.values()]
            collect(record)
    return []


def _worker_died(spec: TrialSpec) -> TrialRecord:
    message = f"{WORKER_DIED}: the worker process exited while running this trial (twice)"
    return TrialRecord(spec, TrialStatus.FAILED, error=TrialError("WorkerDied", message, ""))


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
        "ground_truth": str(grid.ground_truth) if grid.ground_truth else
        f"label_field:{grid.dataset.label_field}",
    }
    for i, key in enumerate(prepared.embedding_keys):
        suffix = "" if i == 0 else f"_{i}"
        params |= {f"embedding_model{suffix}": key.model, f"pooling{suffix}": key.pooling,
                   f"max_length{suffix}": key.max_length}
    return params
