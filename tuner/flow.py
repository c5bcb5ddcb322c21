"""The whole sweep flow shared by `tuner run` and `tuner serve`: lock the experiment, open the
tracker, precompute, run every trial, rank the results and close the parent run."""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tuner.data.store import WaitWatch, waits_watched
from tuner.devices import usable_cores
from tuner.engine.executors import SharedPool, WarmPool, make_executor, threads_per_worker
from tuner.engine.runner import (
    Limits,
    StepHook,
    SweepCounts,
    SweepResult,
    SweepSummary,
    run_sweep,
)
from tuner.engine.sweep import CheckedInputs, PreparedSweep, precompute
from tuner.errors import (
    SweepAbortedError,
    SweepInterrupted,
    SweepLockedError,
    SweepNotStartedError,
    TrackingError,
    first_line,
    root_cause,
)
from tuner.grid import Grid
from tuner.reporting.health import background_topics_said, sweep_warnings, trial_concerns
from tuner.reporting.importance import (
    IMPORTANCE_FILE,
    MIN_CONFIGS,
    importance_record,
    model_importances,
    needs_fanova,
)
from tuner.reporting.leaderboard import (
    ALL_ROWS,
    ConfigResult,
    asked_by,
    leaderboard,
    recommended,
    replaced_said,
    standing_trials,
    trials_on_current_data,
)
from tuner.startup import resume_collection
from tuner.tracking.liveness import swept_elsewhere_error
from tuner.tracking.records import FinishedTrial
from tuner.tracking.tags import BEST_RUN_ID_TAG, CONTEXT_TAG, WARNINGS_TAG
from tuner.tracking.tracker import (
    WARNINGS_FILE,
    MlflowTracker,
    SweepHandle,
    import_tracking_libraries,
)
from tuner.tracking.uri import local_store, redact_uri, store_identity
from tuner.trial import TrialRecord

LOCK_FOLDER = ".locks"
log = logging.getLogger(__name__)
LOCK_DIR_ENV = "TUNER_LOCK_DIR"  # lock folder for sweeps on a tracking server


@dataclass(frozen=True)
class SweepSettings:
    """Where results and caches live and how many trials run at once."""

    tracking_uri: str
    cache_dir: Path
    max_workers: int = 2
    executor: str = "process"
    progress: bool = True
    leaderboard_rows: int = 10
    trial_timeout_s: float | None = None  # the grid's timeout_s applies when this is None
    max_memory_mb: float | None = None
    scheduler: str | None = None  # Dask scheduler address for executor "dask"
    threads_per_worker: int | None = None  # None: the usable cores shared out among workers
    # Set by `tuner serve` on SIGTERM: no new worker pool starts, so once the server has
    # stopped the workers the sweep ends KILLED (signals reach only the main thread).
    stop: threading.Event | None = field(default=None, compare=False)
    # `tuner serve`'s warm workers, lent to each of its sweeps (None: the sweep starts its own).
    pool: SharedPool | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SweepOutcome:
    experiment_id: str
    parent_run_id: str
    metric: str
    board: list[ConfigResult]  # configurations ranked by the mean over their seeds
    counts: SweepCounts
    journalled: int = 0  # results the store refused, kept in the journal for the next run
    unshown: int = 0  # configurations ranked below the board's last row
    # the experiment's sweeps on other data or settings (labels, preprocessing), not ranked
    other_data: int = 0
    # what the ranked trials' own figures say is likely wrong with them (tuner.reporting.health)
    warnings: list[str] = field(default_factory=list)
    # those of `warnings` that quote the corpus (background topics' words): a served sweep's
    # status leaves them out, as it does validation's (they are on the sweep run in MLflow)
    quoting: frozenset[str] = frozenset()


