"""The sweep loop: submit what the scheduler says, collect results, hand records to the tracker.

It knows executors only as `submit` + `wait`, and delegates each decision: the scheduler says
what runs next (skipping finished trials, re-scoring fits already made), the watchdog enforces
time and memory limits, and `triage_break` says what becomes of the trials in flight when a pool
breaks. Faults it survives: a trial that raises (FAILED record from the worker), a worker that
dies (pool rebuilt; a crash is pinned on its trial by running suspects alone), a trial past its
limits (its worker is killed, the trial FAILED), a store that refuses a write (the record is
journalled), and SIGINT/SIGTERM (workers stopped, open runs KILLED).
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from trainers import shared_steps
from tuner.data.ground_truth import as_mapping
from tuner.data.inputs import SharedStep, StepInputs
from tuner.engine.executors import kill_workers, worker_exits
from tuner.engine.pruning import (
    PRUNING_FOLDER,
    PruningController,
    largest_budget,
    model_budgets,
    pruning_identity,
)
from tuner.engine.scheduler import (
    ListSource,
    Scheduler,
    StepDone,
    Task,
    TrialSource,
    step_marker,
)
from tuner.engine.search import TpeSource
from tuner.engine.sweep import PreparedSweep
from tuner.engine.triage import InFlight, failed, triage_break
from tuner.engine.watchdog import Limits, Watchdog
from tuner.engine.worker import read_started, rescore_trial, run_shared_step, run_trial
from tuner.errors import (
    SweepInterrupted,
    SweepNotStartedError,
    SweptElsewhereError,
    TunerError,
    root_cause,
)
from tuner.processes import signals_handled
from tuner.progress import format_duration
from tuner.tracking.liveness import swept_elsewhere_error
from tuner.tracking.records import DATA_PARAM, code_identity
from tuner.tracking.tags import (
    ASKED_TAG,
    CACHE_TAG_PREFIX,
    CLAIMED_TAG,
    CODE_TAG,
    CONTEXT_TAG,
    CORPUS_SHA256_TAG,
    EMBEDDING_KEYS_TAG,
    GRID_TAG,
    MODELS_TAG,
    PRUNED_TAG,
    PRUNER_HISTORY_TAG,
    RANKING_TAG,
    RESCORED_TAG,
    SEARCH_SEED_TAG,
    SEARCH_TAG,
    SHARED_STEPS_TAG,
    SKIPPED_TAG,
    SWEPT_TAG,
    TRIALS_TAG,
    TRUTH_TAG,
    WARNINGS_TAG,
)
from tuner.tracking.tracker import (
    EMBEDDING_NAMED,
    GROUND_TRUTH_FILE,
    SWEEP_CONFIGS_FILE,
    SWEEP_SETTINGS_FILE,
    WARNINGS_FILE,
    SweepHandle,
    Tracker,
    configs_record,
)
from tuner.trial import TrialError, TrialRecord, TrialSpec, TrialStatus, data_name

log = logging.getLogger(__name__)
ExecutorFactory = Callable[[], Executor]
# A shared step's line as it starts, runs on and ends, with at its end the worker seconds it
# took (None before), which a progress display counts as work done (else its ETA read 162 s of
# Word2Vec as the first trial's pace: 15 minutes, new-user audit of 2026-12-05).
StepHook = Callable[[str, float | None], None]
POLL_SECONDS = 0.25
STEP_SAID_AFTER_S = 1.0  # a shared step still running then is said to have started
STEP_REMINDED_S = 60.0  # and said to be still running this often
STEP_UNMARKED_S = 4.0  # a step with no marker (a remote worker's) is taken to start this late
MAX_TAG_CHARS = 5000  # MLflow refuses a tag value over 8,000 characters
__all__ = ["Limits", "SweepCounts", "SweepResult", "SweepSummary", "run_sweep"]


@dataclass(frozen=True)
class SweepCounts:
    """How a sweep's trials ended, as `tuner run` and `tuner serve` report them."""

    completed: int = 0
    failed: int = 0
    skipped: int = 0  # finished by an earlier sweep
    rescored: int = 0  # stored fits scored again (new labels, metric settings or scoring code)
    pruned: int = 0  # stopped early by the sweep's pruner (done, not ranked)
    repeated: int = 0  # TPE: trials of suggestions that repeated earlier ones, not run again
    unrunnable: int = 0  # TPE: trials of suggestions skipped as breaking a model's rules
    unasked: int = 0  # TPE: trials of the budget left once a finite space was all suggested
    unrescorable: int = 0  # trials fitted again: their stored fit could not be re-scored


@dataclass
class SweepResult:
    sweep: SweepHandle
    records: list[TrialRecord] = field(default_factory=list)
    skipped: int = 0
    stale: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)  # shared steps, in finishing order
    repeated: int = 0  # TPE: trials of suggestions that repeated earlier ones, not run again
    unrunnable: int = 0  # TPE: trials of suggestions skipped as breaking a model's rules
    unasked: int = 0  # TPE: trials of the budget left once a finite space was all suggested
    replayed_curves: int = 0  # finished trials' learning curves the pruner judged beside
    unrescorable: int = 0  # trials fitted again: their stored fit could not be re-scored

    @property
    def completed(self) -> int:
        return sum(r.status is TrialStatus.COMPLETE for r in self.records)

    @property
    def failed(self) -> int:
        return sum(r.status is TrialStatus.FAILED for r in self.records)

    @property
    def pruned(self) -> int:
        return sum(r.status is TrialStatus.PRUNED for r in self.records)

    @property
    def rescored(self) -> int:
        return sum(r.rescored_from is not None for r in self.records)

    @property
    def counts(self) -> SweepCounts:
        return SweepCounts(completed=self.completed, failed=self.failed, skipped=self.skipped,
                           rescored=self.rescored, pruned=self.pruned, repeated=self.repeated,
                           unrunnable=self.unrunnable, unasked=self.unasked,
                           unrescorable=self.unrescorable)


