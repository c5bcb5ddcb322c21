"""A row of earlier settings: runs made with settings the latest sweep did not ask for (the
embedding's max_length, which no parameter shows), shown as a configuration that sweep asked for
and of which no trial finished. Scenarios on a real MLflow SQLite store, logged as the runner
logs them; the sweep's record of how each configuration it asks for shows (configs_record) is
what tells such a row where the asked trials were killed, pruned or never ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_grid, run_sweep, sqlite_store
from trainers import canonical_name, trainer_revision
from tuner.reporting.leaderboard import (
    ALL_ROWS,
    format_leaderboard,
    latest_asked,
    leaderboard,
    recommended,
)
from tuner.tracking.records import shown_as
from tuner.tracking.tags import ASKED_TAG, CONTEXT_TAG
from tuner.tracking.tracker import (
    SWEEP_CONFIGS_FILE,
    MlflowTracker,
    SweepHandle,
    configs_record,
    shown_for,
)
from tuner.trial import DataRef, MetricSettings, TrialError, TrialRecord, TrialSpec, TrialStatus

CONTEXT = "ctx"
DATA = DataRef("corpus.jsonl", "sha", "en", "bow/v1000", None, None, None, "label",
               context=CONTEXT)
BERTOPIC = canonical_name("bertopic") or "BERTopic"


def spec(config: str, num_topics: int | None = 6, model: str = BERTOPIC, seed: int = 42,
         **params: Any) -> TrialSpec:
    """A trial of configuration `config`: BERTopic at max_length 256 and 64 has one set of
    parameters and two config keys."""
    full = {"num_topics": num_topics, "vocab_size": 1000, "random_state": seed, **params}
    revision = trainer_revision(model) if canonical_name(model) else None
    return TrialSpec(model, full, seed, DATA, MetricSettings(), "e", f"{config}-s{seed}",
                     revision=revision, fit_key=f"fit-{config}-s{seed}", config_key=config)


def start_sweep(tracker: MlflowTracker, asked: list[TrialSpec],
                record: dict[str, Any] | None = None) -> SweepHandle:
    """A sweep's run as the runner opens it: its config keys (and how their rows show) logged."""
    logged = configs_record(asked) if record is None else record
    sweep = tracker.start_sweep("e", {CONTEXT_TAG: CONTEXT,
                                      ASKED_TAG: str(len(logged["config_keys"]))}, {})
    tracker.log_json(sweep.run_id, SWEEP_CONFIGS_FILE, logged)
    return sweep


def finish(tracker: MlflowTracker, sweep: SweepHandle, trial: TrialSpec, ari: float) -> None:
    run_id = tracker.start_trial(sweep, trial)
    tracker.finish_trial(sweep, run_id, TrialRecord(trial, TrialStatus.COMPLETE,
                                                    {"ari": ari, "fit_seconds": 1.0}))


def earlier_sweep(tracker: MlflowTracker) -> None:
    """BERTopic at max_length 256 (config key "256") and at K=7, both finished."""
    at_256, k7 = spec("256"), spec("k7", num_topics=7)
    sweep = start_sweep(tracker, [at_256, k7])
    finish(tracker, sweep, at_256, 0.217)
    finish(tracker, sweep, k7, 0.100)
    tracker.end_sweep(sweep, "FINISHED", {})


def rows(tracker: MlflowTracker) -> list[tuple[int, bool]]:
    return [(int(c.params["num_topics"]), c.replaced)
            for c in leaderboard(tracker, "e", "ari", ALL_ROWS)]


@pytest.fixture
def tracker(tmp_path: Path) -> MlflowTracker:
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    earlier_sweep(tracker)
    return tracker


def test_a_row_whose_asked_trial_was_killed_is_of_earlier_settings(tracker: MlflowTracker
                                                                  ) -> None:
    """The grid changed to max_length 64 and its sweep interrupted while the 64-token trial ran:
    the run ends KILLED, no trial failed, and the 256-token run passed as the grid's, ranked
    first and recommended by `tuner best`."""
    at_64 = spec("64")
    sweep = start_sweep(tracker, [at_64, spec("k7", num_topics=7)])
    run_id = tracker.start_trial(sweep, at_64)
    tracker.end_run(run_id, "KILLED")
    tracker.end_sweep(sweep, "KILLED", {})
    board = leaderboard(tracker, "e", "ari", ALL_ROWS)
    assert rows(tracker) == [(6, True), (7, False)]
    assert recommended(board) is board[1]
    assert "earlier settings" in format_leaderboard(board, "ari").splitlines()[2]


