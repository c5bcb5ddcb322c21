"""FinishedTrial records built from what a store keeps of a run (parameters as text)."""

from __future__ import annotations

import pytest

from trainers import trainer_revision
from tuner.tracking.records import StoredRun, current_trials


def stored(model: str, params: dict[str, str], revision: str | None = None) -> StoredRun:
    tags = {"tuner.role": "trial", "tuner.model": model, "tuner.trial_key": "k1",
            "mlflow.parentRunId": "sweep1"}
    if revision is not None:
        tags["tuner.revision"] = revision
    return StoredRun("r1", "lda-0000-k5-s1", "FINISHED", tags, params, {"ari": 0.5}, 10, 20)


def test_declared_parameters_are_typed_by_the_schema() -> None:
    [trial] = current_trials([stored("LDA", {
        "model": "LDA", "seed": "7", "num_topics": "5", "alpha": "null", "max_iter": "10",
        "vocab_size": "1000", "npmi_window": "10", "topn": "10", "diversity_topn": "25"})])
    assert trial.params == {"num_topics": 5, "alpha": None, "max_iter": 10, "vocab_size": 1000}
    assert (trial.seed, trial.key, trial.parent_run_id) == (7, "k1", "sweep1")
    # logged before npmi_reference existed: scored on the vocabulary's windows, and `tuner best`
    # must print a grid that scores it so (review of 2026-12-01)
    assert trial.metric_settings == {"npmi_window": 10, "topn": 10, "diversity_topn": 25,
                                     "npmi_reference": "vocabulary"}


def test_the_npmi_reference_a_run_logged_is_read_back() -> None:
    [trial] = current_trials([stored("LDA", {
        "model": "LDA", "seed": "7", "num_topics": "5", "npmi_window": "10", "topn": "10",
        "diversity_topn": "25", "npmi_reference": "preprocessed"})])
    assert trial.metric_settings["npmi_reference"] == "preprocessed"


def test_parameters_no_schema_declares_are_guessed() -> None:
    [trial] = current_trials([stored("NotRegistered", {
        "rate": "0.5", "flag": "True", "metric": "cosine", "n": "3", "prior": "null"})])
    assert trial.params == {"rate": 0.5, "flag": True, "metric": "cosine", "n": 3,
                            "prior": None}


@pytest.mark.parametrize(("behind", "kept"), [(None, False), (1, False), (0, True)])
def test_runs_of_an_older_trainer_revision_are_left_out(behind: int | None, kept: bool) -> None:
    """A run logged `behind` revisions before ETM's current one (None: before it had any)."""
    current = trainer_revision("ETM")
    assert current is not None and current >= 2
    revision = None if behind is None else str(current - behind)
    assert bool(current_trials([stored("ETM", {"num_topics": "5"}, revision)])) is kept