@dataclass
class SweepHooks:
    """Optional callbacks: after precompute (with the number of trials already finished), once
    the sweep's parent run is open (with its run id) and after each trial is logged."""

    # with the keys of its trials an earlier sweep finished, which are skipped
    on_prepared: Callable[[PreparedSweep, frozenset[str]], None] | None = None
    on_record: Callable[[TrialRecord], None] | None = None
    on_start: Callable[[str], None] | None = None
    on_step: StepHook | None = None  # a line as each shared step starts and ends
    # a line as a wait on another sweep's cache lock starts, None as it ends (store.WaitWatch)
    on_wait: Callable[[str | None], None] | None = None


def journal_dir(cache_dir: Path) -> Path:
    """Where results the store refused wait for the next run: beside the caches, which
    docker-compose keeps on a volume."""
    return Path(cache_dir).resolve() / "journal"


def lock_folder(tracking_uri: str) -> Path:
    """Where the locks of a store live: beside a local store (so every cache folder and user
    of it shares them), else $TUNER_LOCK_DIR or ~/.cache/tuner/locks on this machine."""
    local = local_store(tracking_uri)
    if local is not None:
        return local.parent / LOCK_FOLDER
    return Path(os.environ.get(LOCK_DIR_ENV) or Path.home() / ".cache" / "tuner" / "locks")