@dataclass(frozen=True)
class SweepSummary:
    """What the sweep's parent run records when it ends (e.g. the best trial's metrics)."""

    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


SEARCH_FILE = "search.json"  # on a TPE sweep's run: the configurations it asked for, as told
STEPS_FILE = "shared_steps.json"  # on the sweep run: each shared step's model, name and seconds


def run_sweep(prepared: PreparedSweep, tracker: Tracker, make_executor: ExecutorFactory,
              max_workers: int, on_record: Callable[[TrialRecord], None] | None = None,
              limits: Limits | None = None,
              summarize: Callable[[SweepResult], SweepSummary] | None = None,
              should_stop: Callable[[], bool] | None = None,
              on_start: Callable[[SweepHandle], None] | None = None,
              on_step: StepHook | None = None) -> SweepResult:
    """Run every trial not already finished in the tracker; log each as it completes, then end
    the sweep's parent run once, with `summarize`'s figures. `should_stop` (the service's stop
    request) ends the sweep as SIGTERM does: workers stopped, open runs KILLED. `on_start` gets
    the sweep's parent run as soon as it is opened; `on_step` a line as each shared step starts
    and ends (Word2Vec takes 235 s of a DTM sweep, whose display would otherwise stand at "3/4
    done" meanwhile)."""
    warnings = [*prepared.inputs.advice, *prepared.advice]  # validation's, then precompute's
    asked = configs_record(prepared.trials)  # a search's are known as it ends (_close)
    sweep, held = _open_sweep_run(prepared, tracker, warnings, asked["config_keys"])
    with tracker.keep_alive(sweep):
        try:
            _release_signals(held)  # a signal held meanwhile arrives here: the run ends KILLED
            _refuse_if_swept_elsewhere(tracker, sweep, prepared.grid.experiment)
            if on_start is not None:
                on_start(sweep)
            _log_sweep_inputs(prepared, tracker, sweep, warnings, asked)
            loop, source = _open_loop(prepared, tracker, sweep, on_record, limits, max_workers,
                                      should_stop, on_step)
        except SweptElsewhereError:  # its run is discarded
            raise
        except TunerError:
            _end_killed(tracker, sweep)
            raise
        except Exception as err:  # before any trial: said so, exit 2 (not 4, "after trials
            # had started")
            _end_killed(tracker, sweep)
            raise SweepNotStartedError(f"the sweep failed before any trial started: "
                                       f"{root_cause(err)}") from err
        except BaseException:  # else the sweep run stays RUNNING until the next stale check
            _end_killed(tracker, sweep)
            raise
        _execute(loop, source, make_executor)
        _close_or_kill(tracker, sweep, loop, source, summarize)
    return loop.result


def _refuse_if_swept_elsewhere(tracker: Tracker, sweep: SweepHandle, experiment: str) -> None:
    """Claim the experiment, then raise SweptElsewhereError, with this sweep's run discarded,
    if another live sweep claimed it too or opened before it where this host's lock cannot see
    it (another machine on the same tracking server, Tracker.swept_elsewhere): the two would
    run every trial twice."""
    tracker.set_tags(sweep.run_id, {CLAIMED_TAG: "true"})
    other = tracker.swept_elsewhere(sweep.experiment_id, mine=sweep)
    if other is not None:
        _discard(tracker, sweep)
        raise swept_elsewhere_error(experiment, other)


def _discard(tracker: Tracker, sweep: SweepHandle) -> None:
    """Remove the refused sweep's run (Tracker.discard_sweep); a store that refuses keeps it
    tagged refused and KILLED, as far as it took the writes."""
    try:
        tracker.discard_sweep(sweep)
    except Exception as err:  # the store is down, or may not delete: said, and not raised
        log.warning("could not remove refused sweep run %s: %s", sweep.run_id, root_cause(err))
        _end_killed(tracker, sweep)


def _open_sweep_run(prepared: PreparedSweep, tracker: Tracker, warnings: Sequence[str],
                    asked: Sequence[str]) -> tuple[SweepHandle, _HeldSignals | None]:
    """Open the sweep's parent run with SIGINT and SIGTERM held (see _hold_signals), which the
    caller releases once it holds the run. A store that cannot take it is said before any
    trial (exit 2): without it, a read-only SQLite file is reported as exit 4, "after trials
    had started", with SQLAlchemy's first line."""
    held = _hold_signals()
    try:
        sweep = tracker.start_sweep(prepared.grid.experiment,
                                    {**_sweep_tags(prepared), WARNINGS_TAG: str(len(warnings)),
                                     ASKED_TAG: str(len(asked))},
                                    _sweep_params(prepared), prepared.inputs.corpus.ids)
    except TunerError:
        _release_signals(held)
        raise
    except Exception as err:
        _release_signals(held)
        raise SweepNotStartedError(f"the tracking store cannot open the sweep's run, so no "
                                   f"trial started: {root_cause(err)}") from err
    except BaseException:
        _release_signals(held)
        raise
    return sweep, held


