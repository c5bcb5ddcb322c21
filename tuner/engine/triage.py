"""What becomes of the trials in flight when a worker pool breaks: a pure function of plain data.

A trial whose future finished keeps its result; a trial whose worker we killed (time or memory
limit) is FAILED with our reason. Of the rest, a trial alone in flight that was already a suspect
caused the death: it is FAILED "worker died". Otherwise none is blamed: each is retried, and
when the death is unexplained each becomes a suspect that runs alone next time, so a crash names
its trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

from tuner.trial import TrialError, TrialRecord, TrialSpec, TrialStatus


@dataclass(frozen=True)
class InFlight:
    """A submitted trial: its spec, its open run, and its record if its future completed."""

    spec: TrialSpec
    run_id: str
    record: TrialRecord | None = None


@dataclass(frozen=True)
class Triage:
    records: list[tuple[InFlight, TrialRecord]] = field(default_factory=list)  # to log
    retries: list[InFlight] = field(default_factory=list)  # to resubmit; their runs dropped
    suspects: set[str] = field(default_factory=set)  # trial keys that must run alone


def triage_break(in_flight: Sequence[InFlight], killed: Mapping[str, TrialError],
                 suspects: Set[str], explained: bool = False,
                 exits: Mapping[str, str] | None = None) -> Triage:
    """Sort the trials in flight at a pool break into records, retries and new suspects.
    `explained`: the break has a known cause besides these trials (a shared step we killed).
    `exits`: trial key -> how its worker ended ("killed by SIGSEGV"), where known."""
    explained = explained or any(t.spec.key in killed for t in in_flight)
    result = Triage()
    others = []
    for trial in in_flight:
        if trial.record is not None:
            result.records.append((trial, trial.record))
        elif trial.spec.key in killed:
            result.records.append((trial, failed(trial.spec, killed[trial.spec.key])))
        else:
            others.append(trial)
    for trial in others:
        if not explained and len(others) == 1 and trial.spec.key in suspects:
            how = (exits or {}).get(trial.spec.key)
            result.records.append((trial, failed(trial.spec, worker_died(how))))
            continue
        result.retries.append(trial)
        if not explained:
            result.suspects.add(trial.spec.key)
    return result


def failed(spec: TrialSpec, error: TrialError) -> TrialRecord:
    """A trial the parent failed (its worker died, ran out of time or memory): the threads it
    ran on are those its key holds (a neural or STM fit on a CPU), else unknown; a failed run
    carried no `tuner.threads` where its worker's own record would have."""
    keyed = spec.code.get("threads", "")
    return TrialRecord(spec, TrialStatus.FAILED, error=error,
                       threads=int(keyed) if keyed.isdigit() else 0)


def worker_died(how: str | None = None) -> TrialError:
    """A trial that ended its worker on both attempts; `how` it ended (without it, a segfault
    and an exit in the trainer's native code read alike), where known."""
    ended = f" ({how})" if how else ""
    return TrialError("WorkerDied", f"worker died: the worker process exited{ended} while "
                      "running this trial, on two attempts", "")