def lock_path(tracking_uri: str, experiment: str) -> Path:
    """The lock file of one (tracking store, experiment): two sweeps of an experiment on one
    store exclude each other whatever their cache folders."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment).strip("._")[:80] or "experiment"
    digest = hashlib.sha256(f"{_locked_store(tracking_uri)}\0{experiment}".encode()).hexdigest()
    return lock_folder(tracking_uri) / f"{safe}-{digest[:16]}.lock"


def _locked_store(tracking_uri: str) -> str:
    """The store as its locks name it: a local store by its file's name alone, since its locks
    live in its own folder. By path, one store reached two ways (a bind mount, a container's
    volume) would have two locks, and two sweeps of one experiment could run at once and leave
    duplicate FINISHED runs; by the folder's inode, two hosts mounting it over NFS would have
    two."""
    local = local_store(tracking_uri)
    return f"file:{local.name}" if local is not None else store_identity(tracking_uri)


@contextmanager
def experiment_lock(tracking_uri: str, experiment: str) -> Iterator[Path]:
    """Hold the (store, experiment) lock without waiting; raise SweepLockedError if taken."""
    from filelock import FileLock, Timeout

    folder = lock_folder(tracking_uri)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path(tracking_uri, experiment)), blocking=False)
        lock.acquire()
    except Timeout as err:  # a TimeoutError, so an OSError: first
        raise SweepLockedError(
            f"experiment '{experiment}': another sweep on {redact_uri(tracking_uri)} holds "
            f"{err.lock_file}; it is still running (an overlapping cron run or `tuner serve`). "
            "Wait for it to finish; nothing was started.") from err
    except OSError as err:  # a read-only store folder: exit 2, not 3 ("another sweep runs")
        raise TrackingError(f"{folder}: the lock of experiment '{experiment}' cannot be "
                            f"written there ({err.strerror}); tuner locks beside a local "
                            "store: its folder must be writable") from err
    try:
        yield Path(lock.lock_file)
    finally:
        lock.release()


def is_locked(tracking_uri: str, experiment: str) -> bool:
    """Whether some process holds the (store, experiment) lock right now. Asking creates no
    file: a holder has created it, and a refused request must leave nothing behind."""
    if not lock_path(tracking_uri, experiment).exists():
        return False
    try:
        with experiment_lock(tracking_uri, experiment):
            return False
    except SweepLockedError:
        return True


def execute_sweep(grid: Grid, inputs: CheckedInputs, settings: SweepSettings,
                  hooks: SweepHooks | None = None) -> SweepOutcome:
    """Run a validated grid end to end under the experiment's lock.

    Raises:
        SweepLockedError: another sweep of this experiment is running.
        TunerError: the tracking store or the caches cannot be used (found before any trial).
        SweepAbortedError: an error stopped the sweep after trials had started (e.g. the
            tracking store went away); `--debug` shows the cause.
    """
    with experiment_lock(settings.tracking_uri, grid.experiment):
        return _execute_locked(grid, inputs, settings, hooks or SweepHooks())


def _execute_locked(grid: Grid, inputs: CheckedInputs, settings: SweepSettings,
                    hooks: SweepHooks) -> SweepOutcome:
    # Workers start and import their libraries (seconds) while the parent opens the store and
    # precomputes; a store that cannot be used still stops the sweep before any trial runs.
    models = [s.model for s in grid.sweeps]
    pool = WarmPool(_executor_factory(settings, models), models, settings.max_workers)
    try:
        import_tracking_libraries(settings.tracking_uri)
        resume_collection()  # a command's start-up imports are done (tuner.startup)
        tracker = MlflowTracker(settings.tracking_uri,
                                journal_dir=journal_dir(settings.cache_dir))
        experiment_id = tracker.experiment_id(grid.experiment)
        assert experiment_id is not None
        other = tracker.swept_elsewhere(experiment_id)  # before precompute's minutes
        if other is not None:
            raise swept_elsewhere_error(grid.experiment, other)
        watch = WaitWatch(hooks.on_wait or _unheard, lambda: _raise_if_stopped(settings))
        with waits_watched(watch):
            prepared = precompute(grid, inputs, settings.cache_dir, progress=settings.progress,
                                  between_batches=lambda: _raise_if_stopped(settings),
                                  threads=threads_per_worker(settings.max_workers,
                                                             settings.threads_per_worker))
        done = tracker.finished_trial_keys(experiment_id, pruned=grid.search.prunes)
        finished = frozenset(t.key for t in prepared.trials if t.key in done)
        if hooks.on_prepared is not None:
            hooks.on_prepared(prepared, finished)
        _raise_if_stopped(settings)
        to_run = (len(prepared.trials) or grid.trial_count) - len(finished)
        return _run_and_rank(grid, inputs, settings, hooks, tracker, prepared, pool, to_run,
                             _will_need_fanova(grid, prepared, done))
    finally:
        pool.close()


def _other_data_sweeps(tracker: MlflowTracker, experiment: str, context: str) -> int:
    """How many of the experiment's sweeps ran trials on other data or settings than this one
    (each context once): a follow-up sweep with stop words added left the first sweep's models
    off the board unsaid (report audit of 2026-12-05). Counting is no reason to fail."""
    try:
        return len({s.tags.get(CONTEXT_TAG) for s in tracker.sweep_runs(experiment)
                    if s.ran_trials} - {context, None})
    except Exception as err:  # noqa: BLE001 - a count under the board
        log.warning("the experiment's other sweeps were not counted: %s", err)
        return 0


def _background_said(tracker: MlflowTracker, ranked: Sequence[ConfigResult]) -> list[str]:
    """The words of a few background topics (background_topics_said), read back from the
    store: a store that fails here costs the line, never the sweep's end."""
    try:
        return background_topics_said(tracker, [
            (config.trial_label(t), t.run_id) for config in ranked for t in config.trials
            if t.metrics.get("background_topics")])
    except Exception as err:  # noqa: BLE001 - an artifact read; the results are logged already
        log.warning("the background topics' words were not read from the store: %s", err)
        return []


