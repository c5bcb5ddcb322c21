"""BERTopic (Grootendorst 2022): UMAP + HDBSCAN (or k-means) on cached document embeddings,
c-TF-IDF words.

Extensions beside parameters.md, each a BERTopic or sub-model setting users tune:
`clustering` hdbscan (default) or kmeans, where `num_topics` is k (the BERTopic docs' way to fix
the topic count); `reduce_outliers` none, c-tf-idf, embeddings or distributions (BERTopic's
`reduce_outliers` strategies, then `update_topics` so the words follow the new assignments; the
"embeddings" strategy compares the UMAP-reduced embeddings the model was fitted on); UMAP
`min_dist` and `metric`; HDBSCAN `cluster_selection_method` and `cluster_selection_epsilon`;
c-TF-IDF's `reduce_frequent_words` and `bm25_weighting` (BERTopic's `ClassTfidfTransformer`).
Widened ranges (documented extensions): `min_cluster_size` and `min_samples` up to 1,000 and
`num_topics` up to 500; on 20newsgroups (12,000 posts) the best NPMI sat at the reference's top,
min_cluster_size 100.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trainers.base import Requirement, Trainer, empty_documents, require
from tuner.data.inputs import FitContext, SharedStep, StepInputs, TrialData
from tuner.data.numerics import cpu_numerics
from tuner.data.store import ArrayCache
from tuner.data.versions import installed_versions
from tuner.errors import TrainerError
from tuner.output import TopicModelOutput
from tuner.params import (
    NUM_TOPICS,
    VOCAB_SIZE,
    CrossCheck,
    Param,
    ParamSchema,
    anything,
    between,
    one_of,
)

# With language "english" BERTopic strips every non-ASCII character before c-TF-IDF, which would
# drop Chinese words and accents from our vocabulary; with precomputed embeddings the language
# setting has no other effect.
_NO_ASCII_FILTER = "multilingual"  # BERTopic's own default for clustering-friendly reductions
KMEANS_RESTARTS = 10


def _never_read(params: Mapping[str, Any]) -> bool:
    """tuner reads a topic's words from BERTopic's c-TF-IDF weights, as many as the metrics'
    `topn`, so BERTopic's own top-word list (top_n_words) reaches no output or score: values
    that differ only there are one trial (else they run as duplicates)."""
    return True


def _kmeans(params: Mapping[str, Any]) -> bool:
    """k-means has no outliers and no HDBSCAN settings: a grid's HDBSCAN values do not apply."""
    return params.get("clustering") == "kmeans"


