"""A fit whose result moves with its native thread count is keyed by that count, and a sweep's
count follows the workers asked for, not how many trials its grid has (determinism audit of
2026-12-03: ProdLDA's ARI 0.0494 on one thread and 0.0492 on two, under one key; the grid
`tuner best` wrote ran its one trial on both cores)."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import make_grid, run_sweep, sqlite_store
from trainers import load_trainer
from tuner.data.inputs import FitContext
from tuner.devices import usable_cores
from tuner.fitting import fit_code, fit_trial


def test_the_thread_count_is_keyed_only_where_it_moves_the_fit():
    assert fit_code("ProdLDA", 1)["threads"] == "1" and fit_code("ProdLDA", 2)["threads"] == "2"
    assert fit_code("STM", 2)["threads"] == "2"  # BLAS's sums (1e-13 in θ at 1 and 2 threads)
    assert "threads" not in fit_code("LDA", 2) and "threads" not in fit_code("ProdLDA")


@pytest.mark.parametrize("model", ["lda", "btm", "hdp"])
def test_a_model_not_keyed_by_threads_fits_alike_on_one_and_two(model, small_data, tmp_path):
    """The declaration's evidence: tomotopy samples on one thread whatever the count."""
    trainer = load_trainer(model)()
    assert not trainer.thread_sensitive
    sizes = {"num_topics": 5} if "num_topics" in trainer.params.names else {}
    params = trainer.params.with_defaults({**sizes, "vocab_size": 1000,
                                           trainer.budget_param or "max_iter": 50})
    fits = [fit_trial(trainer, small_data, params,
                      FitContext(seed=3, threads=threads, cache_dir=str(tmp_path)))
            for threads in (1, 2)]
    assert fits[0].topic_words == fits[1].topic_words
    assert (fits[0].doc_topic == fits[1].doc_topic).all()


def _trial_tags(uri: str, experiment: str) -> list[dict[str, str]]:
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None
    return [run.data.tags for run in client.search_runs(
        [found.experiment_id], "tags.`tuner.role` = 'trial'", max_results=50)]


def test_another_thread_count_refits_the_neural_trials_only(tmp_path, small_corpus,
                                                            session_cache):
    grid = make_grid(tmp_path, small_corpus, experiment="threads", models=["lda", "prodlda"],
                     params={"num_topics": 5, "vocab_size": 1000, "lda.max_iter": 10,
                             "prodlda.epochs": 10})
    uri = sqlite_store(tmp_path / "mlflow.db")
    run_sweep(grid, uri, session_cache, "--threads-per-worker", "1")
    run_sweep(grid, uri, session_cache, "--threads-per-worker", "1")  # all skipped
    assert len(_trial_tags(uri, "threads")) == 2
    run_sweep(grid, uri, session_cache, "--threads-per-worker", "2")
    tags = _trial_tags(uri, "threads")
    fitted = sorted((t["tuner.model"], t["tuner.threads"]) for t in tags)
    assert fitted == [("LDA", "1"), ("ProdLDA", "1"), ("ProdLDA", "2")]


def test_a_one_trial_grid_runs_on_the_threads_of_the_workers_asked_for(tmp_path, small_corpus,
                                                                        session_cache):
    grid = make_grid(tmp_path, small_corpus, experiment="one-trial", models=["prodlda"],
                     params={"num_topics": 5, "vocab_size": 1000, "epochs": 10})
    assert json.loads(grid.read_text())["seeds"] == [1]
    uri = sqlite_store(tmp_path / "mlflow.db")
    run_sweep(grid, uri, session_cache, "--max-workers", "2")
    [tags] = _trial_tags(uri, "one-trial")
    assert tags["tuner.threads"] == str(max(1, usable_cores() // 2))
