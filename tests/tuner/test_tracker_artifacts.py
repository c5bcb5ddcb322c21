"""A trial's artifacts on a local store are written straight into its run's folder; they must read
back through MLflow exactly as the files MLflow's own upload writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import sqlite_store
from tuner.tracking.tracker import (
    STAGING_PREFIX,
    MlflowTracker,
    _artifact_files,
    local_folder,
    write_files,
)
from tuner.trial import DataRef, MetricSettings, TrialRecord, TrialSpec, TrialStatus

DATA = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label")
NAMES = {"trial.json", "topics.json", "topic_npmi.json", "extras.json", "assignments.csv"}


def record(key: str) -> TrialRecord:
    spec = TrialSpec("LDA", {"num_topics": 2}, 1, DATA, MetricSettings(), "artifacts", key)
    return TrialRecord(spec, TrialStatus.COMPLETE, {"npmi": 0.25},
                       [["space", "nasa"], ["神", "教会"]], [0.3, 0.2], [0, 1, 1],
                       extras={"note": "é"})


def contents(tracker: MlflowTracker, run_id: str, folder: Path) -> dict[str, bytes]:
    names = {a.path for a in tracker.client.list_artifacts(run_id)}
    return {name: Path(tracker.client.download_artifacts(run_id, name, str(folder))).read_bytes()
            for name in names}


def test_local_artifacts_are_written_straight_and_read_back_as_mlflows_upload(tmp_path,
                                                                             monkeypatch):
    uri = sqlite_store(tmp_path / "mlflow.db")
    tracker = MlflowTracker(uri)
    sweep = tracker.start_sweep("artifacts", {}, {}, ["d1", "d2", "d3"])
    direct = tracker.start_trial(sweep, record("a").spec)
    with monkeypatch.context() as patch:  # an upload through the client would fail the write
        patch.setattr(tracker.client, "log_artifacts", None)
        tracker.finish_trial(sweep, direct, record("a"))
    assert not tracker.journal(sweep).path.exists()
    # A run this tracker did not open (a journal replay in a later process) goes through MLflow.
    uploaded = tracker.start_trial(sweep, record("a").spec)
    MlflowTracker(uri).finish_trial(sweep, uploaded, record("a"))

    written = contents(tracker, direct, tmp_path / "direct")
    assert written == {name: text.encode("utf-8")
                       for name, text in _artifact_files(record("a"), sweep.doc_ids)}
    assert set(written) == NAMES
    assert written == contents(tracker, uploaded, tmp_path / "uploaded")
    folder = local_folder(tracker.client.get_run(direct).info.artifact_uri)
    assert folder is not None and sorted(p.name for p in folder.iterdir()) == sorted(NAMES)


def test_a_failed_write_is_journalled_and_the_replay_writes_the_files(tmp_path):
    uri = sqlite_store(tmp_path / "mlflow.db")
    tracker = MlflowTracker(uri, journal_dir=tmp_path / "journal")
    sweep = tracker.start_sweep("artifacts", {}, {}, ["d1", "d2", "d3"])
    run_id = tracker.start_trial(sweep, record("a").spec)
    folder = local_folder(tracker.client.get_run(run_id).info.artifact_uri)
    assert folder is not None
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("")  # a file where the run's folder should be: the write fails
    tracker.finish_trial(sweep, run_id, record("a"))
    assert tracker.finished_keys(sweep) == set()
    assert tracker.journalled == 1  # `tuner run` says so at its end
    folder.unlink()
    later = MlflowTracker(uri, journal_dir=tmp_path / "journal")
    assert later.replay_journal(sweep) == 1
    assert later.finished_keys(sweep) == {"a"}
    assert set(contents(later, run_id, tmp_path / "replayed")) == NAMES


def test_a_plain_artifact_path_is_read_as_mlflow_reads_it(tmp_path):
    uri = sqlite_store(tmp_path / "mlflow.db")
    tracker = MlflowTracker(uri)
    tracker.client.create_experiment("artifacts", artifact_location=str(tmp_path / "runs%41x"))
    sweep = tracker.start_sweep("artifacts", {}, {}, ["d1", "d2", "d3"])
    run_id = tracker.start_trial(sweep, record("a").spec)
    tracker.finish_trial(sweep, run_id, record("a"))
    assert set(contents(tracker, run_id, tmp_path / "read")) == NAMES
    assert (tmp_path / "runsAx").is_dir() and not (tmp_path / "runs%41x").exists()


@pytest.mark.parametrize("uri, folder", [
    ("file:///srv/mlruns/1/abc/artifacts", "/srv/mlruns/1/abc/artifacts"),
    ("file://localhost/srv/a%20b/artifacts", "/srv/a b/artifacts"),
    ("/srv/mlruns/1/abc/artifacts", "/srv/mlruns/1/abc/artifacts"),
    ("/srv/a%20b/artifacts", "/srv/a b/artifacts"),
    ("mlflow-artifacts:/1/abc/artifacts", None),
    ("s3://bucket/1/abc/artifacts", None),
    ("file://otherhost/srv/artifacts", None),
    ("mlruns/1/abc/artifacts", None),
])
def test_only_a_local_folder_is_written_straight(uri, folder):
    assert local_folder(uri) == (Path(folder) if folder else None)


def test_a_file_that_cannot_be_written_leaves_the_old_one_and_no_staging_file(tmp_path):
    write_files(tmp_path, [("topics.json", "old")])
    with pytest.raises(UnicodeEncodeError):
        write_files(tmp_path, [("topics.json", "\ud800")])  # a lone surrogate: no UTF-8 form
    assert [p.name for p in tmp_path.iterdir()] == ["topics.json"]
    assert (tmp_path / "topics.json").read_text() == "old"


def test_a_file_being_written_is_not_listed_by_mlflow(tmp_path):
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    sweep = tracker.start_sweep("artifacts", {}, {})
    run_id = tracker.start_trial(sweep, record("a").spec)
    folder = local_folder(tracker.client.get_run(run_id).info.artifact_uri)
    assert folder is not None
    write_files(folder, [("trial.json", "{}")])
    (folder / f"{STAGING_PREFIX}left-by-a-killed-process").write_text("{")
    assert [a.path for a in tracker.client.list_artifacts(run_id)] == ["trial.json"]


def test_written_files_get_opens_default_mode(tmp_path):
    write_files(tmp_path / "run", [("trial.json", "{}")])
    (tmp_path / "plain").write_text("{}")
    assert (tmp_path / "run" / "trial.json").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_a_parameter_past_mlflows_length_is_cut_where_it_says_so(tmp_path):
    """650 ten-digit seeds made a sweep's `seeds` 7,000 characters; MLflow kept 6,000 without
    a word (attacker audit of 2026-12-02)."""
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    experiment = tracker.client.create_experiment("long-params")
    run = tracker.client.create_run(experiment)
    seeds = ",".join(str(4_000_000_000 + i) for i in range(650))
    tracker._log_params(run.info.run_id, {"seeds": seeds, "short": "1,2"})
    logged = tracker.client.get_run(run.info.run_id).data.params
    assert logged["short"] == "1,2"
    assert len(logged["seeds"]) == 6000 and logged["seeds"].startswith(seeds[:5000])
    assert logged["seeds"].endswith(f"... ({len(seeds)} characters)")


def test_an_experiment_whose_artifacts_go_outside_the_store_is_told_apart(tmp_path):
    """MLflow's Default experiment, one made with MLflow's API elsewhere, and a location whose
    '#' hid its climb out when it was parsed as a URL (attacker audit of 2026-12-04, second
    round) keep their artifacts outside the store's folder; tuner's own do not."""
    from mlflow.tracking import MlflowClient

    uri = sqlite_store(tmp_path / "store" / "mlflow.db")
    tracker = MlflowTracker(uri)
    tracker.experiment_id("own")
    client = MlflowClient(uri)
    artifacts = tmp_path / "store" / "artifacts"
    client.create_experiment("hash", artifact_location=f"{artifacts}/x#/../../../out")
    client.create_experiment("inside", artifact_location=str(artifacts / "inside"))
    client.create_experiment("outside", artifact_location=(tmp_path / "out").as_uri())
    assert [name for name in ("own", "inside", "hash", "outside", "Default", "absent")
            if tracker.artifacts_elsewhere(name)] == ["hash", "outside", "Default"]