@pytest.mark.parametrize("stopped", ["never ran", "pruned"])
def test_a_row_whose_asked_trial_never_ran_or_was_pruned_is_of_earlier_settings(
        tracker: MlflowTracker, stopped: str) -> None:
    """The sweep stopped (or timed out) before it reached the 64-token trial, which has no run
    at all; or its pruner stopped it, which leaves a run no ranking reads."""
    at_64, k7 = spec("64"), spec("k7", num_topics=7)
    sweep = start_sweep(tracker, [k7, at_64])
    finish(tracker, sweep, k7, 0.100)
    if stopped == "pruned":
        run_id = tracker.start_trial(sweep, at_64)
        tracker.finish_trial(sweep, run_id, TrialRecord(at_64, TrialStatus.PRUNED,
                                                        {"ari": 0.05}, pruned_by="p"))
    tracker.end_sweep(sweep, "KILLED" if stopped == "never ran" else "FINISHED", {})
    assert rows(tracker) == [(6, True), (7, False)]
    board = leaderboard(tracker, "e", "ari", ALL_ROWS)
    assert recommended(board) is board[1]


def test_a_row_the_latest_sweep_asked_for_again_and_finished_stands(tracker: MlflowTracker
                                                                   ) -> None:
    """Asked for again under its own key and skipped as finished: the grid's own result."""
    sweep = start_sweep(tracker, [spec("256"), spec("k7", num_topics=7)])
    tracker.end_sweep(sweep, "FINISHED", {})
    assert rows(tracker) == [(6, False), (7, False)]


def test_a_sweep_that_did_not_record_how_its_rows_show_is_read_from_its_failed_trials(
        tracker: MlflowTracker) -> None:
    """A sweep logged by a tuner that kept only the config keys."""
    at_64 = spec("64")
    sweep = start_sweep(tracker, [], {"config_keys": ["64", "k7"]})
    run_id = tracker.start_trial(sweep, at_64)
    tracker.finish_trial(sweep, run_id, TrialRecord(at_64, TrialStatus.FAILED,
                                                    error=TrialError("OSError", "no", "")))
    tracker.end_sweep(sweep, "FINISHED", {})
    asked = latest_asked(tracker, tracker.sweep_runs("e"), CONTEXT)
    assert (asked.keys, asked.shown) == ({"64", "k7"}, None)
    assert rows(tracker) == [(6, True), (7, False)]


KINDS = [  # int, float, None, bool and str values, and an int where the schema says float
    spec("lda", model=canonical_name("lda") or "LDA", alpha=1, eta=0.01, term_weight="idf",
         max_iter=10),
    spec("bertopic", num_topics=None, min_dist=0.1, reduce_frequent_words=True,
         clustering="kmeans", cluster_selection_epsilon=0.0),
    spec("stm", model=canonical_name("stm") or "STM", em_tol=1e-5, init="random"),
    spec("plugin", model="external:tool", ratio=0.25, flag=False, label="x", nothing=None),
]


def test_how_a_trial_shows_before_it_runs_is_how_its_stored_run_shows(tmp_path: Path) -> None:
    """Its parameters through the store's text and back: 1 where the schema says float is read
    back 1.0, and a model no registry knows has its values guessed back."""
    tracker = MlflowTracker(sqlite_store(tmp_path / "mlflow.db"))
    sweep = start_sweep(tracker, KINDS)
    for trial in KINDS:
        finish(tracker, sweep, trial, 0.1)
    read = {t.config_key: shown_as(t) for t in tracker.finished_trials("e")}
    assert read == {t.config_key: shown_for(t) for t in KINDS}
    assert read == latest_asked(tracker, tracker.sweep_runs("e"), CONTEXT).shown
    assert "('alpha', 1.0)" in read["lda"] and "('num_topics', None)" in read["bertopic"]


def test_a_real_sweep_records_how_each_configuration_it_asks_for_shows(
        tmp_path: Path, small_corpus: Path, session_cache: Path) -> None:
    uri = sqlite_store(tmp_path / "mlflow.db")
    run_sweep(make_grid(tmp_path, small_corpus, experiment="shown", seeds=[1, 2],
                        params={"num_topics": [5, 6], "vocab_size": 1000,
                                "lda.max_iter": 10, "lda.alpha": [None, 0.5]}),
              uri, session_cache, "--quiet")
    tracker = MlflowTracker(uri, existing=True)
    trials = tracker.finished_trials("shown")
    assert len(trials) == 8
    asked = latest_asked(tracker, tracker.sweep_runs("shown"), None)
    assert asked.shown == {t.config_key: shown_as(t) for t in trials}
    assert len(set(asked.shown.values())) == 4
