"""`tuner run` against a real `mlflow server` whose backend store is a real PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.service.conftest import MlflowServer, ServerSweep
from tuner.tracking.tracker import MlflowTracker, SweepHandle
from tuner.trial import DataRef, MetricSettings, TrialRecord, TrialSpec, TrialStatus

METRICS = ("npmi", "diversity", "ari", "f1")


def _runs(sweep: ServerSweep, role: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=sweep.server.url)
    experiment = client.get_experiment_by_name(sweep.experiment)
    assert experiment is not None
    return client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.`tuner.role` = '{role}'")


def test_sweep_parent_run_is_finished(server_sweep: ServerSweep) -> None:
    parents = _runs(server_sweep, "sweep")
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert parents[0].data.params["models"] == "LDA"


def test_every_trial_is_a_finished_child_of_the_sweep(server_sweep: ServerSweep) -> None:
    parent = _runs(server_sweep, "sweep")[0]
    children = _runs(server_sweep, "trial")
    assert len(children) == server_sweep.trials
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.info.status for c in children} == {"FINISHED"}


@pytest.mark.parametrize("metric", METRICS)
def test_trials_carry_metric(server_sweep: ServerSweep, metric: str) -> None:
    assert all(metric in c.data.metrics for c in _runs(server_sweep, "trial"))


def test_artifacts_are_served_by_the_server(server_sweep: ServerSweep) -> None:
    from mlflow.tracking import MlflowClient

    child = _runs(server_sweep, "trial")[0]
    names = {f.path for f in MlflowClient(server_sweep.server.url).list_artifacts(
        child.info.run_id)}
    assert {"topics.json", "trial.json", "assignments.csv"} <= names
    assert any(server_sweep.server.artifacts.rglob("topics.json"))


def _record(index: int) -> TrialRecord:
    data = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label")
    spec = TrialSpec("LDA", {"num_topics": 5, "vocab_size": 1000}, index, data,
                     MetricSettings(), "throughput", f"key{index:06d}", index)
    return TrialRecord(spec, TrialStatus.COMPLETE, {m: 0.5 for m in METRICS},
                       [["w"] * 10] * 5, [0.1] * 5, [0, 1, 2, 3, 4])


def test_trial_runs_per_second_through_the_server(mlflow_server: MlflowServer,
                                                  server_sweep: ServerSweep,
                                                  tmp_path: Path) -> None:
    """Throughput of the parent-process writer: log_trial (run, params, metrics, 5 artifacts,
    terminate) against the PostgreSQL-backed server."""
    tracker = MlflowTracker(mlflow_server.url, journal_dir=tmp_path / "journal")
    sweep: SweepHandle = tracker.start_sweep("throughput", {}, {}, ["a", "b", "c", "d", "e"])
    count = 20
    start = time.perf_counter()
    for i in range(count):
        tracker.log_trial(sweep, _record(i))
    elapsed = time.perf_counter() - start
    tracker.end_sweep(sweep, "FINISHED", {})
    rate = count / elapsed
    print(f"\nlog_trial through mlflow server + PostgreSQL: {rate:.1f} runs/s "
          f"({count} runs in {elapsed:.2f} s); CLI sweep: {server_sweep.trials} trials in "
          f"{server_sweep.wall_s:.1f} s wall ({server_sweep.trials / server_sweep.wall_s:.2f} "
          "trials/s incl. start-up and precompute)")
    assert len(tracker.finished_keys(sweep)) == count
    assert rate > 1.0
