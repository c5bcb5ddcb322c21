"""End to end through the real CLI: a 2-worker sweep into a temporary MLflow store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import REPO, make_grid, sqlite_store
from tests.plugins import FAILING_SEED

METRICS = {"npmi", "diversity", "ari", "f1", "f1_micro", "nmi", "gt_coverage", "outlier_share",
           "num_topics_found", "fit_seconds", "eval_seconds"}


def run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO),
           "TUNER_TRAINERS": "Flaky=tests.plugins:FlakyTrainer",
           **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "tuner.cli", *args], capture_output=True,
                          text=True, env=env, timeout=600, cwd=REPO)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, small_corpus, session_cache):
    folder = tmp_path_factory.mktemp("sweep")
    grid = make_grid(folder, small_corpus, experiment="runner-test", models=["lda", "flaky"],
                     params={"num_topics": 5, "vocab_size": 1000, "max_iter": 10},
                     seeds=[1, FAILING_SEED])
    uri = sqlite_store(folder / "mlruns" / "mlflow.db")
    first = run_cli("run", str(grid), "--max-workers", "2", "--tracking-uri", uri,
                    "--cache-dir", str(session_cache), "--quiet")
    second = run_cli("run", str(grid), "--max-workers", "2", "--tracking-uri", uri,
                     "--cache-dir", str(session_cache), "--quiet")
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("runner-test")
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    return {"first": first, "second": second, "client": client, "runs": runs, "folder": folder}


def trial_runs(sweep, status=None):
    return [r for r in sweep["runs"] if r.data.tags.get("tuner.role") == "trial"
            and (status is None or r.info.status == status)]


def test_failing_trial_makes_exit_code_1_and_the_rest_complete(sweep):
    assert sweep["first"].returncode == 1, sweep["first"].stderr
    assert "3 completed, 1 failed, 0 skipped" in sweep["first"].stdout


def test_every_finished_child_has_all_metrics_and_parameters(sweep):
    finished = trial_runs(sweep, "FINISHED")
    assert len(finished) == 3
    for run in finished:
        assert METRICS <= set(run.data.metrics), run.data.metrics.keys()
        assert {"num_topics", "vocab_size", "max_iter", "seed", "model"} <= set(run.data.params)
        assert run.data.tags["mlflow.parentRunId"] in {r.info.run_id for r in sweep["runs"]}


def test_failed_trial_is_a_failed_run_with_the_error(sweep):
    failed = trial_runs(sweep, "FAILED")
    assert len(failed) == 2  # once per sweep: a FAILED key is retried by the next run
    run = failed[0]
    assert run.data.tags["tuner.error_type"] == "RuntimeError"
    assert "deliberate failure" in run.data.tags["tuner.error"]
    error = Path(sweep["client"].download_artifacts(run.info.run_id, "error.txt",
                                                    str(sweep["folder"])))
    assert "Traceback" in error.read_text()


def test_artifacts_of_a_finished_trial(sweep, tmp_path):
    run = trial_runs(sweep, "FINISHED")[0]
    names = {a.path for a in sweep["client"].list_artifacts(run.info.run_id)}
    assert {"topics.json", "topic_npmi.json", "assignments.csv", "trial.json"} <= names
    csv = Path(sweep["client"].download_artifacts(run.info.run_id, "assignments.csv",
                                                  str(tmp_path))).read_text().splitlines()
    assert csv[0] == "doc_index,doc_id,topic" and len(csv) == 401


def test_second_run_skips_every_finished_trial(sweep):
    assert "0 completed, 1 failed, 3 skipped" in sweep["second"].stdout
    keys = [r.data.tags["tuner.trial_key"] for r in trial_runs(sweep, "FINISHED")]
    assert len(keys) == len(set(keys))


def test_parent_runs_hold_the_best_metrics_and_sweep_tags(sweep):
    parents = [r for r in sweep["runs"] if r.data.tags.get("tuner.role") == "sweep"]
    assert len(parents) == 2
    assert all("best_ari" in p.data.metrics for p in parents)
    assert all(p.data.tags["tuner.skipped"] in {"0", "3"} for p in parents)


def test_leaderboard_is_printed_by_ari(sweep):
    assert "leaderboard by ari" in sweep["first"].stdout
    assert "lda-" in sweep["first"].stdout


@pytest.mark.parametrize(("cores", "fires_after"), [(2, 4), (4, 0)])
def test_the_importance_libraries_load_once_a_core_is_free(monkeypatch, cores, fires_after):
    """Five trials on two workers: with two cores the import starts once four have finished
    (one trial left, one worker idle); with four cores it starts at once."""
    import tuner.flow as flow
    from tests.tuner.test_triage import spec
    from tuner.trial import TrialRecord, TrialStatus

    loaded: list[str] = []
    seen: list[TrialRecord] = []
    monkeypatch.setattr(flow, "usable_cores", lambda: cores)
    monkeypatch.setattr(flow, "_import_in_background", loaded.append)
    record = flow._import_importance_on_a_free_core(5, 2, seen.append)
    assert len(loaded) == (fires_after == 0)
    for finished in range(1, 6):
        record(TrialRecord(spec("a"), TrialStatus.COMPLETE))
        assert len(loaded) == (finished >= fires_after) and len(seen) == finished
    assert loaded == ["optuna.importance"]


def test_a_report_names_the_configurations_no_seed_of_which_finished(tmp_path, small_corpus,
                                                                      session_cache,
                                                                      monkeypatch):
    """A configuration whose every seed failed was on no ranking and no plot, and the report
    said nothing of it: it read as never tried (audit of 2026-12-01)."""
    from tuner.reporting.report import write_report

    grid = make_grid(tmp_path, small_corpus, experiment="report-failures",
                     models=["lda", "flaky"], seeds=[FAILING_SEED],
                     params={"num_topics": 5, "vocab_size": 1000, "max_iter": 10})
    uri = sqlite_store(tmp_path / "mlflow.db")
    done = run_cli("run", str(grid), "--max-workers", "1", "--tracking-uri", uri,
                   "--cache-dir", str(session_cache), "--quiet")
    assert "1 completed, 1 failed" in done.stdout, done.stdout + done.stderr
    monkeypatch.setenv("TUNER_TRAINERS", "Flaky=tests.plugins:FlakyTrainer")
    page = write_report(uri, "report-failures", tmp_path / "report").html.read_text("utf-8")
    assert "1 trial failed on this data" in page
    assert "1 configuration finished on no seed (ranked nowhere)" in page
    assert "<td>Flaky</td>" in page and "<td>RuntimeError</td>" in page
