"""One contract for every Tracker: the MLflow tracker on a real SQLite store and the in-memory
tracker the runner's tests use must behave alike (as Optuna runs one suite over its storages)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import sqlite_store
from tuner.tracking.memory import MemoryTracker
from tuner.tracking.tracker import MlflowTracker, Tracker
from tuner.trial import DataRef, MetricSettings, TrialError, TrialRecord, TrialSpec, TrialStatus

DATA = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label")
TRACKERS: dict[str, Callable[[Path], Tracker]] = {
    "mlflow": lambda folder: MlflowTracker(sqlite_store(folder / "mlflow.db")),
    "memory": lambda folder: MemoryTracker(),
}


@pytest.fixture(params=sorted(TRACKERS))
def tracker(request, tmp_path) -> Tracker:
    return TRACKERS[request.param](tmp_path)


def spec(key: str) -> TrialSpec:
    return TrialSpec("LDA", {"num_topics": 2}, 1, DATA, MetricSettings(), "contract", key,
                     fit_key=f"fit-{key}")


def complete(key: str) -> TrialRecord:
    return TrialRecord(spec(key), TrialStatus.COMPLETE, {"npmi": 0.25, "fit_seconds": 2.0},
                       [["space", "nasa"], ["god", "church"]], [0.3, 0.2], [0, 1, 1])


def test_a_finished_trial_is_found_by_its_key_and_its_fit(tracker: Tracker):
    sweep = tracker.start_sweep("contract", {}, {}, ["d1", "d2", "d3"])
    run_id = tracker.start_trial(sweep, spec("a"))
    tracker.finish_trial(sweep, run_id, complete("a"))
    assert tracker.finished_metrics(sweep)["a"]["npmi"] == pytest.approx(0.25)
    assert tracker.finished_keys(sweep) == {"a"}
    assert tracker.finished_fits(sweep) == {"fit-a": run_id}
    stored = tracker.stored_fit(run_id, MetricSettings().words_needed)
    assert stored is not None
    assert stored.topic_words == [["space", "nasa"], ["god", "church"]]
    assert stored.assignments == [0, 1, 1]
    assert stored.metrics["fit_seconds"] == pytest.approx(2.0)


def test_of_runs_of_one_fit_the_one_with_the_most_stored_words_is_offered(tracker: Tracker):
    """One run per fit key was kept, the oldest: stored with 5 words it could not be re-scored
    for 10, and the fit ran again beside a run of it that kept 30 (audit of 2026-12-01)."""
    from dataclasses import replace

    sweep = tracker.start_sweep("contract", {}, {})
    runs = {}
    for key, words in (("a5", 5), ("a30", 30), ("a10", 10)):
        settings = MetricSettings(topn=words, diversity_topn=words)
        done = replace(complete(key), spec=replace(spec(key), metrics=settings, fit_key="fit"))
        runs[words] = tracker.start_trial(sweep, done.spec)
        tracker.finish_trial(sweep, runs[words], done)
    assert tracker.finished_fits(sweep) == {"fit": runs[30]}


def test_a_failed_or_dropped_trial_is_not_done(tracker: Tracker):
    sweep = tracker.start_sweep("contract", {}, {})
    failed = tracker.start_trial(sweep, spec("f"))
    tracker.finish_trial(sweep, failed, TrialRecord(spec("f"), TrialStatus.FAILED,
                                                    error=TrialError("ValueError", "bad", "")))
    tracker.drop_trial(tracker.start_trial(sweep, spec("d")))
    assert tracker.finished_keys(sweep) == set()
    assert tracker.finished_fits(sweep) == {}


def test_a_dropped_attempt_is_not_left_running_among_the_deleted_runs(tmp_path):
    """MLflow's delete keeps a run's status: a trial resubmitted after a pool break left its
    first run RUNNING for good, visible with the deleted runs and to any query of the store
    (audit of 2026-12-01)."""
    from mlflow.entities import ViewType

    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    sweep = tracker.start_sweep("contract", {}, {})
    dropped = tracker.start_trial(sweep, spec("d"))
    tracker.drop_trial(dropped)
    run = tracker.client.get_run(dropped)
    assert (run.info.status, run.info.lifecycle_stage) == ("KILLED", "deleted")
    assert run.data.tags["tuner.status"] == "RESUBMITTED"
    running = tracker.client.search_runs([sweep.experiment_id], "attributes.status = 'RUNNING'",
                                         run_view_type=ViewType.ALL)
    assert [r.info.run_id for r in running] == [sweep.run_id]  # the sweep's own, still open


def test_runs_left_running_by_a_dead_sweep_are_marked_stale(tracker: Tracker):
    old = tracker.start_sweep("contract", {}, {})
    tracker.start_trial(old, spec("x"))
    new = tracker.start_sweep("contract", {}, {})
    assert tracker.fail_stale_runs(new) == 2  # the old sweep's run and its trial
    assert tracker.fail_stale_runs(new) == 0


def test_a_sweep_ends_with_its_summary(tracker: Tracker):
    sweep = tracker.start_sweep("contract", {}, {})
    tracker.set_tags(sweep.run_id, {"tuner.best_run_id": "r1"})
    tracker.log_json(sweep.run_id, "search.json", {"configurations": []})
    tracker.end_sweep(sweep, "FINISHED", {"best_npmi": 0.3})
    assert tracker.finished_keys(sweep) == set()


def test_finished_trials_and_sweeps_read_back_alike(tracker: Tracker):
    sweep = tracker.start_sweep("contract", {}, {})
    run_id = tracker.start_trial(sweep, spec("a"))
    tracker.finish_trial(sweep, run_id, complete("a"))
    failed = tracker.start_trial(sweep, spec("b"))
    tracker.finish_trial(sweep, failed, TrialRecord(spec("b"), TrialStatus.FAILED,
                                                    error=TrialError("ValueError", "x", "")))
    [trial] = tracker.finished_trials("contract")
    assert (trial.run_id, trial.model, trial.seed, trial.key) == (run_id, "LDA", 1, "a")
    assert trial.params["num_topics"] == 2 and trial.metrics["npmi"] == pytest.approx(0.25)
    assert [s.run_id for s in tracker.sweep_runs("contract")] == [sweep.run_id]
    assert tracker.topics(run_id) == {"0": ["space", "nasa"], "1": ["god", "church"]}


def test_learning_curves_of_finished_trials_read_back_by_key_and_context(tracker: Tracker):
    """What a re-run's pruner replays: each finished trial it skips, judged on the same data,
    once (its full run before a pruned one), oldest first; none pruned under another verdict,
    none of other data or keys."""
    from dataclasses import replace

    from tuner.trial import CheckpointPlan

    plan = CheckpointPlan("npmi", "unused", 1, (1, 3), 4)
    sweep = tracker.start_sweep("contract", {}, {})
    for key, context, pruned_by in (("a", "here", "this"), ("a", "here", None),
                                    ("b", "here", None), ("c", "elsewhere", None),
                                    ("d", "here", None), ("e", "here", "other")):
        time.sleep(0.005)  # start times in ms: an order to read back
        trial = replace(spec(key), data=replace(DATA, context=context), checkpoints=plan)
        status = TrialStatus.COMPLETE if pruned_by is None else TrialStatus.PRUNED
        record = replace(complete(key), spec=trial, status=status, pruned_by=pruned_by,
                         curve=[(1, 0.1), (2, 0.15), (3, 0.2)],
                         metrics={"npmi": 0.25, "budget_used": 4.0})
        tracker.finish_trial(sweep, tracker.start_trial(sweep, trial), record)
    curves = tracker.learning_curves(sweep, {"a", "b", "c", "e"}, "this", "here", "npmi")
    assert [(c.trial.key, c.trial.pruned) for c in curves] == [("a", False), ("b", False)]
    assert curves[0].curve == ((1, 0.1), (2, 0.15), (3, 0.2), (4, 0.25))  # the final value too
    assert tracker.learning_curves(sweep, {"a"}, "this", "here", "ari") == []


def _logged_params(tracker: Tracker, run_id: str) -> dict[str, str]:
    if isinstance(tracker, MlflowTracker):
        return dict(tracker.client.get_run(run_id).data.params)
    assert isinstance(tracker, MemoryTracker)
    return {k: str(v) for k, v in tracker.runs[run_id].params.items()}


def test_runs_of_one_configuration_on_other_data_log_which_data(tracker: Tracker):
    """MLflow's tables and parallel coordinates show params: two runs of the same parameters
    scored against other labels must not read as identical (report audit, 2026-12-05)."""
    from dataclasses import replace

    sweep = tracker.start_sweep("contract", {}, {})
    shown = []
    for key, context in (("a", "1f2e3d4c" + "0" * 16), ("b", "9a8b7c6d" + "0" * 16)):
        trial = replace(spec(key), data=replace(DATA, context=context))
        run_id = tracker.start_trial(sweep, trial)
        tracker.finish_trial(sweep, run_id, replace(complete(key), spec=trial))
        shown.append(_logged_params(tracker, run_id)["data"])
    assert shown == ["1f2e3d4c", "9a8b7c6d"]
    assert all("data" not in trial.params for trial in tracker.finished_trials("contract"))
