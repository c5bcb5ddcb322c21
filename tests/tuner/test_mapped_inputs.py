"""A worker memory-maps a bag of words' tokens and the embeddings, checked by hash when loaded:
a file written in place after that is seen before the next trial, and during a trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_grid
from tests.plugins import zero_first_half
from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import run_trial
from tuner.grid import load_grid
from tuner.trial import TrialStatus


def test_a_bag_of_words_written_after_a_worker_loaded_it_is_not_fitted_on(tmp_path, small_corpus):
    """The worker checks a bag's hash once, on load, and keeps it mapped: a file damaged in place
    afterwards was fitted on by every later trial of the worker, and stored under its key."""
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="mapped", seeds=[1, 2]))
    first, second = precompute(grid, check_inputs(grid), tmp_path / "cache",
                               progress=False).trials
    assert run_trial(first).status is TrialStatus.COMPLETE  # this process now maps the bag
    zero_first_half(Path(first.data.bow_path) / "flat.npy")
    record = run_trial(second)
    assert record.status is TrialStatus.FAILED
    assert record.error is not None and "bag-of-words cache missing or damaged" in \
        record.error.message


def test_embeddings_damaged_in_place_are_not_read(tmp_path, small_corpus):
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="mapped-embeddings",
                               models=["bertopic"], params={"num_topics": 5,
                                                            "bertopic.clustering": "kmeans"}))
    trial = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).trials[0]
    assert trial.data.embedding_path is not None
    zero_first_half(Path(trial.data.embedding_path))
    record = run_trial(trial)
    assert record.status is TrialStatus.FAILED
    assert record.error is not None and "embedding cache missing or damaged" in \
        record.error.message


def test_a_trial_whose_bag_was_written_while_it_ran_is_not_kept(tmp_path, small_corpus,
                                                                monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TUNER_TRAINERS", "Scribbler=tests.plugins:ScribblerTrainer")
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="scribbled",
                               models=["Scribbler"], params={"num_topics": 5}))
    trial = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).trials[0]
    record = run_trial(trial)
    assert record.status is TrialStatus.FAILED
    assert record.error is not None and "written while the trial ran" in record.error.message


def test_what_a_fit_derived_from_a_bag_written_while_it_ran_is_not_cached(
        tmp_path, small_corpus, monkeypatch: pytest.MonkeyPatch):
    """The trial failed, but a UMAP reduction or word vectors it cached from the written bytes
    stayed, and every later trial read them as a hit."""
    monkeypatch.setenv("TUNER_TRAINERS", "Scribbler=tests.plugins:ScribblerTrainer")
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="derived",
                               models=["Scribbler"], params={"num_topics": 5,
                                                             "scribbler.derive": True}))
    trial = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).trials[0]
    record = run_trial(trial)
    assert record.status is TrialStatus.FAILED
    assert record.error is not None and "written while the trial ran" in record.error.message
    assert list((tmp_path / "cache" / "derived").glob("*.npy")) == []


def test_a_trial_whose_bags_file_mode_changed_while_it_ran_is_kept(
        tmp_path, small_corpus, monkeypatch: pytest.MonkeyPatch):
    """A chmod changes the file's ctime, not its content: the trial failed as "written while
    the trial ran" (review of the fingerprints)."""
    monkeypatch.setenv("TUNER_TRAINERS", "Scribbler=tests.plugins:ScribblerTrainer")
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="chmodded",
                               models=["Scribbler"], params={"num_topics": 5,
                                                             "scribbler.touch": "chmod"}))
    trial = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False).trials[0]
    record = run_trial(trial)
    assert record.status is TrialStatus.COMPLETE, record.error
