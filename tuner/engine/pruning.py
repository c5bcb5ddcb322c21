"""Stopping bad trials early: successive halving (ASHA), Hyperband or the median rule over a
model's budget (epochs, Gibbs or EM iterations).

The parent is the sole decider. It keeps one Optuna study per model (Optuna's pruners, driven
through ask/tell: `report` at each checkpoint, `should_prune` at each rung), and exchanges two
small files per trial with the worker in a folder both see (under the cache, which Dask workers
on other machines see at the same path already):

- `<key>.reports`: the worker appends "step value decide" after each checkpoint, where value is
  the sweep's objective on the model as it stands;
- `<key>.verdict`: at a rung (decide = 1) the worker waits until the parent writes "step go" or
  "step stop" here, then trains on or returns its model as it stands. A worker is never killed
  for pruning.

Optuna's pruners were chosen over our own rungs: the asynchronous successive halving rule (a
trial goes on at a rung when it is in the top 1/reduction_factor of the values seen there so far),
Hyperband's brackets and the median rule are each a few lines to call and are tested upstream.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from tuner.data.store import key_digest, replace_text_atomically
from tuner.output import TopicModelOutput
from tuner.tracking.records import PastCurve
from tuner.trial import CheckpointPlan, TrialRecord, TrialSpec, TrialStatus

log = logging.getLogger(__name__)
PrunerType = Literal["asha", "hyperband", "median", "none"]
PRUNER_TYPES = ("asha", "hyperband", "median", "none")  # none: learning curves, nothing stopped
PRUNING_FOLDER = "pruning"  # under the cache: <cache>/pruning/<sweep run id>/
VERDICT_POLL_S = 0.02


@dataclass(frozen=True)
class PrunerSpec:
    """The grid's `search.pruner` section."""

    type: PrunerType = "asha"
    min_resource: int | None = None  # None: each model's own `min_budget`
    reduction_factor: int = 3


@dataclass(frozen=True)
class Budget:
    """A prunable model's budget: its parameter, the fewest units before a verdict, the most
    units any of its trials in this sweep trains (Hyperband's max_resource)."""

    param: str
    min_resource: int
    max_resource: int


def rungs(min_resource: int, reduction_factor: int, budget: int) -> tuple[int, ...]:
    """Successive halving's rung steps below `budget`: min_resource x reduction_factor^k."""
    steps, step = [], min_resource
    while step < budget:
        steps.append(step)
        step *= reduction_factor
    return tuple(steps)


def checkpoint_plan(spec: PrunerSpec, budget: Budget, trial_budget: int, metric: str,
                    folder: Path) -> CheckpointPlan:
    """Where a trial with `trial_budget` units reports and waits: a curve point every
    min_resource units; verdicts at the rungs (ASHA, Hyperband) or at every point from
    min_resource on (median)."""
    every = budget.min_resource
    if spec.type == "none":
        decide: tuple[int, ...] = ()
    elif spec.type == "median":
        decide = tuple(range(every, trial_budget, every))
    else:
        decide = rungs(every, spec.reduction_factor, trial_budget)
    return CheckpointPlan(metric, str(folder), every, decide, trial_budget)


# ---- worker side -------------------------------------------------------------------------------

