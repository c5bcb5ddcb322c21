"""What to submit next: a retry first, then the search's next trial. A trial already finished is
skipped; one whose fit is already made (same fit key) is re-scored instead of fitted again.

Work that several trials share (a SharedStep, e.g. BERTopic's UMAP reduction) is a task of its
own: the first trial that needs it submits it and waits, parked, with every other trial that
needs it, while the workers run trials that need nothing pending; when it is done they are
released first. So no worker waits on a cache lock for work another worker is doing while
runnable work exists, and nothing is computed twice. (The cache's file lock still guards
against other sweeps.)"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from trainers import load_trainer
from tuner.data.inputs import SharedStep
from tuner.data.store import key_digest
from tuner.trial import StoredFit, TrialSpec


class TrialSource(Protocol):
    """Where trials come from: a fixed list (grid, random) or a search that learns (TPE)."""

    def next(self, beside: Collection[str] = ()) -> TrialSpec | None:
        """The next trial to run; `beside`: the models of the tasks (trials, shared steps)
        running now."""
        ...

    def exhausted(self) -> bool: ...

    def tell(self, key: str, metrics: Mapping[str, float] | None,
             pruned: bool = False) -> None:
        """How a trial ended: its metrics (of a `pruned` one, where the sweep's pruner
        stopped it), or None (failed, or pruned in an earlier sweep)."""
        ...


# Two fits of one model contend for the same part of the machine (its caches and memory
# bandwidth); fits of different models mostly do not: bench/fit_pairs.py measures it. So a
# trial of a model not running now goes first if its expected cost (Trainer.expected_cost, a
# rough figure comparable across models) is at least this share of the longest waiting
# trial's: longer trials still start first, so the sweep's last trials stay short.
MIX_SHARE = 0.5


class ListSource:
    """The trials of a grid or random search, longest first, each preferably beside trials of
    other models (MIX_SHARE)."""

    def __init__(self, trials: list[TrialSpec]) -> None:
        self.queue = sorted(((expected_cost(t), t) for t in trials), key=lambda ct: ct[0],
                            reverse=True)  # (cost, trial), longest first

    def next(self, beside: Collection[str] = ()) -> TrialSpec | None:
        if not self.queue:
            return None
        return self.queue.pop(self._index_to_start(beside))[1]

    def _index_to_start(self, beside: Collection[str]) -> int:
        """The longest waiting trial whose model is not running, if it is long enough (see
        MIX_SHARE); else the longest of all."""
        floor = MIX_SHARE * self.queue[0][0]
        for index, (cost, trial) in enumerate(self.queue):
            if cost < floor:
                break
            if trial.model not in beside:
                return index
        return 0

    def exhausted(self) -> bool:
        return not self.queue

    def tell(self, key: str, metrics: Mapping[str, float] | None,
             pruned: bool = False) -> None:
        """Static sources learn nothing from results."""


def expected_cost(spec: TrialSpec) -> float:
    """A rough relative cost, to submit long trials first: the last trials of a sweep then are
    short, and no worker idles long at the end (longest-processing-time-first)."""
    return load_trainer(spec.model).expected_cost(spec.params)


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker: fit and score `spec`, only score `stored` for it, or only
    compute `step` (shared with other trials) with `spec`'s data and parameters."""

    spec: TrialSpec
    stored: StoredFit | None = None
    step: SharedStep | None = None

    @property
    def step_id(self) -> str:
        assert self.step is not None
        return step_id(self.spec.model, self.step)


@dataclass(frozen=True)
class StepDone:
    """What a shared step's task reports (it never raises)."""

    seconds: float
    error: str | None = None
    worker: str = ""  # host:pid
    cached: bool = False  # found in its cache: nothing was computed


def step_id(model: str, step: SharedStep) -> str:
    return key_digest({"model": model, "step": step.name, "key": dict(step.key)})


def step_marker(ident: str) -> str:
    """The name under which a running step is watched, beside the trials' keys."""
    return f"step-{ident}"


StepsOf = Callable[[TrialSpec], "list[SharedStep]"]


FitLoader = Callable[[str, int], "StoredFit | None"]  # (run id, words needed) -> stored fit