def _log_sweep_inputs(prepared: PreparedSweep, tracker: Tracker, sweep: SweepHandle,
                      warnings: Sequence[str], asked: Mapping[str, Any]) -> None:
    """What the rankings and reports read from the sweep's run: its settings, the
    configurations it asks for and how their rows show (`asked`, leaderboard.configs_record:
    they stand in the rankings from its start, see leaderboard.aggregate_seeds), its warnings
    (said on stderr before the sweep, which a cron job's log buries) and its ground truth (the
    report's "71% rec.sport.hockey")."""
    grid = prepared.grid
    tracker.log_json(sweep.run_id, SWEEP_SETTINGS_FILE,
                     {**grid.settings(), EMBEDDING_NAMED: grid.names_embedding_model})
    tracker.log_json(sweep.run_id, SWEEP_CONFIGS_FILE, asked)
    if warnings:
        tracker.log_json(sweep.run_id, WARNINGS_FILE, {"warnings": list(warnings)})
    truth = prepared.inputs.truth
    if truth is not None:
        tracker.log_json(sweep.run_id, GROUND_TRUTH_FILE,
                         as_mapping(truth, prepared.inputs.corpus.ids))


def _execute(loop: _Loop, source: TrialSource, make_executor: ExecutorFactory) -> None:
    """Run the loop's trials; a sweep stopped by an error or a signal ends its runs KILLED,
    with the loop's signal handler still in place (a second Ctrl-C is waited out)."""
    try:
        with _stop_on_signals(loop):
            try:
                loop.execute(make_executor)
            except BaseException as err:
                _end_abandoned(loop, err, source)
                raise
    finally:
        loop.watchdog.close()
        if loop.pruner is not None:
            loop.pruner.close()
            shutil.rmtree(loop.pruner.folder, ignore_errors=True)


def _close_or_kill(tracker: Tracker, sweep: SweepHandle, loop: _Loop, source: TrialSource,
                   summarize: Callable[[SweepResult], SweepSummary] | None) -> None:
    """Rank the trials and end the sweep's run; ended KILLED if that fails or is interrupted
    (SIGINT or SIGTERM while the trials are ranked: else the run stays RUNNING, and the CLI
    says "before any trial started")."""
    try:
        _close(tracker, sweep, loop.result, loop.scheduler, source, summarize)
    except KeyboardInterrupt as err:
        _end_killed(tracker, sweep)
        raise SweepInterrupted(getattr(err, "signum", signal.SIGINT)) from err
    except BaseException:
        _end_killed(tracker, sweep)
        raise


_HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class _HeldSignals:
    handlers: dict[int, Any]  # signal -> the handler it had
    caught: list[int] = field(default_factory=list)