@dataclass
class ReportingCheckpoint:
    """The `FitContext.checkpoint` of a trial a pruner watches: scores the model at the plan's
    steps, reports to the parent, and at a rung waits for its verdict."""

    plan: CheckpointPlan
    key: str
    objective: Callable[[TopicModelOutput], float]
    curve: list[tuple[int, float]] = field(default_factory=list)
    last_step: int = 0
    stopped_at: int | None = None
    seconds: float = 0.0  # spent scoring, reporting and waiting for verdicts: not the fit's

    def __call__(self, step: int, current: Callable[[], TopicModelOutput],
                 final: bool = False) -> bool:
        self.last_step = step
        if final or not self.plan.reports_at(step):
            return False
        started = time.perf_counter()
        try:
            return self._report(step, current)
        finally:
            self.seconds += time.perf_counter() - started

    def _report(self, step: int, current: Callable[[], TopicModelOutput]) -> bool:
        try:
            value = float(self.objective(current()))
            decide = step in self.plan.decide_at
            folder = Path(self.plan.folder)
            with open(folder / f"{self.key}.reports", "a", encoding="ascii") as handle:
                handle.write(f"{step} {value!r} {int(decide)}\n")
        except Exception as err:  # a model too young to score (HDP's first iterations), a
            log.warning("trial %s: no checkpoint at step %d (%s: %s); it trains on",  # full disk
                        self.key, step, type(err).__name__, err)
            return False
        self.curve.append((step, value))
        if not decide or not self._told_to_stop(folder / f"{self.key}.verdict", step):
            return False
        self.stopped_at = step
        return True

    def _told_to_stop(self, path: Path, step: int) -> bool:
        """Wait for the parent's verdict on `step`; none within the plan's wait, or the parent's
        heartbeat unchanged for PARENT_SILENT_S (the parent is gone): train on. Otherwise a Dask
        worker whose parent was killed waits the whole 300 s at every rung, and the next sweep's
        trials wait behind it."""
        started = time.monotonic()
        deadline = started + self.plan.wait_s
        beat, beat_seen = _heartbeat(path.parent), started
        while time.monotonic() < deadline:
            verdict = _read_verdict(path)
            if verdict is not None and verdict[0] == step:
                return verdict[1] == "stop"
            now, latest = time.monotonic(), _heartbeat(path.parent)
            if latest != beat:
                beat, beat_seen = latest, now
            elif now - beat_seen > PARENT_SILENT_S:
                log.warning("trial %s: no verdict at step %d and the sweep's parent is silent "
                            "(%.0f s): it trains on", self.key, step, now - beat_seen)
                return False
            time.sleep(VERDICT_POLL_S)
        return False


HEARTBEAT_FILE = "parent.alive"  # in the pruning folder: the parent rewrites it while it runs
HEARTBEAT_S = 5.0  # how often
PARENT_SILENT_S = 180.0  # a heartbeat unchanged this long: the parent is gone (NFS caches a
# folder's attributes up to 60 s)


def _heartbeat(folder: Path) -> int | None:
    try:
        return (folder / HEARTBEAT_FILE).stat().st_mtime_ns
    except OSError:
        return None


def _read_verdict(path: Path) -> tuple[int, str] | None:
    try:
        step, word = path.read_text(encoding="ascii").split()
        return int(step), word
    except (OSError, ValueError):
        return None


# ---- parent side -------------------------------------------------------------------------------

@dataclass
class _Watched:
    """A trial in flight under the pruner: its Optuna trial (asked at its first report) and how
    far its reports file has been read."""

    model: str
    optuna_trial: Any = None
    offset: int = 0


def pruning_identity(spec: PrunerSpec, metric: str) -> str:
    """What a pruned trial's verdict depends on, besides its sweep's trials: the pruner and its
    settings, and the objective it judged. A re-run counts a pruned trial as done only under the
    same: otherwise trials pruned for their NPMI are skipped when the sweep then ranks by ARI,
    which they were never judged on."""
    return key_digest({"pruner": asdict(spec), "metric": metric})


