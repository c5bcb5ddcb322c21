"""THETA: its parameter rules, its default Qwen3 embedding offline, and contrastive adaptation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from tests.conftest import make_grid
from trainers import load_trainer
from trainers.adapters import adapted_embeddings, adapter_key, settings_for
from tuner.data.inputs import FitContext
from tuner.devices import thread_limit
from tuner.errors import EmbeddingModelError, TrainerError
from tuner.grid import EmbeddingSpec

FAST = {"num_topics": 20, "vocab_size": 1000, "epochs": 30, "hidden_dim": 128,
        "num_layers": 1, "kl_warmup": 5}


def _fit(data, cache_dir, **changes):
    trainer = load_trainer("THETA")
    params = trainer.params.with_defaults({**FAST, **changes})
    return trainer().fit(data, params, FitContext(seed=11, cache_dir=str(cache_dir)))


@pytest.fixture(scope="module")
def theta_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("theta_cache")


def test_supervised_mode_clusters_labels_better(small_data, theta_cache):
    """SupCon-adapted embeddings must carry the labels into the topics (ARI vs zero_shot)."""
    zero_shot = _fit(small_data, theta_cache, mode="zero_shot")
    supervised = _fit(small_data, theta_cache, mode="supervised")
    ari_zero = adjusted_rand_score(small_data.labels, zero_shot.assignments)
    ari_supervised = adjusted_rand_score(small_data.labels, supervised.assignments)
    assert supervised.extras["adaptation"] == "adapter-mlp"
    assert zero_shot.extras["adaptation"] == "none"
    assert ari_supervised > ari_zero + 0.02


def test_unsupervised_adapter_is_cached(small_data, theta_cache):
    with thread_limit(1):  # as in a worker: an oversubscribed pool is many times slower
        first = adapted_embeddings(small_data.embeddings, None, "unsupervised", 3,
                                   small_data.corpus.sha256, theta_cache, "cpu")
    again = adapted_embeddings(small_data.embeddings, None, "unsupervised", 3,
                               small_data.corpus.sha256, theta_cache, "cpu")
    assert (first[1], again[1]) == (False, True)
    np.testing.assert_array_equal(first[0], again[0])
    assert np.allclose(np.linalg.norm(first[0], axis=1), 1.0, atol=1e-5)
    assert not np.allclose(first[0], small_data.embeddings)


def test_adapter_key_follows_labels_and_seed(small_data):
    settings = settings_for("supcon")
    labels = np.asarray(small_data.labels)
    base = adapter_key(small_data.embeddings, labels, settings, "supervised", 1, "c")
    assert adapter_key(small_data.embeddings, labels[::-1].copy(), settings, "supervised", 1,
                       "c").digest != base.digest
    assert adapter_key(small_data.embeddings, labels, settings, "supervised", 2,
                       "c").digest != base.digest


def test_supervised_without_labels_says_so(small_data, theta_cache):
    unlabeled = dataclasses.replace(small_data, labels=None)
    with pytest.raises(TrainerError, match="mode=supervised needs document labels"):
        _fit(unlabeled, theta_cache, mode="supervised", epochs=1)


@pytest.mark.parametrize(("values", "message"), [
    ({"epochs": 20, "kl_warmup": 30}, "THETA requires kl_warmup <= epochs; got kl_warmup=30, "
                                      "epochs=20"),
    ({"kl_start": 0.8, "kl_end": 0.2}, "THETA requires kl_start <= kl_end; got kl_start=0.8, "
                                       "kl_end=0.2, kl_warmup=50"),
    ({"mode": "few_shot"}, "THETA expects one of zero_shot/supervised/unsupervised; "
                           "got 'few_shot'"),
])
def test_schema_rules(values, message):
    assert load_trainer("THETA").params.validate(values) == [message]


@pytest.mark.parametrize(("size", "model_id"), [("0.6B", "Qwen/Qwen3-Embedding-0.6B"),
                                                ("8B", "Qwen/Qwen3-Embedding-8B")])
def test_default_embedding_is_qwen3(size, model_id):
    spec = load_trainer("THETA").default_embedding(
        {"model_size": size}, EmbeddingSpec(max_length=128, batch_size=8))
    assert spec == EmbeddingSpec(model=model_id, pooling="last_token", max_length=128,
                                 batch_size=8)


def test_qwen_default_offline_fails_with_the_id(small_corpus, tmp_path, monkeypatch):
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    grid = load_grid(make_grid(tmp_path, small_corpus, models=["theta"],
                               params={"model_size": "4B", "kl_warmup": 10},
                               embedding={"max_length": 128}))
    with pytest.raises(EmbeddingModelError,
                       match=r"'Qwen/Qwen3-Embedding-4B' is not in the local .* offline"):
        check_inputs(grid)


def test_kl_start_without_warm_up_is_one_trial():
    """Without annealing, kl_start reaches nothing: kl_start 0.0 and 1.0 at kl_warmup 0 ran as
    two identical trials, ranked as two configurations (audit of 2026-12-01)."""
    schema = load_trainer("THETA").params
    pairs = [schema.resolved(schema.with_defaults({"kl_warmup": 0, "kl_start": v, "epochs": 10}))
             for v in (0.0, 0.5)]
    assert pairs[0] == pairs[1]  # what trials are keyed on
    warm = [schema.resolved(schema.with_defaults({"kl_warmup": 5, "kl_start": v, "epochs": 10}))
            for v in (0.0, 0.5)]
    assert warm[0] != warm[1]
    assert schema.validate({"kl_warmup": 0, "kl_start": 0.9, "kl_end": 0.5, "epochs": 10}) == []