def _run_and_rank(grid: Grid, inputs: CheckedInputs, settings: SweepSettings, hooks: SweepHooks,
                  tracker: MlflowTracker, prepared: PreparedSweep,
                  pool: WarmPool, to_run: int, fanova: bool) -> SweepOutcome:
    """Run the trials (`to_run` of them not finished before) and rank them; an error once
    trials have started is a SweepAbortedError (not "invalid input", exit 2: the grid passed
    validation). `fanova`: the importance at the end will likely need fANOVA's libraries."""
    metric = grid.ranking_metric(inputs.truth is not None)
    board: list[ConfigResult] = []
    ranked: list[ConfigResult] = []
    after: list[str] = []  # what the ranked trials' own figures say is wrong with them
    quoting: list[str] = []  # of those, the lines that quote the corpus (topic words)

    def summarize(result: SweepResult) -> SweepSummary:
        ranked.extend(leaderboard(tracker, grid.experiment, metric, ALL_ROWS, prepared.context))
        board.extend(ranked[:settings.leaderboard_rows])
        _log_importance(tracker, result.sweep.run_id, grid.experiment, metric, prepared.context)
        quoting.extend(_background_said(tracker, ranked))
        after.extend(sweep_warnings([(config.trial_label(t), concerns, t.metrics)
                                     for config in ranked for t in config.trials
                                     if (concerns := trial_concerns(t.model, t.params,
                                                                    t.metrics))], quoting))
        after.extend(replaced_said(ranked))
        tags = _log_warnings_after_trials(tracker, result.sweep.run_id, prepared, after)
        best = recommended(ranked)
        if best is None:
            return SweepSummary(tags=tags)
        return SweepSummary({f"best_{k}": v for k, v in best.metrics.items()},
                            {BEST_RUN_ID_TAG: best.best_trial(metric).run_id, **tags})

    on_record = hooks.on_record
    if grid.trial_count >= MIN_CONFIGS and fanova:
        on_record = _import_importance_on_a_free_core(to_run, settings.max_workers, on_record)
    try:
        result = run_sweep(prepared, tracker, pool, settings.max_workers, on_record,
                           Limits(settings.trial_timeout_s or grid.timeout_s,
                                  settings.max_memory_mb), summarize,
                           lambda: settings.stop is not None and settings.stop.is_set(),
                           _run_id_to(hooks.on_start), hooks.on_step)
    except (SweepInterrupted, SweepNotStartedError, SweepLockedError):
        raise
    except Exception as err:  # trials may have run: no longer "invalid input" (exit 2)
        raise _aborted(grid, err, tracker.journalled, settings.tracking_uri) from err
    return SweepOutcome(result.sweep.experiment_id, result.sweep.run_id, metric, board,
                        result.counts, journalled=tracker.journalled,
                        unshown=len(ranked) - len(board), warnings=after,
                        other_data=_other_data_sweeps(tracker, grid.experiment,
                                                      prepared.context),
                        quoting=frozenset(quoting))


def _aborted(grid: Grid, err: Exception, journalled: int = 0, tracking_uri: str = ""
             ) -> SweepAbortedError:
    """The error, and what it was raised from when that says more (a store's wrapped one), and
    how many results wait in the journal (else said only by a warning per result). A local
    store's file gone from its path is said: SQLite's own words for it are "attempt to write a
    readonly database"."""
    cause = first_line(err)
    inner = root_cause(err)
    said = f"{type(err).__name__}: {cause}" + (f" ({inner})" if inner.split(": ", 1)[0]
                                               != type(err).__name__ else "")
    local = local_store(tracking_uri) if tracking_uri else None
    if local is not None and not local.exists():
        said = (f"the tracking store's file {local} is gone: it was moved or deleted while the "
                "sweep ran; put it back before the next sweep, which would otherwise start a new "
                f"store and run every trial again ({said})")
    kept = f"; the results of {journalled} finished trial{'s' * (journalled != 1)} that the " \
        "store refused are kept in the journal under the cache folder, and the experiment's " \
        "next sweep logs them" if journalled else ""
    return SweepAbortedError(f"experiment '{grid.experiment}': the sweep stopped after trials "
                             f"had started: {redact_uri(said)}{kept}", journalled)


def _log_warnings_after_trials(tracker: MlflowTracker, run_id: str, prepared: PreparedSweep,
                               after: list[str]) -> dict[str, str]:
    """Add `after` to the sweep run's warnings.json (beside what validation and precompute
    warned of): said on stderr alone, they are buried in a cron job's log. The sweep's tags
    with the new count."""
    if not after:
        return {}
    before = [*prepared.inputs.advice, *prepared.advice]
    tracker.log_json(run_id, WARNINGS_FILE, {"warnings": before, "after_trials": after})
    return {WARNINGS_TAG: str(len(before) + len(after))}


