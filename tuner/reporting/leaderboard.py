"""The best trials of an experiment by one metric, read back from the tracker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuner.metrics import higher_is_better
from tuner.tracking.tracker import MlflowTracker

SHOWN_METRICS = ("npmi", "diversity", "ari", "f1", "fit_seconds")


@dataclass(frozen=True)
class Entry:
    run_id: str
    run_name: str
    model: str
    params: dict[str, str]
    metrics: dict[str, float]


def leaderboard(tracker: MlflowTracker, experiment_id: str, metric: str,
                limit: int = 10) -> list[Entry]:
    """Finished trial runs ranked by `metric` (best first; lower first where lower is better)."""
    direction = "DESC" if higher_is_better(metric) else "ASC"
    runs = tracker.trial_runs(experiment_id, "attributes.status = 'FINISHED'",
                              order_by=[f"metrics.`{metric}` {direction}"])
    ranked = [r for r in current_runs(runs) if metric in r.data.metrics][:limit]
    return [_entry(r) for r in ranked]


def current_runs(runs: list[Any]) -> list[Any]:
    """Runs not superseded: a run made before its trainer's latest result-changing fix (tag
    `tuner.revision` older than the trainer's `revision`, or absent) stays in the store but
    leaves the rankings, which the re-run with the fixed trainer takes over."""
    from trainers import canonical_name, trainer_revision

    latest: dict[str, int | None] = {}

    def is_current(run: Any) -> bool:
        model = run.data.tags.get("tuner.model", "")
        if model not in latest:
            latest[model] = trainer_revision(model) if canonical_name(model) else None
        wanted, logged = latest[model], run.data.tags.get("tuner.revision")
        return wanted is None or (logged is not None and int(logged) >= wanted)

    return [run for run in runs if is_current(run)]


def _entry(run: Any) -> Entry:
    return Entry(run.info.run_id, run.info.run_name, run.data.tags.get("tuner.model", "?"),
                 dict(run.data.params), dict(run.data.metrics))


def format_leaderboard(entries: list[Entry], metric: str) -> str:
    """A plain-text table of the leaderboard."""
    columns = [metric] + [m for m in SHOWN_METRICS if m != metric]
    header = f"{'#':>2}  {'run':<28} {'model':<9}" + "".join(f"{c:>12}" for c in columns)
    lines = [header, "-" * len(header)]
    for rank, entry in enumerate(entries, start=1):
        values = "".join(f"{entry.metrics[c]:>12.4f}" if c in entry.metrics else f"{'-':>12}"
                         for c in columns)
        lines.append(f"{rank:>2}  {entry.run_name:<28} {entry.model:<9}{values}")
    return "\n".join(lines)