class BERTopicTrainer(Trainer):
    """BERTopic without representation models; topic words ranked by c-TF-IDF on our vocabulary."""

    name: ClassVar[str] = "BERTopic"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow", "embeddings"})
    # umap-learn finds neighbours with pynndescent from 4,096 documents on and starts from
    # SciPy's spectral layout
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "bertopic", "umap-learn", "hdbscan",
                                            "scikit-learn", "numba", "pynndescent", "scipy")
    # umap and bertopic (which imports umap) compile numba code. Preloading bertopic's other
    # imports (then sentence-transformers, 5 s; hdbscan) in the fork server saved CPU but no time
    # on 2 cores: the server imports them before forking any worker, while two spawned workers
    # import side by side (bench/artois.py, later sweep: 25.0 s against 23.0 and 24.5 s), so each
    # worker imports all of them itself; bertopic_lite leaves out transformers and
    # sentence-transformers, which fits never use.
    jit_imports: ClassVar[tuple[str, ...]] = ("trainers.bertopic_lite", "umap", "hdbscan")
    seed_param: ClassVar[str | None] = "random_state"
    # 1 and 2 (2026-12-02): documents with no word in the vocabulary are outliers (-1), as for
    # every other model, and only the others are clustered (clustered by their embeddings,
    # empty texts made topics of their own, with no word to rank); num_topics counts topics,
    # not BERTopic's outlier topic (N gave N-1)
    revision: ClassVar[int | None] = 2
    # `tuner run` of BERTopic at K = the labels' number, reduce_outliers none / c-tf-idf /
    # embeddings, seeds 42 and 43 (2026-12-04): ARI 0.684 / 0.888 / 0.877 and NPMI 0.096 / 0.085
    # / 0.087 on BBC News (2,225); ARI 0.272 / 0.350 / 0.356 and NPMI 0.044 / 0.048 / 0.024 on
    # 20ng-mini; a HuffPost CSV: ARI 0.059 / 0.099 / 0.104.
    # The defaults audit of 2026-12-05 (seed 42 to 45, `tuner run`): on 1,000 random BBC articles
    # at K=5, HDBSCAN (then merged down to K) ARI 0.512 to 0.640, k-means 0.886 and 0.888; on
    # 150 UN speeches HDBSCAN found 3 topics at K 6 and 12 alike, k-means 6 and 12.
    starter_settings: ClassVar[Mapping[str, Any]] = {"reduce_outliers": "c-tf-idf",
                                                     "clustering": ["hdbscan", "kmeans"]}
    starter_why: ClassVar[str] = (
        "HDBSCAN leaves many documents in no topic (31% of 20 Newsgroups' posts at its default "
        "min_cluster_size), and ARI counts them as one cluster: c-tf-idf gives each to the "
        "topic whose words it shares most (ARI 0.684 -> "
        "0.888 on BBC News, 0.272 -> 0.350 on 20ng-mini; NPMI 0.096 -> 0.085 and 0.044 -> "
        "0.048). HDBSCAN finds its own clusters and merges them down to num_topics, which can "
        "join two classes (1,000 BBC articles, K=5: ARI 0.64 against k-means' 0.89) or leave "
        "fewer topics than asked (150 UN speeches: 3 at K=6 and 12), while k-means takes "
        "num_topics as its k; on 20 Newsgroups HDBSCAN led (NPMI 0.227 with "
        "reduce_frequent_words, k-means 0.172), so the grid sweeps both")
    params: ClassVar[ParamSchema] = ParamSchema("BERTopic", [
        NUM_TOPICS.replace(default=None, nullable=True, default_text="null (automatic)",
                           constraint=between(5, 500),
                           help="number of topics to reduce to (k for kmeans); null keeps "
                           "HDBSCAN's clusters"),
        VOCAB_SIZE,
        Param("min_cluster_size", int, 10, between(2, 1000), "HDBSCAN minimum cluster size",
              unused_when=_kmeans),
        Param("min_samples", int, None, between(1, 1000),
              "HDBSCAN min_samples; null means min_cluster_size", nullable=True,
              resolve=lambda p: p["min_cluster_size"], unused_when=_kmeans),
        Param("top_n_words", int, 10, between(1, 30), "words per topic in BERTopic's own "
              "representation (tuner's topics take metrics.topn words from the c-TF-IDF "
              "weights, so it changes no score)", unused_when=_never_read),
        Param("n_neighbors", int, 15, between(2, 100), "UMAP neighbours"),
        Param("n_components", int, 5, between(2, 50), "UMAP output dimensions"),
        Param("random_state", int, 42, anything(), "UMAP random state"),
        Param("clustering", str, "hdbscan", one_of("hdbscan", "kmeans"),
              "clustering model; kmeans takes num_topics as k (extension)"),
        Param("reduce_outliers", str, "none",
              one_of("none", "c-tf-idf", "embeddings", "distributions"),
              "assign HDBSCAN's outliers to topics by this strategy (extension)",
              unused_when=_kmeans),
        Param("min_dist", float, 0.0, between(0.0, 1.0), "UMAP min_dist (extension)"),
        Param("metric", str, "cosine", one_of("cosine", "euclidean", "correlation"),
              "UMAP distance between embeddings (extension)"),
        Param("cluster_selection_method", str, "eom", one_of("eom", "leaf"),
              "HDBSCAN cluster selection (extension)", unused_when=_kmeans),
        Param("cluster_selection_epsilon", float, 0.0, between(0.0, 10.0),
              "HDBSCAN merges clusters closer than this (extension)", unused_when=_kmeans),
        Param("reduce_frequent_words", bool, False, anything(),
              "c-TF-IDF takes the square root of each topic's normalised word counts, so "
              "words frequent everywhere rank lower (extension)"),
        Param("bm25_weighting", bool, False, anything(),
              "c-TF-IDF's inverse frequency as BM25's rather than log(1 + A/f) (extension)"),
    ], [CrossCheck("num_topics when clustering is kmeans", ("clustering", "num_topics"),
                   lambda p: p["clustering"] != "kmeans" or p["num_topics"] is not None)])

    @staticmethod
    def remedy(concern: str, params: Mapping[str, Any]) -> str:
        """HDBSCAN has no epochs or iterations to raise; k-means leaves no document out and
        takes num_topics as its k."""
        if _kmeans(params):
            return ""
        return {"collapsed": "For BERTopic's HDBSCAN, lower min_cluster_size or min_samples, or "
                             "cluster with kmeans and a num_topics",
                "outliers": "For BERTopic, set reduce_outliers (c-tf-idf, embeddings or "
                            "distributions) or lower min_cluster_size or min_samples",
                }.get(concern, "")

    @staticmethod
    def shared_steps(params: Mapping[str, Any], inputs: StepInputs) -> list[SharedStep]:
        """The UMAP reduction, shared by every trial with the same embeddings, UMAP parameters
        and seed (they differ only in clustering or representation)."""
        if inputs.embedding_key is None:
            return []
        label = " ".join(f"{name}={params[name]}" for name in UMAP_SHOWN)
        return [SharedStep("umap", _umap_key(params, inputs.embedding_key), label)]

    @staticmethod
    def run_shared_step(step: SharedStep, data: TrialData, params: Mapping[str, Any],
                        ctx: FitContext) -> bool:
        return _reduce(data, params, ctx)[1]

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        if data.embeddings is None:
            raise TrainerError("BERTopic needs document embeddings; the grid's embedding "
                               "section must name a model")
        from trainers.bertopic_lite import BaseDimensionalityReduction, bertopic

        reduced, hit = _reduce(data, params, ctx)
        kmeans = params["clustering"] == "kmeans"
        model = bertopic.BERTopic(
            umap_model=BaseDimensionalityReduction(),
            hdbscan_model=_clusterer(params, ctx.seed),
            vectorizer_model=_vectorizer(data.bow.vocab), ctfidf_model=_ctfidf(params),
            nr_topics=None,  # merged after the fit, outliers aside (_merge_to_num_topics)
            top_n_words=params["top_n_words"], calculate_probabilities=False,
            language=_NO_ASCII_FILTER)
        np.random.seed(ctx.seed)
        worded = ~empty_documents(data)  # the others are outliers: no word to rank a topic by
        if not worded.any():
            raise TrainerError(WORDLESS)
        docs = [doc for doc, kept in zip(data.bow.texts(), worded, strict=True) if kept]
        embeddings = np.asarray(reduced)[worded]
        topics, _ = model.fit_transform(docs, embeddings=embeddings)
        if not kmeans:
            topics = _merge_to_num_topics(model, docs, list(topics), params["num_topics"])
        outliers = int(sum(t < 0 for t in topics))
        if outliers == len(topics):  # nothing to reassign them to
            raise TrainerError(ALL_OUTLIERS)
        if params["reduce_outliers"] != "none" and outliers:
            topics = _reassign_outliers(model, docs, topics, embeddings, params, data.bow.vocab)
        assignments = np.full(len(worded), -1, dtype=np.int64)
        assignments[worded] = np.asarray(topics, dtype=np.int64)
        return _output(model, assignments, data.bow.vocab, ctx.top_n,
                       umap_cache_hit=int(hit), outliers_before_reduction=outliers,
                       wordless_outliers=int((~worded).sum()))


