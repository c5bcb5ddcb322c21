"""The same small sweep on every executor backend: one trial raises, all others finish, and the
MLflow output has the same shape."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, make_grid, sqlite_store
from tests.plugins import FAILING_SEED
from tuner.engine.executors import EXECUTOR_KINDS, make_executor
from tuner.engine.runner import run_sweep
from tuner.engine.sweep import check_inputs, precompute
from tuner.grid import load_grid
from tuner.tracking.tracker import MlflowTracker


@pytest.mark.parametrize("kind", EXECUTOR_KINDS)
def test_failure_is_isolated_and_output_is_the_same(kind, tmp_path, small_corpus, session_cache,
                                                    monkeypatch):
    monkeypatch.setenv("TUNER_TRAINERS", "Flaky=tests.plugins:FlakyTrainer")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.syspath_prepend(str(REPO))
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment=f"executor-{kind}",
                               models=["flaky"], params={"num_topics": 5, "vocab_size": 1000},
                               seeds=[1, FAILING_SEED, 2]))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    tracker.experiment_id(grid.experiment)
    result = run_sweep(prepared, tracker, lambda: make_executor(kind, 2), 2)
    assert (result.completed, result.failed) == (2, 1)
    runs = tracker.client.search_runs([result.sweep.experiment_id])
    trials = [r for r in runs if r.data.tags.get("tuner.role") == "trial"]
    assert sorted(r.info.status for r in trials) == ["FAILED", "FINISHED", "FINISHED"]
    assert all({"npmi", "diversity", "ari", "f1"} <= set(r.data.metrics)
               for r in trials if r.info.status == "FINISHED")
    failed = next(r for r in trials if r.info.status == "FAILED")
    assert failed.data.tags["tuner.error_type"] == "RuntimeError"
