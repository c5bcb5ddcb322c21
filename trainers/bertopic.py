"""BERTopic (Grootendorst 2022): UMAP + HDBSCAN on cached document embeddings, c-TF-IDF words."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trainers.base import Requirement, Trainer, require
from tuner.data.inputs import FitContext, SharedStep, TrialData
from tuner.data.store import ArrayCache
from tuner.errors import TrainerError
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, Param, ParamSchema, anything, between

UMAP_MIN_DIST = 0.0
# With language "english" BERTopic strips every non-ASCII character before c-TF-IDF, which would
# drop Chinese words and accents from our vocabulary; with precomputed embeddings the language
# setting has no other effect.
_NO_ASCII_FILTER = "multilingual"  # BERTopic's own default for clustering-friendly reductions


class BERTopicTrainer(Trainer):
    """BERTopic without representation models; topic words ranked by c-TF-IDF on our vocabulary."""

    name: ClassVar[str] = "BERTopic"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow", "embeddings"})
    warm_imports: ClassVar[tuple[str, ...]] = ("bertopic", "umap", "hdbscan")
    seed_param: ClassVar[str | None] = "random_state"
    params: ClassVar[ParamSchema] = ParamSchema("BERTopic", [
        NUM_TOPICS.replace(default=None, nullable=True, default_text="null (automatic)",
                           help="number of topics to reduce to; null keeps HDBSCAN's clusters"),
        VOCAB_SIZE,
        Param("min_cluster_size", int, 10, between(2, 100), "HDBSCAN minimum cluster size"),
        Param("min_samples", int, None, between(1, 100),
              "HDBSCAN min_samples; null means min_cluster_size", nullable=True,
              resolve=lambda p: p["min_cluster_size"]),
        Param("top_n_words", int, 10, between(1, 30), "words per topic in BERTopic's own "
              "representation"),
        Param("n_neighbors", int, 15, between(2, 100), "UMAP neighbours"),
        Param("n_components", int, 5, between(2, 50), "UMAP output dimensions"),
        Param("random_state", int, 42, anything(), "UMAP random state"),
    ])

    @staticmethod
    def shared_steps(params: Mapping[str, Any], embedding_key: str | None) -> list[SharedStep]:
        """The UMAP reduction, shared by every trial with the same embeddings, UMAP parameters
        and seed (they differ only in clustering or representation)."""
        if embedding_key is None:
            return []
        return [SharedStep("umap", _umap_key(params, embedding_key))]

    @staticmethod
    def run_shared_step(step: SharedStep, data: TrialData, params: Mapping[str, Any],
                        ctx: FitContext) -> None:
        _reduce(data, params, ctx)

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        if data.embeddings is None:
            raise TrainerError("BERTopic needs document embeddings; the grid's embedding "
                               "section must name a model")
        bertopic = require("bertopic", "bertopic", self.name)
        from bertopic.dimensionality import BaseDimensionalityReduction

        reduced, hit = _reduce(data, params, ctx)
        model = bertopic.BERTopic(
            umap_model=BaseDimensionalityReduction(), hdbscan_model=_hdbscan(params),
            vectorizer_model=_vectorizer(data.bow.vocab), nr_topics=params["num_topics"],
            top_n_words=params["top_n_words"], calculate_probabilities=False,
            language=_NO_ASCII_FILTER)
        np.random.seed(ctx.seed)
        topics, _ = model.fit_transform(data.bow.texts(), embeddings=np.asarray(reduced))
        return _output(model, np.asarray(topics, dtype=np.int64), data.bow.vocab, ctx.top_n,
                       umap_cache_hit=int(hit))


def _reduce(data: TrialData, params: Mapping[str, Any], ctx: FitContext) -> tuple[Any, bool]:
    """UMAP of the document embeddings, cached per (embeddings, UMAP parameters, seed): trials
    that differ only in HDBSCAN or representation parameters reuse it."""
    assert data.embeddings is not None
    if data.embedding_key is None:  # embeddings of unknown provenance: never cache
        return _umap(params).fit_transform(np.asarray(data.embeddings)), False
    cache = ArrayCache(Path(ctx.cache_dir) / "umap", "umap")
    return cache.get_or_compute(_umap_key(params, data.embedding_key), lambda: _umap(
        params).fit_transform(np.asarray(data.embeddings)))


def _umap_key(params: Mapping[str, Any], embedding_key: str) -> dict[str, Any]:
    return {"embeddings": embedding_key, "n_neighbors": params["n_neighbors"],
            "n_components": params["n_components"], "min_dist": UMAP_MIN_DIST,
            "metric": "cosine", "random_state": params["random_state"]}


def _umap(params: Mapping[str, Any]) -> Any:
    umap = require("umap", "umap-learn", "BERTopic")
    return umap.UMAP(n_neighbors=params["n_neighbors"], n_components=params["n_components"],
                     min_dist=UMAP_MIN_DIST, metric="cosine",
                     random_state=params["random_state"], n_jobs=1)


def _hdbscan(params: Mapping[str, Any]) -> Any:
    hdbscan = require("hdbscan", "hdbscan", "BERTopic")
    return hdbscan.HDBSCAN(min_cluster_size=params["min_cluster_size"],
                           min_samples=params["min_samples"], metric="euclidean",
                           cluster_selection_method="eom", prediction_data=False)


def _vectorizer(vocab: list[str]) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    # Documents arrive as in-vocabulary tokens joined by spaces: split on whitespace only.
    return CountVectorizer(vocabulary=vocab, tokenizer=str.split, lowercase=False,
                           token_pattern=None)


def _output(model: Any, topics: np.ndarray, vocab: list[str], top_n: int,
            **extras: Any) -> TopicModelOutput:
    found = sorted(t for t in set(topics.tolist()) if t >= 0)
    if not found:
        raise TrainerError("BERTopic put every document in the outlier topic -1; lower "
                           "min_cluster_size or min_samples")
    offset = 1 if -1 in set(topics.tolist()) else 0
    weights = model.c_tf_idf_.toarray()
    order = np.argsort(-weights[[t + offset for t in found]], axis=1, kind="stable")[:, :top_n]
    words = [[vocab[i] for i in row] for row in order]
    relabel = {t: i for i, t in enumerate(found)} | {-1: -1}
    assignments = np.array([relabel[t] for t in topics.tolist()], dtype=np.int64)
    return TopicModelOutput(words, None, assignments, None,
                            {"num_topics_found": len(found), **extras})
