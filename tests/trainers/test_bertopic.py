"""BERTopic's extension knobs: k-means with num_topics as k, outlier reduction, HDBSCAN and UMAP
settings, and the rule that k-means needs num_topics."""

from __future__ import annotations

import numpy as np
import pytest

from trainers import load_trainer
from tuner.data.inputs import FitContext


def fit_bertopic(data, cache_dir, **params):
    trainer = load_trainer("BERTopic")
    full = trainer.params.with_defaults({"vocab_size": 1000, **params})
    return trainer().fit(data, full, FitContext(seed=3, top_n=10, cache_dir=str(cache_dir)))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("umap")


def test_kmeans_finds_exactly_num_topics_and_no_outliers(small_data, cache):
    output = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7)
    assert output.num_topics == 7
    assert (output.assignments >= 0).all()


@pytest.mark.parametrize("strategy", ["c-tf-idf", "embeddings", "distributions"])
def test_reduce_outliers_assigns_hdbscan_outliers(small_data, cache, strategy):
    leaf = {"min_cluster_size": 5, "cluster_selection_method": "leaf"}  # leaves many outliers
    plain = fit_bertopic(small_data, cache, **leaf)
    reduced = fit_bertopic(small_data, cache, **leaf, reduce_outliers=strategy)
    assert plain.extras["outliers_before_reduction"] == int((plain.assignments < 0).sum()) > 0
    assert (reduced.assignments < 0).sum() < (plain.assignments < 0).sum()


def test_leaf_selection_and_umap_settings_change_the_clustering(small_data, cache):
    eom = fit_bertopic(small_data, cache, min_cluster_size=10)
    leaf = fit_bertopic(small_data, cache, min_cluster_size=10, cluster_selection_method="leaf",
                        min_dist=0.1, metric="euclidean")
    assert leaf.extras["umap_cache_hit"] == 0  # other UMAP settings: a new reduction
    assert not np.array_equal(eom.assignments, leaf.assignments)


def test_kmeans_without_num_topics_is_rejected():
    problems = load_trainer("BERTopic").params.validate({"clustering": "kmeans"})
    assert problems == ["BERTopic requires num_topics when clustering is kmeans; got "
                        "clustering='kmeans', num_topics=None"]


def test_min_cluster_size_range_is_widened_beyond_100():
    schema = load_trainer("BERTopic").params
    assert schema.validate({"min_cluster_size": 300, "num_topics": 200}) == []
    assert schema.validate({"min_cluster_size": 1001}) == [
        "BERTopic expects an int in 2-1000; got 1001"]


def test_reduce_frequent_words_ranks_words_frequent_everywhere_lower(small_data, cache):
    """The same clusters (one cached reduction, k-means): only the topic words change, and the
    square root of the counts lowers the words that top many topics, so the topics list more
    distinct words."""
    plain = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7)
    reduced = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7,
                           reduce_frequent_words=True)
    bm25 = fit_bertopic(small_data, cache, clustering="kmeans", num_topics=7, bm25_weighting=True)
    assert np.array_equal(plain.assignments, reduced.assignments)
    assert reduced.topic_words != plain.topic_words and bm25.topic_words != plain.topic_words
    assert distinct_words(reduced) > distinct_words(plain)


def test_reduce_frequent_words_holds_after_outlier_reduction(small_data, cache, monkeypatch):
    """update_topics recomputes c-TF-IDF once outliers are reassigned: with the same options."""
    from bertopic import BERTopic

    given = []
    update = BERTopic.update_topics

    def recording(self, *args, **kwargs):
        given.append(kwargs["ctfidf_model"])
        return update(self, *args, **kwargs)

    monkeypatch.setattr(BERTopic, "update_topics", recording)
    fit_bertopic(small_data, cache, min_cluster_size=5, cluster_selection_method="leaf",
                 reduce_outliers="c-tf-idf", reduce_frequent_words=True)
    assert [m.reduce_frequent_words for m in given] == [True]


def distinct_words(output):
    return len({w for topic in output.topic_words for w in topic})
