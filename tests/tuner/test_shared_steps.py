"""BERTopic trials that share a UMAP reduction: it is computed once, as its own task."""

from __future__ import annotations

import pytest

from tests.conftest import make_grid
from tuner.engine.executors import make_executor
from tuner.engine.runner import STEPS_FILE, run_sweep
from tuner.engine.sweep import check_inputs, precompute
from tuner.grid import load_grid
from tuner.tracking.memory import MemoryTracker


def test_trials_sharing_a_umap_reduction_compute_it_once(tmp_path, small_corpus,
                                                          session_cache):
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="shared", models=["bertopic"],
                               params={"vocab_size": 1000,
                                       "bertopic.min_cluster_size": [10, 15, 20]}))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = MemoryTracker()
    result = run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2)
    assert result.completed == 3
    sweep = tracker.runs[result.sweep.run_id]
    assert sweep.tags["tuner.shared_steps"] == "1"
    assert [r.metrics["umap_cache_hit"] for r in tracker.trial_runs("shared")] == [1.0] * 3
    # each trial's fit read the reduction from the cache: what it took once is the trial's
    # shared_seconds (fit_seconds alone made BERTopic look the fastest model; audit 2026-12-01)
    reused = {r.metrics["shared_seconds"] for r in tracker.trial_runs("shared")}
    assert len(reused) == 1 and reused.pop() > 0
    assert all(r.metrics["total_seconds"] == pytest.approx(r.metrics["fit_seconds"]
                                                            + r.metrics["shared_seconds"])
               for r in tracker.trial_runs("shared"))
    [step] = sweep.artifacts[STEPS_FILE]["steps"]  # its time, beside the trials' fit_seconds
    assert (step["step"], step["model"], step["error"]) == ("umap", "BERTopic", None)
    assert step["seconds"] > 0


def test_etm_trials_of_one_bag_and_seed_train_word2vec_once(tmp_path, small_corpus,
                                                            session_cache):
    grid = load_grid(make_grid(tmp_path, small_corpus, experiment="shared-w2v", models=["etm"],
                               params={"vocab_size": 1000, "num_topics": 5, "epochs": 10,
                                       "hidden_dim": 128, "num_layers": 1,
                                       "embedding_dim": 50, "learning_rate": [0.002, 0.005]},
                               seeds=[1, 2]))
    prepared = precompute(grid, check_inputs(grid), session_cache, progress=False)
    tracker = MemoryTracker()
    result = run_sweep(prepared, tracker, lambda: make_executor("process", 2), 2)
    assert result.completed == 4
    assert tracker.runs[result.sweep.run_id].tags["tuner.shared_steps"] == "2"  # one per seed
    assert [r.extras["word2vec_cache"] for r in result.records] == ["hit"] * 4