WORDLESS = ("BERTopic: no document keeps a word after preprocessing (empty, stop words or "
            "numbers only); keep more words (preprocessing.min_df, stopwords)")


def _reduce(data: TrialData, params: Mapping[str, Any], ctx: FitContext) -> tuple[Any, bool]:
    """UMAP of the document embeddings, cached per (embeddings, UMAP parameters, seed): trials
    that differ only in clustering or representation parameters reuse it."""
    assert data.embeddings is not None
    _check_enough_documents(len(data.embeddings), params)
    if data.embedding_key is None:  # embeddings of unknown provenance: never cache
        return _umap(params).fit_transform(np.asarray(data.embeddings)), False
    cache = ArrayCache(Path(ctx.cache_dir) / "umap", "umap")
    return cache.get_or_compute(_umap_key(params, data.embedding_key), lambda: _umap(
        params).fit_transform(np.asarray(data.embeddings)))


def _check_enough_documents(documents: int, params: Mapping[str, Any]) -> None:
    """UMAP's spectral start needs more documents than n_components + 1, and its neighbour graph
    more than n_neighbors: fewer ended in scipy's "k >= N" TypeError."""
    needed = max(params["n_neighbors"], params["n_components"] + 1) + 1
    if documents < needed:
        raise TrainerError(f"BERTopic needs at least {needed} documents for n_neighbors "
                           f"{params['n_neighbors']} and n_components {params['n_components']}; "
                           f"the corpus has {documents}: lower them or use a bag-of-words model")


UMAP_LIBRARIES = ("umap-learn", "pynndescent", "numba", "scipy", "numpy")


UMAP_SHOWN = ("n_neighbors", "n_components", "min_dist", "metric", "random_state")


def _umap_key(params: Mapping[str, Any], embedding_key: str) -> dict[str, Any]:
    """What a reduction depends on, the versions of what computes it and the code paths they
    pick on this CPU included (as the fit key holds them; numba's generic target changes the
    reduction, which would otherwise keep one key)."""
    return {"embeddings": embedding_key, "n_neighbors": params["n_neighbors"],
            "n_components": params["n_components"], "min_dist": params["min_dist"],
            "metric": params["metric"], "random_state": params["random_state"],
            **installed_versions(UMAP_LIBRARIES), **cpu_numerics(("numpy", "numba"))}