@dataclass
class Scheduler:
    """Decides what runs next. `done`: trial key -> metrics of finished trials; `fitted`: fit
    key -> run id of a finished trial with that fit; `load_fit` reads a stored fit back;
    `pruned`: keys of trials a pruner stopped, done too when this sweep prunes."""

    source: TrialSource
    done: Mapping[str, Mapping[str, float]]
    fitted: Mapping[str, str] = field(default_factory=dict)
    load_fit: FitLoader | None = None
    steps_of: StepsOf | None = None  # the shared steps a trial needs
    pruned: Collection[str] = frozenset()
    retry: list[TrialSpec] = field(default_factory=list)
    suspects: set[str] = field(default_factory=set)  # trial keys that must run alone
    skipped: int = 0
    ready: list[TrialSpec] = field(default_factory=list)  # released from waiting: run first
    waiting: dict[str, list[TrialSpec]] = field(default_factory=dict)  # step id -> parked
    finished_steps: set[str] = field(default_factory=set)
    steps_run: int = 0
    # config key -> the first trial taken of it (skipped too), for every key taken
    asked: dict[str, TrialSpec] = field(default_factory=dict)
    # trials whose fit a finished run holds but could not be re-scored from (it kept fewer words
    # than the metrics now read, or an artifact is missing): fitted again, said so
    unrescorable: set[str] = field(default_factory=set)  # their trial keys

    def has_work(self) -> bool:
        return bool(self.retry or self.ready or self.waiting) or not self.source.exhausted()

    def next_task(self, in_flight: Collection[str], beside: Collection[str] = ()) -> Task | None:
        """The next task, or None when nothing may start now: no work left, or a suspect must
        run alone (it is in flight, or it is next while others are). `in_flight`: the keys of
        the trials running; `beside`: the models of the tasks (trials, shared steps) running
        (see ListSource)."""
        if any(key in self.suspects for key in in_flight):
            return None
        if in_flight and self.retry and self.retry[-1].key in self.suspects:
            return None
        while True:
            spec = self._next_spec(beside)
            if spec is None:
                return None
            if spec.config_key:
                self.asked.setdefault(spec.config_key, spec)
            if spec.key in self.done or spec.key in self.pruned:
                self.skipped += 1
                self.source.tell(spec.key, self.done.get(spec.key),
                                 pruned=spec.key not in self.done)
                continue
            stored = self._stored_fit(spec)
            task = Task(spec, stored) if stored is not None else self._unless_waiting(spec)
            if task is not None:
                return task

    def _next_spec(self, beside: Collection[str]) -> TrialSpec | None:
        if self.retry:
            return self.retry.pop()
        if self.ready:
            return self.ready.pop(0)
        return self.source.next(beside)

    def _unless_waiting(self, spec: TrialSpec) -> Task | None:
        """The trial itself when its shared steps are done; else the task of its first
        pending step (it then waits for it), or None when it waits for a step in flight."""
        for step in self.steps_of(spec) if self.steps_of is not None else []:
            ident = step_id(spec.model, step)
            if ident in self.finished_steps:
                continue
            started = ident in self.waiting
            self.waiting.setdefault(ident, []).append(spec)
            if started:
                return None
            self.steps_run += 1
            return Task(spec, step=step)
        return Task(spec)

    def step_finished(self, ident: str) -> None:
        """A shared step is done (or failed: its trials then meet the failure themselves);
        release the trials that wait for it."""
        self.finished_steps.add(ident)
        self.ready.extend(self.waiting.pop(ident, []))

    def _stored_fit(self, spec: TrialSpec) -> StoredFit | None:
        run_id = self.fitted.get(spec.fit_key) if spec.fit_key else None
        if run_id is None or self.load_fit is None:
            return None
        stored = self.load_fit(run_id, spec.metrics.words_needed)
        if stored is None:
            self.unrescorable.add(spec.key)
        return stored

    def requeue(self, specs: Collection[TrialSpec], suspects: Collection[str] = ()) -> None:
        """Submit these again (after a pool break); `suspects` will run alone."""
        self.retry.extend(specs)
        self.suspects.update(suspects)

    def tell(self, key: str, metrics: Mapping[str, float] | None,
             pruned: bool = False) -> None:
        self.source.tell(key, metrics, pruned)
