"""A Tracker that keeps everything in memory: the runner's tests run on it without MLflow, and
one contract suite runs over it and the MLflow tracker alike."""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.tracking.records import (
    CURVE_PREFIX,
    FinishedTrial,
    PastCurve,
    StoredRun,
    SweepRun,
    by_step,
    current_trials,
    is_pruned,
    one_run_a_trial,
    richest_fits,
)
from tuner.tracking.tags import (
    CONTEXT_TAG,
    ERROR_TYPE_TAG,
    FIT_KEY_TAG,
    PRUNED_BY_TAG,
    RESCORED_FROM_TAG,
    ROLE_TAG,
    STALE_TAG,
    STATUS_TAG,
    THREADS_TAG,
    TRIAL_KEY_TAG,
)
from tuner.tracking.tracker import (
    EXTRAS_FILE,
    SweepHandle,
    learning_curve,
    run_status,
    trial_params,
    trial_tags,
)
from tuner.trial import StoredFit, TrialRecord, TrialSpec


@dataclass
class MemoryRun:
    """One run as the in-memory store holds it."""

    run_id: str
    experiment_id: str
    status: str = "RUNNING"
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    record: TrialRecord | None = None
    start_time: int = field(default_factory=lambda: time.time_ns() // 10**6)
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # metric steps
    doc_ids: tuple[str, ...] = ()  # a trial's documents, as its sweep named them

    @property
    def pruned(self) -> bool:
        return is_pruned(self.tags)

    def stored(self) -> StoredRun:
        """The run as any store keeps it: every parameter as text."""
        params = {k: "null" if v is None else str(v) for k, v in self.params.items()}
        return StoredRun(self.run_id, self.run_id, self.status, self.tags, params,
                         self.metrics, self.start_time)


class MemoryTracker:
    """The Tracker protocol over a dict of runs."""

    def __init__(self) -> None:
        self.experiments: dict[str, str] = {}  # name -> id
        self.runs: dict[str, MemoryRun] = {}

    def start_sweep(self, experiment: str, tags: Mapping[str, str], params: Mapping[str, Any],
                    doc_ids: Sequence[str] = ()) -> SweepHandle:
        experiment_id = self.experiments.setdefault(experiment, str(len(self.experiments)))
        run = self._new_run(experiment_id, {ROLE_TAG: "sweep", **tags}, dict(params))
        return SweepHandle(experiment_id, run.run_id, uuid.uuid4().hex[:12], tuple(doc_ids))

    def finished_keys(self, sweep: SweepHandle) -> set[str]:
        return set(self.finished_metrics(sweep))

    def finished_metrics(self, sweep: SweepHandle) -> dict[str, dict[str, float]]:
        return {run.tags[TRIAL_KEY_TAG]: dict(run.metrics)
                for run in self._finished_trials(sweep.experiment_id) if not run.pruned}

    def finished_fits(self, sweep: SweepHandle) -> dict[str, str]:
        return richest_fits((run.tags[FIT_KEY_TAG], run.params, run.run_id)
                            for run in self._finished_trials(sweep.experiment_id)
                            if run.tags.get(FIT_KEY_TAG) and not run.pruned)

    def pruned_keys(self, sweep: SweepHandle, pruned_by: str) -> set[str]:
        return {run.tags[TRIAL_KEY_TAG]
                for run in self._finished_trials(sweep.experiment_id)
                if run.pruned and run.tags.get(PRUNED_BY_TAG) == pruned_by}

    def learning_curves(self, sweep: SweepHandle, keys: Collection[str], pruned_by: str,
                        context: str, metric: str) -> list[PastCurve]:
        name = f"{CURVE_PREFIX}{metric}"
        runs = {run.run_id: run for run in self._finished_trials(sweep.experiment_id)
                if run.tags.get(TRIAL_KEY_TAG) in keys and name in run.history
                and run.tags.get(CONTEXT_TAG) == context
                and (not run.pruned or run.tags.get(PRUNED_BY_TAG) == pruned_by)}
        current = current_trials(run.stored() for run in runs.values())
        return [PastCurve(trial, by_step(runs[trial.run_id].history[name]))
                for trial in sorted(one_run_a_trial(current), key=lambda t: t.start_time or 0)]

    def stored_fit(self, run_id: str, words_needed: int) -> StoredFit | None:
        run = self.runs.get(run_id)
        if run is None or run.record is None:
            return None
        if run.record.spec.metrics.words_needed < words_needed:
            return None
        return StoredFit(run_id, run.record.topic_words, run.record.assignments,
                         dict(run.metrics), dict(run.record.extras), run.record.threads,
                         run.doc_ids)

    def fail_stale_runs(self, sweep: SweepHandle) -> int:
        stale = [run for run in self.runs.values() if run.experiment_id == sweep.experiment_id
                 and run.status == "RUNNING" and run.run_id != sweep.run_id]
        for run in stale:
            run.tags |= {STALE_TAG: "true", STATUS_TAG: "FAILED"}
            run.status = "FAILED"
        return len(stale)

    def swept_elsewhere(self, experiment_id: str, mine: SweepHandle | None = None) -> str | None:
        return None  # a dict of runs lives in one process, which runs one sweep at a time

    def keep_alive(self, sweep: SweepHandle) -> AbstractContextManager[None]:
        return nullcontext()

    def discard_sweep(self, sweep: SweepHandle) -> None:
        self.runs.pop(sweep.run_id, None)

    def start_trial(self, sweep: SweepHandle, spec: TrialSpec) -> str:
        return self._new_run(sweep.experiment_id, trial_tags(sweep, spec),
                             trial_params(spec)).run_id

    def finish_trial(self, sweep: SweepHandle, run_id: str, record: TrialRecord) -> None:
        run = self.runs[run_id]
        run.record = record
        run.doc_ids = sweep.doc_ids
        run.metrics |= dict(record.metrics)
        for name, step, value in learning_curve(record):
            run.history.setdefault(name, []).append((step, value))
            run.metrics[name] = value  # the latest value, as MLflow shows it
        run.tags[STATUS_TAG] = record.status.value
        if record.rescored_from is not None:
            run.tags[RESCORED_FROM_TAG] = record.rescored_from
        if record.threads:
            run.tags[THREADS_TAG] = str(record.threads)
        if record.pruned_by is not None:
            run.tags[PRUNED_BY_TAG] = record.pruned_by
        if record.error is not None:
            run.tags[ERROR_TYPE_TAG] = record.error.type
        run.status = run_status(record.status)

    def drop_trial(self, run_id: str) -> None:
        del self.runs[run_id]

    def end_run(self, run_id: str, status: str) -> None:
        self.runs[run_id].tags[STATUS_TAG] = status
        self.runs[run_id].status = status

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        self.runs[run_id].tags |= dict(tags)

    def log_json(self, run_id: str, name: str, payload: Mapping[str, Any]) -> None:
        self.runs[run_id].artifacts[name] = dict(payload)

    def end_sweep(self, sweep: SweepHandle, status: str, metrics: Mapping[str, float]) -> None:
        run = self.runs[sweep.run_id]
        if run.status != "RUNNING":
            raise RuntimeError(f"sweep run {sweep.run_id} ended twice ({run.status}, {status})")
        run.metrics |= dict(metrics)
        run.status = status

    def finished_trials(self, experiment: str) -> list[FinishedTrial]:
        experiment_id = self.experiments.get(experiment)
        runs = self._finished_trials(experiment_id or "")
        return one_run_a_trial(current_trials(run.stored() for run in runs))

    def failed_trials(self, experiment: str) -> list[FinishedTrial]:
        experiment_id = self.experiments.get(experiment)
        return current_trials(run.stored() for run in self.runs.values()
                              if run.experiment_id == experiment_id and run.status == "FAILED"
                              and TRIAL_KEY_TAG in run.tags and STALE_TAG not in run.tags)

    def sweep_runs(self, experiment: str) -> list[SweepRun]:
        experiment_id = self.experiments.get(experiment)
        runs = [run for run in self.runs.values() if run.experiment_id == experiment_id
                and run.tags.get(ROLE_TAG) == "sweep"]
        return [SweepRun(run.run_id, run.run_id, {k: str(v) for k, v in run.params.items()},
                         run.tags, run.start_time, run.status) for run in reversed(runs)]

    def topics(self, run_id: str) -> dict[str, list[str]]:
        record = self.runs[run_id].record
        return {str(i): words for i, words in enumerate(record.topic_words)} if record else {}

    def read_json(self, run_id: str, name: str) -> dict[str, Any] | None:
        record = self.runs[run_id].record
        if name == EXTRAS_FILE and record is not None and record.extras:  # as MLflow's run has it
            return dict(record.extras)
        found = self.runs[run_id].artifacts.get(name)
        return dict(found) if isinstance(found, dict) else None

    def log_report(self, run_id: str, local_path: Path, artifact_path: str | None = None
                   ) -> None:
        """Remembers the file or folder under its artifact path (the caller keeps it)."""
        self.runs[run_id].artifacts[artifact_path or Path(local_path).name] = Path(local_path)

    def trial_runs(self, experiment: str) -> list[MemoryRun]:
        """Every trial run of `experiment` (by name), in the order they were opened."""
        experiment_id = self.experiments.get(experiment)
        return [run for run in self.runs.values() if run.experiment_id == experiment_id
                and run.tags.get(ROLE_TAG) == "trial"]

    def _finished_trials(self, experiment_id: str) -> list[MemoryRun]:
        return [run for run in self.runs.values() if run.experiment_id == experiment_id
                and run.status == "FINISHED" and TRIAL_KEY_TAG in run.tags]

    def _new_run(self, experiment_id: str, tags: dict[str, str],
                 params: dict[str, Any]) -> MemoryRun:
        run = MemoryRun(uuid.uuid4().hex, experiment_id, tags=tags, params=params)
        self.runs[run.run_id] = run
        return run