def _run_id_to(hook: Callable[[str], None] | None) -> Callable[[SweepHandle], None] | None:
    if hook is None:
        return None
    return lambda sweep: hook(sweep.run_id)


def _will_need_fanova(grid: Grid, prepared: PreparedSweep, done: set[str]) -> bool:
    """Whether the importance at the sweep's end will likely be fANOVA's rather than exact: a
    random or TPE search, a pruner (pruned trials are not ranked), finished trials of other sweeps
    in the experiment, or a grid whose configurations are not complete (e.g. a null resolved
    differently per configuration). A failed trial can still leave a grid incomplete: fANOVA's
    libraries are then imported at the end."""
    if grid.search.strategy != "grid" or grid.search.prunes:
        return True
    if done - {t.key for t in prepared.trials}:
        return True
    return needs_fanova([FinishedTrial(t.key, t.name, t.model, dict(t.params), t.seed, {},
                                       key=t.key) for t in prepared.trials])


def _import_importance_on_a_free_core(trials: int, workers: int,
                                      on_record: Callable[[TrialRecord], None] | None
                                      ) -> Callable[[TrialRecord], None]:
    """Load fANOVA's libraries (1.6 s, scikit-learn) while the sweep runs, on a core no
    worker uses: now if fewer workers than cores run, else once fewer trials remain than workers.
    Beside a worker on every core the import slowed ProdLDA's fits by a fifth (2 workers, 2
    cores); left to the end, it added 1.6 s to every sweep."""
    seen, started = 0, workers < usable_cores()
    if started:
        _import_in_background("optuna.importance")

    def record(rec: TrialRecord) -> None:
        nonlocal seen, started
        seen += 1
        if not started and trials - seen < workers:
            started = True
            _import_in_background("optuna.importance")
        if on_record is not None:
            on_record(rec)

    return record


def _import_in_background(module: str) -> None:
    """Import `module` on a daemon thread while the parent mostly waits for its workers."""
    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception as err:  # the sweep's end imports it again and reports it there
            log.debug("background import of %s failed: %s", module, err)

    threading.Thread(target=load, name=f"import-{module}", daemon=True).start()


def _executor_factory(settings: SweepSettings, models: list[str]) -> Callable[[], Executor]:
    """Executors for the sweep of `models`; none once the service asked the sweep to stop."""
    def make() -> Executor:
        _raise_if_stopped(settings)
        if settings.pool is not None:
            return settings.pool.lend()
        return make_executor(settings.executor, settings.max_workers, settings.scheduler,
                             settings.max_memory_mb, settings.cache_dir,
                             settings.threads_per_worker, models)

    return make


def _unheard(line: str | None) -> None:
    """A cache wait's line where no one shows it beside the log's warning."""


def _raise_if_stopped(settings: SweepSettings) -> None:
    if settings.stop is not None and settings.stop.is_set():
        raise SweepInterrupted(signal.SIGTERM)


def _log_importance(tracker: MlflowTracker, run_id: str, experiment: str, metric: str,
                    context: str) -> None:
    """`param_importance.json` on the sweep run: which swept parameters matter for `metric`
    (per model, each one's share of the main-effect variance over the experiment's
    configurations: exact on a complete grid, else fANOVA; see tuner.reporting.importance).
    It informs; a failure to compute it never fails the sweep."""
    try:
        trials = standing_trials(trials_on_current_data(tracker, experiment, context),
                                 asked_by(tracker, run_id))
        found = model_importances(trials, metric)
    except Exception as err:  # e.g. too few distinct configurations for fANOVA
        log.warning("parameter importance not computed: %s", err)
        return
    tracker.log_json(run_id, IMPORTANCE_FILE, importance_record(found, metric))
