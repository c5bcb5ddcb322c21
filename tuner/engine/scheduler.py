"""What to submit next: a retry first, then the search's next trial. A trial already finished is
skipped; one whose fit is already made (same fit key) is re-scored instead of fitted again."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from tuner.trial import StoredFit, TrialSpec

EPOCH_WEIGHT = 20  # one training epoch costs about as much as 20 sampling iterations


class TrialSource(Protocol):
    """Where trials come from: a fixed list (grid, random) or a search that learns (TPE)."""

    def next(self) -> TrialSpec | None: ...

    def exhausted(self) -> bool: ...

    def tell(self, key: str, metrics: Mapping[str, float] | None) -> None: ...


class ListSource:
    """The trials of a grid or random search, longest first."""

    def __init__(self, trials: list[TrialSpec]) -> None:
        self.queue = sorted(trials, key=expected_cost, reverse=True)

    def next(self) -> TrialSpec | None:
        return self.queue.pop(0) if self.queue else None

    def exhausted(self) -> bool:
        return not self.queue

    def tell(self, key: str, metrics: Mapping[str, float] | None) -> None:
        """Static sources learn nothing from results."""


def expected_cost(spec: TrialSpec) -> float:
    """A rough relative cost, to submit long trials first: the last trials of a sweep then are
    short, and no worker idles long at the end (longest-processing-time-first)."""
    params = spec.params
    budget = (params.get("epochs") or 0) * EPOCH_WEIGHT or params.get("max_iter") \
        or params.get("n_iter") or 100
    return float(budget) * float(params.get("num_topics") or params.get("max_topics") or 20)


@dataclass(frozen=True)
class Task:
    """One unit of work for a worker: fit and score `spec`, or only score `stored` for it."""

    spec: TrialSpec
    stored: StoredFit | None = None


FitLoader = Callable[[str, int], "StoredFit | None"]  # (run id, words needed) -> stored fit


@dataclass
class Scheduler:
    """Decides what runs next. `done`: trial key -> metrics of finished trials; `fitted`: fit
    key -> run id of a finished trial with that fit; `load_fit` reads a stored fit back."""

    source: TrialSource
    done: Mapping[str, Mapping[str, float]]
    fitted: Mapping[str, str] = field(default_factory=dict)
    load_fit: FitLoader | None = None
    retry: list[TrialSpec] = field(default_factory=list)
    suspects: set[str] = field(default_factory=set)  # trial keys that must run alone
    skipped: int = 0

    def has_work(self) -> bool:
        return bool(self.retry) or not self.source.exhausted()

    def next_task(self, in_flight: Collection[str]) -> Task | None:
        """The next task, or None when nothing may start now: no work left, or a suspect must
        run alone (it is in flight, or it is next while others are)."""
        if any(key in self.suspects for key in in_flight):
            return None
        if in_flight and self.retry and self.retry[-1].key in self.suspects:
            return None
        while True:
            spec = self.retry.pop() if self.retry else self.source.next()
            if spec is None:
                return None
            if spec.key not in self.done:
                return Task(spec, self._stored_fit(spec))
            self.skipped += 1
            self.source.tell(spec.key, self.done[spec.key])

    def _stored_fit(self, spec: TrialSpec) -> StoredFit | None:
        run_id = self.fitted.get(spec.fit_key) if spec.fit_key else None
        if run_id is None or self.load_fit is None:
            return None
        return self.load_fit(run_id, spec.metrics.words_needed)

    def requeue(self, specs: Collection[TrialSpec], suspects: Collection[str] = ()) -> None:
        """Submit these again (after a pool break); `suspects` will run alone."""
        self.retry.extend(specs)
        self.suspects.update(suspects)

    def tell(self, key: str, metrics: Mapping[str, float] | None) -> None:
        self.source.tell(key, metrics)
