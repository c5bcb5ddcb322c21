"""Sweeps started over HTTP: validate the request like the CLI does, then run it in a
background thread through `execute_sweep`, one sweep per experiment at a time."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

from tuner.engine.sweep import CheckedInputs, PreparedSweep
from tuner.errors import GridError, TunerError
from tuner.grid import Grid
from tuner.trial import TrialRecord, TrialStatus

JobStatus = Literal["queued", "running", "finished", "failed"]
INLINE_FOLDER = "inline_grids"


class ApiError(Exception):
    """An HTTP error answer: status, one-line message and the problem lines."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.problems = problems or [message]


@dataclass(frozen=True)
class JobSettings:
    grids_dir: Path
    cache_dir: Path
    tracking_uri: str
    max_workers: int = 2
    max_trials: int = 10000


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
    skipped: int = 0
    error: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    metric: str | None = None
    created: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def progress(self) -> float | None:
        if not self.total:
            return None
        return round((self.completed + self.failed + self.skipped) / self.total, 4)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "progress": self.progress}


class SweepRegistry:
    """Every sweep this server started, and the experiments running now."""

    def __init__(self, settings: JobSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._jobs: dict[str, SweepJob] = {}

    def jobs(self) -> list[SweepJob]:
        with self._lock:
            return list(self._jobs.values())

    def get(self, job_id: str) -> SweepJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(HTTPStatus.NOT_FOUND, f"no sweep with id {job_id!r}")
        return job

    def submit(self, body: Any) -> SweepJob:
        """Validate a request body and start its sweep; 400/404/409 as ApiError."""
        from tuner.flow import is_locked

        job_id = uuid.uuid4().hex[:12]
        path, label = self._grid_file(body, job_id)
        grid, inputs = _validated(path, label, self.settings.max_trials)
        job = SweepJob(job_id, grid.experiment, label)
        with self._lock:
            busy = any(j.experiment == grid.experiment and j.status in ("queued", "running")
                       for j in self._jobs.values())
            if busy or is_locked(self.settings.cache_dir, grid.experiment):
                raise ApiError(HTTPStatus.CONFLICT, f"experiment '{grid.experiment}': a sweep "
                               "is already running; wait for it to finish")
            self._jobs[job_id] = job
        threading.Thread(target=self._run, args=(job, grid, inputs), name=f"sweep-{job_id}",
                         daemon=True).start()
        return job

    def leaderboard(self, job_id: str) -> dict[str, Any]:
        from tuner.reporting.leaderboard import leaderboard
        from tuner.tracking.tracker import MlflowTracker

        job = self.get(job_id)
        if job.experiment_id is None or job.metric is None:
            return {"status": job.status, "metric": job.metric, "entries": []}
        board = leaderboard(MlflowTracker(self.settings.tracking_uri), job.experiment,
                            job.metric, 50)
        return {"status": job.status, "metric": job.metric, "experiment": job.experiment,
                "entries": [asdict(entry) for entry in board]}

    def _grid_file(self, body: Any, job_id: str) -> tuple[Path, str]:
        if not isinstance(body, dict) or len({"grid", "grid_inline"} & set(body)) != 1:
            raise ApiError(HTTPStatus.BAD_REQUEST, "body: expects a JSON object with either "
                           "'grid' (a file name under grids/) or 'grid_inline' (a grid object)")
        if "grid" in body:
            return _named_grid(self.settings.grids_dir, body["grid"])
        return self._inline_grid(body["grid_inline"], job_id), "grid_inline"

    def _inline_grid(self, raw: Any, job_id: str) -> Path:
        """Write an inline grid under the cache; relative data paths resolve against grids/,
        as they would for a named grid."""
        if not isinstance(raw, dict):
            raise ApiError(HTTPStatus.BAD_REQUEST, f"grid_inline: expects a JSON object; "
                           f"got {type(raw).__name__}")
        raw = dict(raw)
        base = self.settings.grids_dir.resolve()
        dataset = raw.get("dataset")
        if isinstance(dataset, dict) and isinstance(dataset.get("path"), str):
            raw["dataset"] = {**dataset, "path": str(base / dataset["path"])}
        if isinstance(raw.get("ground_truth"), str):
            raw["ground_truth"] = str(base / raw["ground_truth"])
        path = self.settings.cache_dir.resolve() / INLINE_FOLDER / f"{job_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(raw, indent=1), encoding="utf-8")
        return path

    def _run(self, job: SweepJob, grid: Grid, inputs: CheckedInputs) -> None:
        from tuner.flow import SweepHooks, SweepSettings, execute_sweep

        settings = SweepSettings(self.settings.tracking_uri, self.settings.cache_dir,
                                 self.settings.max_workers, progress=False)
        hooks = SweepHooks(lambda prepared, skipped: self._started(job, prepared, skipped),
                           lambda record: self._recorded(job, record))
        try:
            outcome = execute_sweep(grid, inputs, settings, hooks)
        except Exception as err:  # a background thread has no caller to raise to
            with self._lock:
                job.status, job.error = "failed", f"{type(err).__name__}: {err}"[:4000]
                job.finished_at = time.time()
            return
        with self._lock:
            job.status = "finished"
            job.experiment_id, job.parent_run_id = outcome.experiment_id, outcome.parent_run_id
            job.metric, job.skipped = outcome.metric, outcome.skipped
            job.finished_at = time.time()

    def _started(self, job: SweepJob, prepared: PreparedSweep, skipped: int) -> None:
        from tuner.metrics import default_metric
        from tuner.tracking.tracker import MlflowTracker

        experiment_id = MlflowTracker(self.settings.tracking_uri).experiment_id(job.experiment)
        with self._lock:
            job.status, job.total, job.skipped = "running", len(prepared.trials), skipped
            job.experiment_id = experiment_id
            job.metric = prepared.grid.leaderboard_metric or \
                default_metric(prepared.inputs.truth is not None)

    def _recorded(self, job: SweepJob, record: TrialRecord) -> None:
        with self._lock:
            if record.status is TrialStatus.COMPLETE:
                job.completed += 1
            else:
                job.failed += 1


def _named_grid(grids_dir: Path, name: Any) -> tuple[Path, str]:
    if not isinstance(name, str) or not name:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"grid: expects a file name under grids/; "
                       f"got {name!r}")
    root = grids_dir.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or Path(name).is_absolute():
        raise ApiError(HTTPStatus.BAD_REQUEST, f"grid: must name a file inside {grids_dir}/; "
                       f"got {name!r}")
    if not path.is_file():
        raise ApiError(HTTPStatus.NOT_FOUND, f"grid: no file {name!r} in {grids_dir}/")
    return path, name


def _validated(path: Path, label: str, max_trials: int) -> tuple[Grid, CheckedInputs]:
    """load_grid + check_inputs, as the CLI does; problems become a 400 with every line."""
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid

    try:
        grid = load_grid(path)
        return grid, check_inputs(grid, max_trials)
    except GridError as err:
        lines = [p.replace(str(path), label, 1) for p in err.problems]
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{label}: invalid grid", lines) from err
    except TunerError as err:
        lines = [line.replace(str(path), label, 1) for line in str(err).splitlines()]
        raise ApiError(HTTPStatus.BAD_REQUEST, lines[0], lines) from err