def _hold_signals() -> _HeldSignals | None:
    """Hold SIGINT and SIGTERM while the sweep's run is opened (Python's handlers, which run in
    the main thread alone: a blocked mask there lets another thread take them): one that comes
    inside start_sweep, after the run is made and before its handle is returned, would leave it
    RUNNING. None where no handler can be set (another thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    held = _HeldSignals({})

    def hold(signum: int, _frame: object) -> None:
        held.caught.append(signum)
        if len(held.caught) > 1:  # asked twice while the store hangs: leave now
            _restore_handlers(held)
            raise KeyboardInterrupt

    for signum in _HELD_SIGNALS:
        held.handlers[signum] = signal.signal(signum, hold)
    return held


def _restore_handlers(held: _HeldSignals) -> None:
    for signum, handler in held.handlers.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _release_signals(held: _HeldSignals | None) -> None:
    """The handlers back, and the first signal held meanwhile raised again, for them: as a
    KeyboardInterrupt where its handler was the default action (a script's SIGTERM), so that
    the run is ended KILLED before the process stops."""
    if held is None:
        return
    _restore_handlers(held)
    if not held.caught:
        return
    signum = held.caught[0]
    handler = held.handlers[signum]
    if callable(handler):
        signal.raise_signal(signum)
    elif handler != signal.SIG_IGN:
        raise KeyboardInterrupt


def _open_loop(prepared: PreparedSweep, tracker: Tracker, sweep: SweepHandle,
               on_record: Callable[[TrialRecord], None] | None, limits: Limits | None,
               max_workers: int, should_stop: Callable[[], bool] | None,
               on_step: StepHook | None = None) -> tuple[_Loop, TrialSource]:
    """The sweep's trial loop, once stale runs are ended and finished trials are known."""
    result = SweepResult(sweep, stale=tracker.fail_stale_runs(sweep))
    done = tracker.finished_metrics(sweep)
    source = _source(prepared, tracker)
    pruned = _pruned_keys(prepared, tracker, sweep)
    scheduler = Scheduler(source, done, tracker.finished_fits(sweep), tracker.stored_fit,
                          _steps_of, pruned=pruned)
    pruner = _pruner(prepared, sweep)  # after the store's reads: its folder is made here
    try:
        if pruner is not None and prepared.grid.search.prunes:
            result.replayed_curves = _replay_history(pruner, tracker, sweep, prepared,
                                                     set(done) | pruned)
        watchdog = Watchdog(limits or Limits())
    except BaseException:  # else its heartbeat thread beats on for the life of a `tuner serve`
        if pruner is not None:
            pruner.close()
            shutil.rmtree(pruner.folder, ignore_errors=True)
        raise
    return _Loop(tracker, sweep, result, on_record, scheduler, watchdog, max_workers,
                 should_stop, pruner, on_step), source


def _replay_history(pruner: PruningController, tracker: Tracker, sweep: SweepHandle,
                    prepared: PreparedSweep, skipped: set[str]) -> int:
    """Replay into the pruner the learning curves of the finished trials this sweep skips
    (`skipped`: its done and pruned keys): a grid's or random search's own trials; for a TPE
    search, whose trials are not known before it asks, every trial of the experiment judged on
    the same data. History the pruner cannot take is left out, never a reason for the sweep
    not to start: the pruner then starts afresh."""
    if prepared.grid.search.strategy != "tpe":
        skipped &= {t.key for t in prepared.trials}
    if not skipped:
        return 0
    try:
        return pruner.replay(tracker.learning_curves(sweep, skipped, pruner.identity,
                                                     prepared.context, pruner.metric))
    except Exception as err:  # a store that fails a read, a run logged by other code
        log.warning("the pruner starts without the learning curves of the trials this sweep "
                    "skips (%s: %s)", type(err).__name__, err)
        pruner.studies.clear()
        return 0


def _end_abandoned(loop: _Loop, err: BaseException, source: TrialSource) -> None:
    """End the runs of a sweep stopped by `err`: keep finished results, stop the workers, end
    the open runs and the sweep KILLED. Asked a third time to stop meanwhile, it leaves the
    rest to the next sweep's stale-run check. A TPE search's record of what it asked is kept
    too: without it, a re-run of a search stopped after 6 of its 10 trials asks anew and
    trains 7 more."""
    loop.cleaning = True
    try:
        loop.abandon("KILLED")
        if isinstance(source, TpeSource):
            try:
                _log_search(loop.tracker, loop.sweep, source)
                _log_asked(loop.tracker, loop.sweep, loop.scheduler)
            except Exception as logged:  # the store is down: the trials are kept all the same
                log.warning("the search's record was not logged (%s)", root_cause(logged))
        _end_killed(loop.tracker, loop.sweep)
        loop.cleaning = False  # done: a signal now only notes itself
    except KeyboardInterrupt:
        log.warning("left before every run of the sweep was ended; the next sweep of the "
                    "experiment marks them FAILED")
        signum = loop.stop_signal if loop.stop_signal is not None else signal.SIGINT
        raise SweepInterrupted(signum, runs_ended=False) from err


def _end_killed(tracker: Tracker, sweep: SweepHandle) -> None:
    try:
        tracker.end_sweep(sweep, "KILLED", {})
    except Exception as err:  # the store is down: keep the original error, not this one
        log.warning("could not end sweep run %s as KILLED: %s", sweep.run_id, root_cause(err))


def _close(tracker: Tracker, sweep: SweepHandle, result: SweepResult, scheduler: Scheduler,
           source: Any, summarize: Callable[[SweepResult], SweepSummary] | None) -> None:
    """Rank the trials (`summarize`) and end the sweep's parent run with its figures."""
    result.skipped = scheduler.skipped
    result.unrescorable = len(scheduler.unrescorable)
    if isinstance(source, TpeSource):  # a search's configurations are known as it ends
        _log_asked(tracker, sweep, scheduler)
    summary = summarize(result) if summarize is not None else SweepSummary()
    tracker.set_tags(sweep.run_id, {SKIPPED_TAG: str(result.skipped),
                                    SHARED_STEPS_TAG: str(scheduler.steps_run),
                                    RESCORED_TAG: str(result.rescored),
                                    PRUNED_TAG: str(result.pruned),
                                    PRUNER_HISTORY_TAG: str(result.replayed_curves),
                                    TRIALS_TAG: str(len(result.records) + result.skipped),
                                    **summary.tags})
    if isinstance(source, TpeSource):
        result.repeated = source.repeated
        result.unrunnable = source.unrunnable_trials
        result.unasked = source.unasked_trials
        _log_search(tracker, sweep, source)
    if result.steps:
        tracker.log_json(sweep.run_id, STEPS_FILE, {"steps": result.steps})
    tracker.end_sweep(sweep, "FINISHED", summary.metrics)


def _log_asked(tracker: Tracker, sweep: SweepHandle, scheduler: Scheduler) -> None:
    """The configurations a search asked for, known as it ends or is stopped: a stopped
    search's rows of earlier settings are marked too (leaderboard.asked_unfinished)."""
    tracker.log_json(sweep.run_id, SWEEP_CONFIGS_FILE, configs_record(scheduler.asked.values()))
    tracker.set_tags(sweep.run_id, {ASKED_TAG: str(len(scheduler.asked))})


def _log_search(tracker: Tracker, sweep: SweepHandle, source: TpeSource) -> None:
    """The configurations a TPE search asked for and finished, which a re-run asks again."""
    tracker.log_json(sweep.run_id, SEARCH_FILE, {
        "configurations": source.finished, "repeated_trials": source.repeated,
        "skipped_suggestions": source.unrunnable})


def _step_name(task: Task) -> str:
    assert task.step is not None
    label = f" ({task.step.label})" if task.step.label else ""
    return f"shared step {task.step.name}{label} of {task.spec.model}"


def _step_end(done: StepDone) -> str:
    if done.error is not None:
        return "failed"
    if done.cached:
        return f"found in its cache ({done.seconds:.1f} s)"
    return f"done in {done.seconds:.1f} s"


def _steps_of(spec: TrialSpec) -> list[SharedStep]:
    bow_key = spec.data.bow_path.rsplit("/", 1)[-1]  # the folder named by the bag's digest
    return shared_steps(spec.model, spec.params,
                        StepInputs(spec.seed, bow_key, spec.data.embedding_key))


def _objectives(prepared: PreparedSweep) -> tuple[str, ...]:
    """What the sweep optimises: the search's metrics, else the leaderboard's, else ARI with a
    ground truth and NPMI without."""
    grid = prepared.grid
    return grid.search.metrics or (grid.ranking_metric(prepared.inputs.truth is not None),)


def _pruned_keys(prepared: PreparedSweep, tracker: Tracker, sweep: SweepHandle) -> set[str]:
    """The trials a re-run counts as done though pruned: those this sweep's pruner, with its
    settings, stopped for this sweep's objective."""
    spec = prepared.grid.search.pruner
    if spec is None or not prepared.grid.search.prunes:
        return set()
    return tracker.pruned_keys(sweep, pruning_identity(spec, _objectives(prepared)[0]))


def _pruner(prepared: PreparedSweep, sweep: SweepHandle) -> PruningController | None:
    """The sweep's pruner, deciding on its first objective, or None."""
    from tuner.metrics import higher_is_better

    spec = prepared.grid.search.pruner
    if spec is None:
        return None
    metric = _objectives(prepared)[0]
    if prepared.factory is not None:
        cache = Path(prepared.factory.cache_dir)
    else:  # a hand-made PreparedSweep (tests)
        cache = Path(prepared.trials[0].data.cache_dir if prepared.trials else "embedding_cache")
    ceilings = {s.model: largest_budget(s.model, s.space) for s in prepared.grid.sweeps}
    return PruningController(spec, metric, higher_is_better(metric),
                             model_budgets(spec, prepared.trials, ceilings),
                             cache.resolve() / PRUNING_FOLDER / sweep.run_id, ceilings)


def _source(prepared: PreparedSweep, tracker: Tracker) -> TrialSource:
    grid = prepared.grid
    if grid.search.strategy != "tpe":
        return ListSource(prepared.trials)
    from tuner.metrics import higher_is_better

    metrics = _objectives(prepared)
    search = replace(grid.search, metrics=tuple(metrics))
    directions: list[Literal["minimize", "maximize"]] = [
        "maximize" if higher_is_better(m) else "minimize" for m in metrics]
    assert prepared.factory is not None
    space = {s.model: s.space for s in grid.sweeps}
    return TpeSource(space, search, grid.seeds, prepared.factory.make, directions,
                     _earlier_suggestions(tracker, prepared))


def _earlier_suggestions(tracker: Tracker, prepared: PreparedSweep
                         ) -> list[list[tuple[str, dict[str, Any]]]]:
    """Each earlier TPE search's suggestions, oldest sweep first, from its `search.json`: those
    on the same data (tuner.context) with the same search seed (a sweep logged before sweeps
    were tagged with their search is read if it has the file). A search stopped before it ended
    wrote none: its finished trials are still skipped when suggested again, not replayed."""
    earlier = []
    for sweep in reversed(tracker.sweep_runs(prepared.grid.experiment)):
        tags = sweep.tags
        if tags.get(CONTEXT_TAG) != prepared.context or tags.get(SEARCH_TAG, "tpe") != "tpe" \
                or tags.get(SEARCH_SEED_TAG, str(prepared.grid.search.seed)) != \
                str(prepared.grid.search.seed):
            continue
        logged = tracker.read_json(sweep.run_id, SEARCH_FILE) or {}
        earlier.append([(str(c.get("model")), dict(c["params"]))
                        for c in logged.get("configurations", [])
                        if isinstance(c, dict) and isinstance(c.get("params"), dict)])
    return earlier


@contextmanager
def _stop_on_signals(loop: _Loop) -> Iterator[None]:
    """While the sweep runs, SIGINT/SIGTERM ask the loop to stop at its next poll (never in the
    middle of a tracker write); while a stopped sweep's runs are ended, a second signal is
    waited out and a third leaves."""

    def handler(signum: int, _frame: object) -> None:
        if not loop.cleaning:
            loop.stop_signal = signum  # the loop stops at its next poll (or has stopped)
            return
        if loop.stop_signal is None:  # the sweep stopped on an error: say which signal came
            loop.stop_signal = signum
        if not loop.signalled_while_cleaning:
            # Users press Ctrl-C twice: a second one that cut the clean-up short would leave
            # the sweep and its trials RUNNING, so it waits for the runs to end.
            loop.signalled_while_cleaning = True
        else:
            raise KeyboardInterrupt  # a third leaves at once (a store that does not answer)

    with signals_handled(handler):
        yield


class _Loop:
    """One sweep's trials in flight, across pool rebuilds."""

    def __init__(self, tracker: Tracker, sweep: SweepHandle, result: SweepResult,
                 on_record: Callable[[TrialRecord], None] | None, scheduler: Scheduler,
                 watchdog: Watchdog, max_workers: int,
                 should_stop: Callable[[], bool] | None = None,
                 pruner: PruningController | None = None,
                 on_step: StepHook | None = None) -> None:
        self.tracker, self.sweep, self.result, self.on_record = tracker, sweep, result, on_record
        self.should_stop, self.pruner, self.on_step = should_stop, pruner, on_step
        self.scheduler, self.watchdog, self.max_workers = scheduler, watchdog, max_workers
        self.running: dict[Future[TrialRecord], InFlight] = {}
        self.steps: dict[Future[StepDone], Task] = {}  # shared steps in flight
        # steps in flight not yet said: when submitted, when their worker's marker was seen
        self.unannounced: dict[Future[StepDone], tuple[float, float | None]] = {}
        # steps said to have started: since when, and when a line last said so
        self.announced: dict[Future[StepDone], tuple[float, float]] = {}
        self.executor: Executor | None = None
        self.stop_signal: int | None = None
        self.cleaning = False  # a stopped sweep's runs are being ended (_end_abandoned)
        self.signalled_while_cleaning = False

    def execute(self, make_executor: ExecutorFactory) -> None:
        while self.scheduler.has_work():
            self.executor = make_executor()
            try:
                broken = self._drain(self.executor)
            except BaseException:
                kill_workers(self.executor)
                self.executor.shutdown(wait=False, cancel_futures=True)
                raise
            if broken:
                kill_workers(self.executor)
            self.executor.shutdown(wait=not broken, cancel_futures=True)

    def _drain(self, executor: Executor) -> bool:
        """Run trials on one executor until no work is left; True if its pool broke.

        Finished trials free their worker first and are logged after the next submissions, so
        no worker idles while the parent writes to the tracking store; they are logged even if
        a submission fails.
        """
        while self.scheduler.has_work() or self.running or self.steps:
            self._raise_if_stopped()
            if not self._fill(executor):
                return self._broke()
            if not self.running and not self.steps:
                continue
            pending: list[Future[Any]] = [*self.running, *self.steps]
            finished, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            self._announce_steps()
            try:
                self._steps_done([f for f in finished if f in self.steps])
                records = {future: self._record(future) for future in finished
                           if future in self.running}
            except BrokenProcessPool:
                return self._broke()
            done = [(self.running.pop(future), record) for future, record in records.items()]
            for _, record in done:  # a search suggests the next trials knowing these results
                self._tell(record)
            try:
                broken = not self._fill(executor)
            finally:
                self._finish_all(done)
            if broken:
                return self._broke()
            self.watchdog.check([*(t.spec.key for t in self.running.values()),
                                 *(step_marker(t.step_id) for t in self.steps.values())])
            if self.pruner is not None:
                self.pruner.poll()
        return False

    def _raise_if_stopped(self) -> None:
        """A signal, or the service's stop request, ends the sweep at this poll."""
        if self.stop_signal is not None:
            raise SweepInterrupted(self.stop_signal)
        if self.should_stop is not None and self.should_stop():
            raise SweepInterrupted(signal.SIGTERM)

    def _fill(self, executor: Executor) -> bool:
        """Submit tasks until `max_workers` are in flight; False if the pool broke."""
        while len(self.running) + len(self.steps) < self.max_workers:
            task = self.scheduler.next_task([t.spec.key for t in self.running.values()],
                                            self.running_models())
            if task is None:
                return True
            if not self._submit(executor, task):
                return False
        return True

    def running_models(self) -> set[str]:
        """The models of the trials and shared steps in flight: the scheduler starts the next
        trial beside other models' where it can (ListSource)."""
        return {*(t.spec.model for t in self.running.values()),
                *(t.spec.model for t in self.steps.values())}

    def _submit(self, executor: Executor, task: Task) -> bool:
        """Submit a task; False (and the trial kept for a retry) if the pool broke."""
        if task.step is not None:
            return self._submit_step(executor, task)
        spec = task.spec
        try:
            if task.stored is not None:
                future = executor.submit(rescore_trial, spec, task.stored)
            else:
                spec = self.pruner.plan(spec) if self.pruner is not None else spec
                future = executor.submit(run_trial, spec, str(self.watchdog.started_dir))
        except BrokenProcessPool:
            self.scheduler.requeue([task.spec])
            return False
        self.running[future] = InFlight(spec, self.tracker.start_trial(self.sweep, spec))
        return True

    def _submit_step(self, executor: Executor, task: Task) -> bool:
        assert task.step is not None
        try:
            future = executor.submit(run_shared_step, task.spec, task.step,
                                     str(self.watchdog.started_dir))
            self.steps[future] = task
        except BrokenProcessPool:
            self.scheduler.step_finished(task.step_id)  # its trials compute it themselves
            return False
        self.unannounced[future] = (time.monotonic(), None)
        return True

    def _announce_steps(self) -> None:
        """Say which shared steps have run for STEP_SAID_AFTER_S since the parent saw their
        worker's marker: one its cache holds ends in 0.1 s, and "started" then "found in its
        cache" would read as work done twice."""
        now = time.monotonic()
        for future, (submitted, marked) in list(self.unannounced.items()):
            task = self.steps.get(future)
            if task is None:
                del self.unannounced[future]
                continue
            if marked is None and read_started(self.watchdog.started_dir,
                                               step_marker(task.step_id)) is not None:
                marked = now  # the parent's clock: a Dask worker's may differ
                self.unannounced[future] = (submitted, marked)
            # a worker on another machine leaves no marker here: said a while after submission
            since = marked if marked is not None else submitted + STEP_UNMARKED_S
            if now - since >= STEP_SAID_AFTER_S:
                del self.unannounced[future]
                self.announced[future] = (since, now)
                self._say(f"{_step_name(task)} started (the trials that need it wait for it)")
        self._remind_steps(now)

    def _remind_steps(self, now: float) -> None:
        """A line every STEP_REMINDED_S for each step still running: Word2Vec took 162 s on 300
        UN speeches while progress read "0/8 done · ETA ?" below its one "started" line (new-user
        audit of 2026-12-05), and 11 minutes on 20 Newsgroups."""
        for future, (since, said) in list(self.announced.items()):
            task = self.steps.get(future)
            if task is None:
                del self.announced[future]
            elif now - said >= STEP_REMINDED_S:
                self.announced[future] = (since, now)
                self._say(f"{_step_name(task)} still running, {format_duration(now - since)} "
                          "so far (the trials that need it wait for it)")

    def _say(self, line: str, seconds: float | None = None) -> None:
        if self.on_step is not None:
            try:
                self.on_step(line, seconds)
            except Exception:  # a display: the sweep goes on
                log.exception("reporting a shared step failed")

    def _steps_done(self, finished: list[Future[StepDone]]) -> None:
        """Release the trials waiting for these steps; raises BrokenProcessPool if the pool
        died under one."""
        broken: BrokenProcessPool | None = None
        for future in finished:
            task = self.steps[future]
            try:
                done = future.result()
            except BrokenProcessPool as err:
                broken = err  # the step stays in flight: the break's triage sees if it was killed
                continue
            except (Exception, SystemExit) as err:  # a cluster lost the worker: trials redo it
                done = StepDone(0.0, f"worker died: {err}")
            del self.steps[future]
            self.scheduler.step_finished(task.step_id)
            self._log_step(task, done)
            if done.error is not None:
                log.warning("a shared step failed (%s); its trials compute it themselves",
                            done.error)
        if broken is not None:  # steps that finished before the break are released first
            raise broken

    def _log_step(self, task: Task, done: StepDone) -> None:
        assert task.step is not None
        self.result.steps.append({"step": task.step.name, "model": task.spec.model,
                                  "id": task.step_id, "seconds": round(done.seconds, 3),
                                  "worker": done.worker, "error": done.error,
                                  "cached": done.cached})
        self._say(f"{_step_name(task)} " + _step_end(done), done.seconds)

    def _record(self, future: Future[TrialRecord]) -> TrialRecord:
        """A finished trial's record; raises BrokenProcessPool if the pool died under it."""
        try:
            return self.watchdog.held_to_limits(future.result())
        except BrokenProcessPool:
            raise
        except (Exception, SystemExit) as err:  # a cluster lost the worker (Dask's KilledWorker)
            spec = self.running[future].spec
            stopped = self.watchdog.killed.get(spec.key)  # over a limit: say which
            self.watchdog.forget([spec.key])
            return failed(spec, stopped or TrialError(type(err).__name__,
                                                      f"worker died: {err}", ""))

    def _held(self, record: TrialRecord | None) -> TrialRecord | None:
        return None if record is None else self.watchdog.held_to_limits(record)

    def _broke(self) -> bool:
        """The pool died: log what triage says is settled, requeue the rest."""
        self._raise_if_stopped()  # the service stopped the sweep: its runs end KILLED
        in_flight = [replace(trial, record=self._held(_result_or_none(future)))
                     for future, trial in self.running.items()]
        self.running.clear()
        step_killed = False
        for task in self.steps.values():
            reason = self.watchdog.killed.get(step_marker(task.step_id))
            self.watchdog.forget([step_marker(task.step_id)])
            if reason is not None:
                step_killed = True
                log.warning("a shared step was stopped (%s); its trials compute it themselves, "
                            "within the same limits", reason.message)
            self._log_step(task, StepDone(0.0, reason.message if reason else "the pool broke"))
            self.scheduler.step_finished(task.step_id)
        self.steps.clear()
        self.unannounced.clear()
        self.announced.clear()
        triage = triage_break(in_flight, self.watchdog.killed, self.scheduler.suspects,
                              explained=step_killed, exits=self._worker_exits(in_flight))
        self.watchdog.forget(trial.spec.key for trial in in_flight)
        for _, record in triage.records:
            self._tell(record)
        self._finish_all(triage.records)
        for trial in triage.retries:
            self.tracker.drop_trial(trial.run_id)
        if self.pruner is not None:
            self.pruner.forget(t.spec.key for t in triage.retries)
        self.scheduler.requeue([t.spec for t in triage.retries], triage.suspects)
        if triage.retries:  # said: a worker's death is otherwise silent
            log.warning("a worker of the pool died; %d trial%s it held run again on a new pool",
                        len(triage.retries), "s" * (len(triage.retries) != 1))
        return True

    def _worker_exits(self, in_flight: list[InFlight]) -> dict[str, str]:
        """How the worker of each trial in flight ended, from the pid its marker names."""
        ended = worker_exits(self.executor)
        exits = {}
        for trial in in_flight:
            started = read_started(self.watchdog.started_dir, trial.spec.key)
            if started is not None and started[0] in ended:
                exits[trial.spec.key] = ended[started[0]]
        return exits

    def _tell(self, record: TrialRecord) -> None:
        """Tell the scheduler (a search learns from it) how a trial ended. It runs before the
        result is logged, so it must not lose it: a search that cannot learn it goes on
        without."""
        pruned = record.status is TrialStatus.PRUNED  # its metrics where it stopped
        told = record.metrics if record.status is TrialStatus.COMPLETE or pruned else None
        try:
            self.scheduler.tell(record.spec.key, told, pruned=pruned)
        except Exception:
            log.exception("the search could not learn how trial %s ended", record.spec.key)

    def _finish_all(self, finished: list[tuple[InFlight, TrialRecord]]) -> None:
        """Log each finished trial (told to the scheduler already). One that cannot be logged
        does not keep the others from it: the first error is raised once all were tried, since
        the records are out of `running`, where abandon() would have found them."""
        first: Exception | None = None
        for trial, record in finished:
            try:
                self._finish(trial, record)
            except Exception as err:
                if first is not None:
                    log.warning("could not log trial %s either: %s", record.spec.key, err)
                first = first or err
        if first is not None:
            raise first

    def _finish(self, trial: InFlight, record: TrialRecord) -> None:
        if record.status is TrialStatus.PRUNED and self.pruner is not None:
            record = replace(record, pruned_by=self.pruner.identity)  # logged with it
        self.tracker.finish_trial(self.sweep, trial.run_id, record)  # logged (or journalled) first
        if self.pruner is not None:
            try:
                self.pruner.finish(record)
            except Exception:
                log.exception("the pruner could not learn how trial %s ended", record.spec.key)
        self.result.records.append(record)
        if self.on_record is not None:
            try:
                self.on_record(record)
            except Exception:  # a display or a service's status: the result is logged
                log.exception("reporting trial %s failed", record.spec.key)

    def abandon(self, status: str) -> None:
        """Keep the results already in, then stop this sweep's workers and end its open child
        runs with `status` (e.g. KILLED)."""
        self._keep_finished()
        if self.executor is not None:
            kill_workers(self.executor)
        for trial in self.running.values():
            try:
                self.tracker.end_run(trial.run_id, status)
            except Exception as err:  # the store is down: its stale-run check ends them later
                log.warning("could not end run %s as %s: %s", trial.run_id, status, err)
        self.running.clear()

    def _keep_finished(self) -> None:
        """Log (or journal, if the store still refuses) every trial that finished while the
        parent was held up: a store that refuses a new run for 40 s holds the parent, and a
        trial that finishes meanwhile would otherwise be ended KILLED with its result
        dropped."""
        for future, trial in list(self.running.items()):
            record = _result_or_none(future)
            if record is None:
                continue
            del self.running[future]
            self._tell(record)
            try:
                self._finish(trial, record)
            except Exception as err:
                log.warning("could not keep the result of trial %s: %s", trial.spec.key, err)


def _result_or_none(future: Future[TrialRecord]) -> TrialRecord | None:
    if future.done() and not future.cancelled() and future.exception() is None:
        return future.result()
    return None


def _sweep_tags(prepared: PreparedSweep) -> dict[str, str]:
    grid = prepared.grid
    tags = {GRID_TAG: str(grid.path.resolve()),
            CORPUS_SHA256_TAG: prepared.inputs.corpus.sha256,
            MODELS_TAG: ",".join(s.model for s in grid.sweeps),
            CONTEXT_TAG: prepared.context,
            CODE_TAG: json.dumps(code_identity((s.model for s in grid.sweeps),
                                               prepared.inputs.corpus.language), sort_keys=True),
            RANKING_TAG: grid.ranking_metric(prepared.inputs.truth is not None),
            TRUTH_TAG: prepared.inputs.truth.sha256 if prepared.inputs.truth is not None
            else "none",
            SEARCH_TAG: grid.search.strategy, SEARCH_SEED_TAG: str(grid.search.seed)}
    swept = json.dumps(grid.swept(), sort_keys=True)
    if len(swept) <= MAX_TAG_CHARS:  # else rows name what varies among finished trials only
        tags[SWEPT_TAG] = swept
    tags |= {f"{CACHE_TAG_PREFIX}{k}": v for k, v in prepared.cache_events.items()}
    if prepared.embedding_keys:
        tags[EMBEDDING_KEYS_TAG] = ",".join(k.digest for k in prepared.embedding_keys)
    return tags


def _sweep_params(prepared: PreparedSweep) -> dict[str, object]:
    grid = prepared.grid
    params: dict[str, object] = {
        "dataset": str(grid.dataset.path), "documents": len(prepared.inputs.corpus),
        "language": grid.dataset.language, "models": ",".join(s.model for s in grid.sweeps),
        "seeds": ",".join(map(str, grid.seeds)), "trials": len(prepared.trials),
        **asdict(grid.metrics),
        **{f"preprocessing.{k}": v for k, v in grid.preprocessing.as_logged().items()},
        "ground_truth": str(grid.ground_truth) if grid.ground_truth else
        f"label_field:{grid.dataset.label_field}", DATA_PARAM: data_name(prepared.context),
    }
    truth = prepared.inputs.truth
    if truth is not None:  # said beside each sweep by `tuner report` (report audit, 2026-12-05)
        params["classes"] = len(truth.names)
    for i, key in enumerate(prepared.embedding_keys):
        suffix = "" if i == 0 else f"_{i}"
        params |= {f"embedding_model{suffix}": key.model, f"pooling{suffix}": key.pooling,
                   f"max_length{suffix}": key.max_length,
                   f"long_documents{suffix}": key.long_documents}
    return params
