"""A trial's artifacts on a local store are written straight into its run's folder; they must read
back through MLflow exactly as the files MLflow's own upload writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.tracking.tracker import MlflowTracker, local_folder, write_files
from tuner.trial import DataRef, MetricSettings, TrialRecord, TrialSpec, TrialStatus

DATA = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label")
NAMES = {"trial.json", "topics.json", "topic_npmi.json", "extras.json", "assignments.csv"}


def record(key: str) -> TrialRecord:
    spec = TrialSpec("LDA", {"num_topics": 2}, 1, DATA, MetricSettings(), "artifacts", key)
    return TrialRecord(spec, TrialStatus.COMPLETE, {"npmi": 0.25},
                       [["space", "nasa"], ["神", "教会"]], [0.3, 0.2], [0, 1, 1],
                       extras={"note": "é"})


def contents(tracker: MlflowTracker, run_id: str, folder: Path) -> dict[str, str]:
    names = {a.path for a in tracker.client.list_artifacts(run_id)}
    return {name: Path(tracker.client.download_artifacts(run_id, name, str(folder)))
            .read_text(encoding="utf-8") for name in names}


def test_local_artifacts_read_back_as_mlflows_own_upload(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = MlflowTracker(uri)
    sweep = tracker.start_sweep("artifacts", {}, {}, ["d1", "d2", "d3"])
    direct = tracker.start_trial(sweep, record("a").spec)
    tracker.finish_trial(sweep, direct, record("a"))
    # A run this tracker did not open (a journal replay in a later process) goes through MLflow.
    uploaded = tracker.start_trial(sweep, record("a").spec)
    MlflowTracker(uri).finish_trial(sweep, uploaded, record("a"))

    written = contents(tracker, direct, tmp_path / "direct")
    assert set(written) == NAMES
    assert written == contents(tracker, uploaded, tmp_path / "uploaded")
    folder = local_folder(tracker.client.get_run(direct).info.artifact_uri)
    assert folder is not None and sorted(p.name for p in folder.iterdir()) == sorted(NAMES)


@pytest.mark.parametrize("uri, folder", [
    ("file:///srv/mlruns/1/abc/artifacts", "/srv/mlruns/1/abc/artifacts"),
    ("file://localhost/srv/a%20b/artifacts", "/srv/a b/artifacts"),
    ("/srv/mlruns/1/abc/artifacts", "/srv/mlruns/1/abc/artifacts"),
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


def test_written_files_get_opens_default_mode(tmp_path):
    write_files(tmp_path / "run", [("trial.json", "{}")])
    (tmp_path / "plain").write_text("{}")
    assert (tmp_path / "run" / "trial.json").stat().st_mode == (tmp_path / "plain").stat().st_mode
