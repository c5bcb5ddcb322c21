"""A journalled result goes back only to the store and experiment that refused it, and never
gives a trial a second FINISHED run (audit of 2026-12-01: experiment ids are per store, so a
journal named by id alone was replayed into another store's first experiment; and a replay
after a refit resurrected the stale run, counting one seed twice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import sqlite_store
from tuner.tracking.journal import Journal
from tuner.tracking.tracker import MlflowTracker
from tuner.trial import DataRef, MetricSettings, TrialRecord, TrialSpec, TrialStatus

DATA = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label")


def record(experiment: str, key: str = "k1", npmi: float = 0.25) -> TrialRecord:
    spec = TrialSpec("LDA", {"num_topics": 2}, 1, DATA, MetricSettings(), experiment, key)
    return TrialRecord(spec, TrialStatus.COMPLETE, {"npmi": npmi}, [["a", "b"], ["c", "d"]],
                       [0.3, 0.2], [0, 1, 1])


def tracker(folder: Path, name: str, journal: Path) -> MlflowTracker:
    return MlflowTracker(sqlite_store(folder / name), journal_dir=journal)


def finished(store: MlflowTracker, experiment_id: str, key: str) -> list[float]:
    runs = store.trial_runs(experiment_id, f"attributes.status = 'FINISHED' and "
                                           f"tags.`tuner.trial_key` = '{key}'")
    return [run.data.metrics["npmi"] for run in runs]


def test_a_journal_is_replayed_only_into_the_store_that_refused_it(tmp_path):
    journal = tmp_path / "cache" / "journal"  # one cache folder serves both stores
    first, other = tracker(tmp_path, "a.db", journal), tracker(tmp_path, "b.db", journal)
    sweep = first.start_sweep("ja", {}, {})
    run_id = first.start_trial(sweep, record("ja").spec)
    first.journal(sweep).append(run_id, record("ja"))  # as if the store had refused it
    elsewhere = other.start_sweep("kb", {}, {})
    assert elsewhere.experiment_id == sweep.experiment_id  # both stores' first experiment

    assert other.replay_journal(elsewhere) == 0
    assert finished(other, elsewhere.experiment_id, "k1") == []
    assert first.journal(sweep).path.is_file()  # still waiting for its own store
    assert first.replay_journal(first.start_sweep("ja", {}, {})) == 1
    assert finished(first, sweep.experiment_id, "k1") == [0.25]
    assert first.client.get_run(run_id).info.status == "FINISHED"  # into the run it refused


def test_a_journal_named_by_experiment_id_alone_keeps_other_stores_entries(tmp_path):
    journal = tmp_path / "journal"
    first, other = tracker(tmp_path, "a.db", journal), tracker(tmp_path, "b.db", journal)
    sweep = first.start_sweep("same", {}, {})
    run_id = first.start_trial(sweep, record("same").spec)
    legacy = Journal(journal / f"{sweep.experiment_id}.jsonl")  # as tuner wrote it before
    legacy.append(run_id, record("same"))
    same_name = other.start_sweep("same", {}, {})  # even the experiment's name matches

    assert other.replay_journal(same_name) == 0  # its run is not in this store
    assert finished(other, same_name.experiment_id, "k1") == []
    assert legacy.path.is_file()
    assert first.replay_journal(sweep) == 1
    assert finished(first, sweep.experiment_id, "k1") == [0.25]
    assert not legacy.path.exists()


def test_a_result_refitted_since_is_dropped_not_logged_twice(tmp_path):
    store = tracker(tmp_path, "a.db", tmp_path / "journal")
    sweep = store.start_sweep("e", {}, {})
    stale = store.start_trial(sweep, record("e").spec)
    store.journal(sweep).append(stale, record("e", npmi=0.25))
    # A run with another cache folder (so another journal) marked the run stale and refitted.
    store.set_tags(stale, {"tuner.stale": "true", "tuner.status": "FAILED"})
    store.client.set_terminated(stale, "FAILED")
    store.log_trial(sweep, record("e", npmi=0.26))

    assert store.replay_journal(store.start_sweep("e", {}, {})) == 1  # taken: dropped
    assert finished(store, sweep.experiment_id, "k1") == [0.26]
    assert store.client.get_run(stale).info.status == "FAILED"
    assert not store.journal(sweep).path.exists()


def test_a_result_whose_run_ended_without_it_is_logged_as_a_new_run(tmp_path):
    store = tracker(tmp_path, "a.db", tmp_path / "journal")
    sweep = store.start_sweep("e", {}, {})
    stale = store.start_trial(sweep, record("e").spec)
    store.journal(sweep).append(stale, record("e"))
    store.client.set_terminated(stale, "FAILED")  # marked stale; not refitted yet

    assert store.replay_journal(store.start_sweep("e", {}, {})) == 1
    assert finished(store, sweep.experiment_id, "k1") == [0.25]
    assert store.client.get_run(stale).info.status == "FAILED"  # a new run holds it


@pytest.mark.parametrize("legacy", [False, True])
def test_a_result_whose_run_was_deleted_is_logged_as_a_new_run(tmp_path, legacy):
    """MLflow still returns a deleted run and refuses every write to it: the entry stayed in the
    journal for good (review of 2026-12-01). A deleted run still names its experiment, so even
    an id-only journal's entry is known to be this store's."""
    store = tracker(tmp_path, "a.db", tmp_path / "journal")
    sweep = store.start_sweep("e", {}, {})
    deleted = store.start_trial(sweep, record("e").spec)
    journal = Journal(tmp_path / "journal" / f"{sweep.experiment_id}.jsonl") if legacy \
        else store.journal(sweep)
    journal.append(deleted, record("e"))
    store.client.delete_run(deleted)

    assert store.replay_journal(store.start_sweep("e", {}, {})) == 1
    assert finished(store, sweep.experiment_id, "k1") == [0.25]
    assert not journal.path.exists()


def test_a_result_neither_the_store_nor_the_journal_takes_is_named(tmp_path, caplog):
    """A full disk holding both: the journal's OSError escaped and the trial was named nowhere
    (ops audit of 2026-12-03). Here the store refuses a run it does not hold, and the journal's
    folder is a file."""
    from tuner.errors import TrackingError

    blocked = tmp_path / "journal"
    blocked.write_text("not a folder", encoding="utf-8")
    store = tracker(tmp_path, "a.db", blocked)
    sweep = store.start_sweep("full", {}, {})
    with caplog.at_level("ERROR"), pytest.raises(TrackingError, match="neither the store nor "
                                                                      "the journal"):
        store.finish_trial(sweep, "0" * 32, record("full", npmi=0.3125))
    assert "k1" in caplog.text and "its result is lost" in caplog.text
    assert "npmi=0.3125" in caplog.text