def _umap(params: Mapping[str, Any]) -> Any:
    umap = require("umap", "umap-learn", "BERTopic")
    return umap.UMAP(n_neighbors=params["n_neighbors"], n_components=params["n_components"],
                     min_dist=params["min_dist"], metric=params["metric"],
                     random_state=params["random_state"], n_jobs=1)


def _clusterer(params: Mapping[str, Any], seed: int) -> Any:
    if params["clustering"] == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=params["num_topics"], n_init=KMEANS_RESTARTS, random_state=seed)
    hdbscan = require("hdbscan", "hdbscan", "BERTopic")
    return hdbscan.HDBSCAN(min_cluster_size=params["min_cluster_size"],
                           min_samples=params["min_samples"], metric="euclidean",
                           cluster_selection_method=params["cluster_selection_method"],
                           cluster_selection_epsilon=params["cluster_selection_epsilon"],
                           prediction_data=False)


def _reassign_outliers(model: Any, docs: list[str], topics: list[int], reduced: np.ndarray,
                       params: Mapping[str, Any], vocab: list[str]) -> list[int]:
    """BERTopic's reduce_outliers, then update_topics so c-TF-IDF follows the new topics."""
    strategy = params["reduce_outliers"]
    extra = {"embeddings": reduced} if strategy == "embeddings" else {}
    new_topics = list(model.reduce_outliers(docs, topics, strategy=strategy, **extra))
    with _quiet_bertopic():  # its warning is of topics reduced after custom ones: never here
        model.update_topics(docs, topics=new_topics, top_n_words=params["top_n_words"],
                            vectorizer_model=_vectorizer(vocab), ctfidf_model=_ctfidf(params))
    return new_topics


def _merge_to_num_topics(model: Any, docs: list[str], topics: list[int], wanted: int | None
                         ) -> list[int]:
    """HDBSCAN's clusters merged down to `wanted` topics (None: as found) by BERTopic's own
    reduction, its outlier topic not counted: BERTopic's nr_topics counts it, so num_topics N
    would otherwise give N-1 topics whenever HDBSCAN leaves outliers."""
    found = len({t for t in topics if t >= 0})
    if wanted is None or found <= wanted:
        return topics
    with _quiet_bertopic():
        model.reduce_topics(docs, nr_topics=wanted + (1 if -1 in topics else 0))
    return list(model.topics_)


@contextmanager
def _quiet_bertopic() -> Iterator[None]:
    """BERTopic's logger at ERROR: update_topics warns that topics reduced after a custom list
    may fail, on every trial that reassigns outliers (tuner reduces none after it), and library
    output shows only with -v."""
    logger = logging.getLogger("BERTopic")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _vectorizer(vocab: list[str]) -> Any:
    from sklearn.feature_extraction.text import CountVectorizer

    # Documents arrive as in-vocabulary tokens joined by spaces: split on whitespace only.
    return CountVectorizer(vocabulary=vocab, tokenizer=str.split, lowercase=False,
                           token_pattern=None)


def _ctfidf(params: Mapping[str, Any]) -> Any:
    from trainers.bertopic_lite import ClassTfidfTransformer

    return ClassTfidfTransformer(
        reduce_frequent_words=params["reduce_frequent_words"],
        bm25_weighting=params["bm25_weighting"])


ALL_OUTLIERS = ("BERTopic put every document in the outlier topic -1; lower min_cluster_size "
                "or min_samples")


def _output(model: Any, topics: np.ndarray, vocab: list[str], top_n: int,
            **extras: Any) -> TopicModelOutput:
    found = sorted(t for t in set(topics.tolist()) if t >= 0)
    if not found:
        raise TrainerError(ALL_OUTLIERS)
    # c-TF-IDF's rows: the topics of the documents the model saw, in order (-1 first); the
    # wordless documents' -1 in `topics` is none of them
    row = {t: i for i, t in enumerate(sorted(set(model.topics_)))}
    weights = model.c_tf_idf_.toarray()
    order = np.argsort(-weights[[row[t] for t in found]], axis=1, kind="stable")[:, :top_n]
    words = [[vocab[i] for i in row] for row in order]
    relabel = {t: i for i, t in enumerate(found)} | {-1: -1}
    assignments = np.array([relabel[t] for t in topics.tolist()], dtype=np.int64)
    return TopicModelOutput(words, None, assignments, None,
                            {"num_topics_found": len(found), **extras})