class PruningController:
    """Decides, in the parent, which trials stop at their rungs (see the module's docstring)."""

    def __init__(self, spec: PrunerSpec, metric: str, maximize: bool,
                 budgets: Mapping[str, Budget], folder: Path,
                 ceilings: Mapping[str, int] | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec, self.metric, self.maximize = spec, metric, maximize
        self.identity = pruning_identity(spec, metric)
        self.budgets: dict[str, Budget | None] = dict(budgets)
        self.ceilings = dict(ceilings or {})
        self.folder = folder
        self.studies: dict[str, Any] = {}
        self.watched: dict[str, _Watched] = {}
        folder.mkdir(parents=True, exist_ok=True)
        self._beat()
        # beaten from a thread of its own, not from poll(): one pass of the runner's loop can
        # take minutes (a remote store's retries), and waiting workers then took a live parent
        # for gone
        self._stopped = threading.Event()
        self._beating = threading.Thread(target=self._beat_until_closed, daemon=True,
                                         name="tuner-pruner-heartbeat")
        self._beating.start()

    def close(self) -> None:
        """Stop the heartbeat (the sweep is over: its folder goes next), waiting for a beat
        under way: one that ends after the folder is removed makes it again."""
        self._stopped.set()
        self._beating.join(timeout=HEARTBEAT_S)

    def _beat_until_closed(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            self._beat()

    def plan(self, spec: TrialSpec) -> TrialSpec:
        """`spec` with its checkpoint plan, or as it is for a model without a budget."""
        if spec.model not in self.budgets:  # a TPE suggestion of a model not seen yet
            self.budgets[spec.model] = model_budgets(self.spec, [spec],
                                                     self.ceilings).get(spec.model)
        budget = self.budgets.get(spec.model)
        if budget is None:
            return spec
        trial_budget = int(spec.params[budget.param])
        plan = checkpoint_plan(self.spec, budget, trial_budget, self.metric, self.folder)
        self.watched[spec.key] = _Watched(spec.model)
        return replace(spec, checkpoints=plan)

    def _beat(self) -> None:
        """Rewrite the heartbeat that tells waiting workers the parent is alive."""
        try:
            replace_text_atomically(self.folder / HEARTBEAT_FILE, f"{time.time():.0f}", "ascii")
        except OSError as err:  # a full disk: workers train on later; the sweep goes on
            log.debug("the pruner's heartbeat was not written: %s", err)

    def poll(self) -> None:
        """Read the new reports of every watched trial; answer each rung."""
        for key, watched in self.watched.items():
            for step, value, decide in self._new_reports(key, watched):
                trial = self._optuna_trial(watched)
                trial.report(value, step)
                if decide:
                    stop = bool(trial.should_prune())
                    verdict = f"{step} {'stop' if stop else 'go'}"
                    replace_text_atomically(self.folder / f"{key}.verdict", verdict, "ascii")

    def finish(self, record: TrialRecord) -> None:
        """Tell the model's study how the trial ended; forget its files."""
        from optuna.trial import TrialState

        watched = self.watched.pop(record.spec.key, None)
        if watched is None:
            return
        if watched.optuna_trial is not None:
            study = self.studies[watched.model]
            value = record.metrics.get(self.metric)
            if record.status is TrialStatus.PRUNED:
                study.tell(watched.optuna_trial, state=TrialState.PRUNED)
            elif record.status is TrialStatus.COMPLETE and value is not None \
                    and math.isfinite(value):
                study.tell(watched.optuna_trial, value)
            else:
                study.tell(watched.optuna_trial, state=TrialState.FAIL)
        for suffix in (".reports", ".verdict"):
            (self.folder / f"{record.spec.key}{suffix}").unlink(missing_ok=True)

    def forget(self, keys: Iterable[str]) -> None:
        """Trials that will run again (a pool broke under them): their Optuna trials end FAIL
        and their files go; `plan` starts afresh. The rung values they reached stay in the
        competition (Optuna's successive halving reads every trial's, failed or not), so each
        competes twice at the rungs it had reached."""
        from optuna.trial import TrialState

        for key in keys:
            watched = self.watched.pop(key, None)
            if watched is not None and watched.optuna_trial is not None:
                self.studies[watched.model].tell(watched.optuna_trial, state=TrialState.FAIL)
            for suffix in (".reports", ".verdict"):
                (self.folder / f"{key}{suffix}").unlink(missing_ok=True)

    def replay(self, past: Iterable[PastCurve]) -> int:
        """Tell each model's study the learning curves of finished trials this sweep skips
        (oldest first) as their checkpoints were reported live, so that a re-run of an
        interrupted or extended sweep judges its new trials against them. Without them the
        first new trial at a rung has nothing to compete with and goes on, and a resumed sweep
        prunes less than the sweep it continues. Returns how many curves were replayed."""
        replayed = 0
        for trial in past:
            budget = self._budget_of(trial.trial.model)
            units = trial.trial.params.get(budget.param) if budget is not None else None
            if budget is None or not isinstance(units, (int, float)) \
                    or not math.isfinite(units) or units < 1:
                continue
            plan = checkpoint_plan(self.spec, budget, int(units), self.metric, self.folder)
            # what the live trial reported: its checkpoints, not the final value that ends its
            # logged curve (median: a step a trial with a larger budget decides at)
            points = [(step, value) for step, value in trial.curve
                      if step >= 0 and plan.reports_at(step)]
            if points:
                self._replay_one(trial, plan, points)
                replayed += 1
        return replayed

    def _replay_one(self, past: PastCurve, plan: CheckpointPlan,
                    points: list[tuple[int, float]]) -> None:
        from optuna.trial import TrialState

        study = self._study(past.trial.model)
        trial = study.ask()
        records_rungs = self.spec.type in ("asha", "hyperband")  # their rung values: the median
        for step, value in points:  # rule reads the reported values themselves
            trial.report(value, step)
            if records_rungs and step in plan.decide_at:
                trial.should_prune()  # records the trial's value at this rung; the verdict is past
        final = past.trial.metrics.get(self.metric)
        if past.trial.pruned:
            study.tell(trial, state=TrialState.PRUNED)
        elif final is not None and math.isfinite(final):
            study.tell(trial, final)
        else:
            study.tell(trial, state=TrialState.FAIL)

    def _budget_of(self, model: str) -> Budget | None:
        """The model's budget in this sweep: its trials' (`plan` may not have met one of a TPE
        search's models yet: then the grid's largest), None when this sweep does not prune it."""
        if model not in self.budgets and model in self.ceilings:
            self.budgets[model] = model_budget(self.spec, model, self.ceilings[model])
        return self.budgets.get(model)

    def _new_reports(self, key: str, watched: _Watched) -> list[tuple[int, float, bool]]:
        path = self.folder / f"{key}.reports"
        try:
            with open(path, "rb") as handle:
                handle.seek(watched.offset)
                chunk = handle.read()
        except OSError:
            return []
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a line still being written waits
        watched.offset += len(complete)
        reports = []
        for line in complete.decode("ascii").splitlines():
            step, value, decide = line.split()
            reports.append((int(step), float(value), decide == "1"))
        return reports

    def _optuna_trial(self, watched: _Watched) -> Any:
        if watched.optuna_trial is None:
            watched.optuna_trial = self._study(watched.model).ask()
        return watched.optuna_trial

    def _study(self, model: str) -> Any:
        if model not in self.studies:
            import optuna

            self.studies[model] = optuna.create_study(
                direction="maximize" if self.maximize else "minimize",
                pruner=make_pruner(self.spec, self._budget(model)),
                study_name=f"prune-{model}")
        return self.studies[model]


    def _budget(self, model: str) -> Budget:
        budget = self.budgets[model]
        assert budget is not None  # only models with a budget are watched
        return budget


def make_pruner(spec: PrunerSpec, budget: Budget) -> Any:
    """The Optuna pruner a grid's `search.pruner` names, in budget units."""
    import optuna

    if spec.type == "none":
        return optuna.pruners.NopPruner()
    if spec.type == "median":
        return optuna.pruners.MedianPruner(n_warmup_steps=budget.min_resource)
    if spec.type == "hyperband":
        return optuna.pruners.HyperbandPruner(budget.min_resource, budget.max_resource,
                                              spec.reduction_factor)
    return optuna.pruners.SuccessiveHalvingPruner(budget.min_resource, spec.reduction_factor)


def largest_budget(model: str, space: Mapping[str, Any]) -> int:
    """The most budget units a trial of `model` can have in a grid's `space` (a list's largest
    value, a range's high end, else the schema's default); 0 for a model without a budget."""
    from trainers import load_trainer

    trainer = load_trainer(model)
    param = trainer.budget_param
    if param is None:
        return 0
    declared = trainer.params.get(param)
    values = space.get(param, declared.default if declared is not None else 0)
    if isinstance(values, list):
        return int(max(values))
    high = getattr(values, "high", values)  # a search Range, or a single value
    return int(high or 0)


def model_budgets(spec: PrunerSpec, trials: Iterable[TrialSpec],
                  ceilings: Mapping[str, int] | None = None) -> dict[str, Budget]:
    """The budget of each prunable model among `trials` (models without one are not pruned);
    its max_resource is the largest of its trials' budgets and its `ceilings` entry (the grid's
    largest: a TPE search has no trials before it asks)."""
    from trainers import load_trainer

    ceilings = ceilings or {}
    budgets: dict[str, Budget] = {}
    for trial in trials:
        param = load_trainer(trial.model).budget_param
        if param is None:
            continue
        known = budgets.get(trial.model)
        units = max(int(trial.params[param]), ceilings.get(trial.model, 0),
                    known.max_resource if known else 0)
        budget = model_budget(spec, trial.model, units)
        if budget is not None:
            budgets[trial.model] = budget
    return budgets


def model_budget(spec: PrunerSpec, model: str, units: int) -> Budget | None:
    """`model`'s budget with `units` the most any of its trials trains; None for a model
    without a budget."""
    from trainers import load_trainer

    trainer = load_trainer(model)
    if trainer.budget_param is None:
        return None
    return Budget(trainer.budget_param, spec.min_resource or trainer.min_budget, units)
