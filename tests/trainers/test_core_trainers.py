"""LDA, BERTopic and ProdLDA fit a real 400-document subset and return a valid output."""

from __future__ import annotations

import numpy as np
import pytest

from trainers import load_trainer
from tuner.data.inputs import FitContext

TINY = {
    "LDA": {"num_topics": 5, "vocab_size": 1000, "max_iter": 20},
    "BERTopic": {"num_topics": None, "vocab_size": 1000, "min_cluster_size": 10},
    "ProdLDA": {"num_topics": 5, "vocab_size": 1000, "epochs": 10, "hidden_dim": 128,
                "num_layers": 1},
}


@pytest.mark.parametrize("model", sorted(TINY))
def test_fit_returns_valid_output(model, small_data):
    trainer = load_trainer(model)
    params = trainer.params.with_defaults(TINY[model])
    output = trainer().fit(small_data, params, FitContext(seed=3, top_n=25))
    assert output.n_docs == small_data.bow.n_docs
    assert all(len(words) == 25 for words in output.topic_words)
    if params["num_topics"] is not None:
        assert output.num_topics == params["num_topics"]
    assert set(np.unique(output.assignments)) - {-1} <= set(range(output.num_topics))


def fit_bertopic(data, cache_dir, **params):
    trainer = load_trainer("BERTopic")
    full = trainer.params.with_defaults({"vocab_size": 1000, **params})
    return trainer().fit(data, full, FitContext(seed=3, top_n=10, cache_dir=str(cache_dir)))


def test_umap_reduction_is_reused_across_hdbscan_parameters(small_data, tmp_path):
    first = fit_bertopic(small_data, tmp_path, min_cluster_size=10)
    second = fit_bertopic(small_data, tmp_path, min_cluster_size=15)
    other_umap = fit_bertopic(small_data, tmp_path, min_cluster_size=10, n_neighbors=10)
    again = fit_bertopic(small_data, tmp_path, min_cluster_size=10)
    assert [o.extras["umap_cache_hit"] for o in (first, second, other_umap, again)] == [0, 1, 0, 1]
    np.testing.assert_array_equal(first.assignments, again.assignments)
