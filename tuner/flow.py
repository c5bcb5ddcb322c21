"""The whole sweep flow shared by `tuner run` and `tuner serve`: lock the experiment, open the
tracker, precompute, run every trial, rank the results and close the parent run."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tuner.engine.sweep import CheckedInputs, PreparedSweep
from tuner.errors import TunerError
from tuner.grid import Grid
from tuner.metrics import default_metric
from tuner.reporting.leaderboard import ConfigResult, leaderboard
from tuner.trial import TrialRecord

LOCK_FOLDER = ".locks"


class SweepLockedError(TunerError):
    """Another sweep of the same experiment holds its lock (an overlapping cron run, or the
    HTTP service); the CLI exits with code 3."""


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


@dataclass(frozen=True)
class SweepOutcome:
    experiment_id: str
    parent_run_id: str
    metric: str
    board: list[ConfigResult]  # configurations ranked by the mean over their seeds
    completed: int
    failed: int
    skipped: int


@dataclass
class SweepHooks:
    """Optional callbacks: after precompute (with the number of trials already finished) and
    after each trial is logged."""

    on_prepared: Callable[[PreparedSweep, int], None] | None = None
    on_record: Callable[[TrialRecord], None] | None = None


def lock_path(cache_dir: Path, experiment: str) -> Path:
    """The lock file of one experiment: `<cache_dir>/.locks/<experiment>.lock`."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment).strip("._") or "experiment"
    return Path(cache_dir) / LOCK_FOLDER / f"{safe}.lock"


@contextmanager
def experiment_lock(cache_dir: Path, experiment: str) -> Iterator[Path]:
    """Hold the experiment's lock without waiting; raise SweepLockedError if it is taken."""
    from filelock import FileLock, Timeout

    path = lock_path(cache_dir, experiment)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SweepLockedError(f"{path.parent}: cannot create the lock folder: {err}") from err
    lock = FileLock(str(path), blocking=False)
    try:
        lock.acquire()
    except Timeout as err:
        raise SweepLockedError(
            f"experiment '{experiment}': another sweep holds {path}; it is still running "
            "(an overlapping cron run or `tuner serve`). Wait for it to finish; nothing was "
            "started.") from err
    try:
        yield path
    finally:
        lock.release()


def is_locked(cache_dir: Path, experiment: str) -> bool:
    """Whether some process holds the experiment's lock right now."""
    try:
        with experiment_lock(cache_dir, experiment):
            return False
    except SweepLockedError:
        return True


def execute_sweep(grid: Grid, inputs: CheckedInputs, settings: SweepSettings,
                  hooks: SweepHooks | None = None) -> SweepOutcome:
    """Run a validated grid end to end under the experiment's lock.

    Raises:
        SweepLockedError: another sweep of this experiment is running.
        TunerError: the tracking store or the caches cannot be used.
    """
    with experiment_lock(settings.cache_dir, grid.experiment):
        return _execute_locked(grid, inputs, settings, hooks or SweepHooks())


def _execute_locked(grid: Grid, inputs: CheckedInputs, settings: SweepSettings,
                    hooks: SweepHooks) -> SweepOutcome:
    from tuner.engine.executors import make_executor
    from tuner.engine.runner import Limits, run_sweep
    from tuner.engine.sweep import precompute
    from tuner.tracking.tracker import MlflowTracker

    tracker = MlflowTracker(settings.tracking_uri)
    experiment_id = tracker.experiment_id(grid.experiment)  # fail fast, before workers run
    assert experiment_id is not None
    prepared = precompute(grid, inputs, settings.cache_dir, progress=settings.progress)
    if hooks.on_prepared is not None:
        done = {r.data.tags.get("tuner.trial_key") for r in
                tracker.trial_runs(experiment_id, "attributes.status = 'FINISHED'")}
        hooks.on_prepared(prepared, sum(t.key in done for t in prepared.trials))
    result = run_sweep(prepared, tracker,
                       lambda: make_executor(settings.executor, settings.max_workers,
                                             settings.scheduler, settings.max_memory_mb),
                       settings.max_workers, hooks.on_record,
                       Limits(settings.trial_timeout_s or grid.timeout_s, settings.max_memory_mb))
    metric = grid.leaderboard_metric or default_metric(inputs.truth is not None)
    board = leaderboard(tracker, grid.experiment, metric, settings.leaderboard_rows)
    if board:
        tracker.end_sweep(result.sweep, "FINISHED",
                          {f"best_{k}": v for k, v in board[0].metrics.items()})
        tracker.set_tags(result.sweep.run_id,
                         {"tuner.best_run_id": board[0].best_trial(metric).run_id})
    return SweepOutcome(result.sweep.experiment_id, result.sweep.run_id, metric, board,
                        result.completed, result.failed, result.skipped)
