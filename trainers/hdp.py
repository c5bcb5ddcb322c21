"""HDP (Teh et al. 2006): a hierarchical Dirichlet process topic model, by tomotopy's Gibbs sampler.

tomotopy samples the Chinese-restaurant-franchise posterior, creating and removing topics as it
goes; the output holds only the topics still alive at the end ("live" topics), so the metrics score
only those. tomotopy has no truncation level of its own, so `max_topics` is applied to its result:
if more than `max_topics` topics are alive, the `max_topics` topics holding the most tokens are
kept, every document's proportions are renormalised over them, and extras["topics_truncated"] says
how many were dropped (0 in the usual case, where the sampler stays below the cap).

gensim's HdpModel has a true truncation level but, on 20ng-mini, its online variational fit took
75 s for 10 passes and put 87% of the corpus weight on one topic; tomotopy took 6 s for 200
iterations and found 35-40 distinct topics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trainers.base import (
    Requirement,
    Trainer,
    assignments_from,
    empty_documents,
    require,
    top_words,
)
from tuner.data.inputs import FitContext, TrialData
from tuner.output import TopicModelOutput
from tuner.params import VOCAB_SIZE, Param, ParamSchema, above, between

GIBBS_ITERATIONS = 200  # parameters.md exposes no iteration count for HDP
TOPIC_CONCENTRATION = 1.0  # gamma, the corpus-level DP concentration (gensim's and Teh's default)
TOPIC_WORD_PRIOR = 0.01  # eta, as for LDA
INITIAL_TOPICS = 2  # tomotopy's default starting point


class HDPTrainer(Trainer):
    """Hierarchical Dirichlet process; the number of topics is inferred, up to `max_topics`."""

    name: ClassVar[str] = "HDP"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("HDP", [
        Param("max_topics", int, 150, between(50, 300),
              "upper bound on the number of topics (replaces num_topics)"),
        VOCAB_SIZE,
        Param("alpha", float, 1.0, above(0), "document-level DP concentration"),
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        tp = require("tomotopy", "tomotopy", self.name)
        model = tp.HDPModel(tw=tp.TermWeight.ONE, initial_k=INITIAL_TOPICS, alpha=params["alpha"],
                            eta=TOPIC_WORD_PRIOR, gamma=TOPIC_CONCENTRATION, seed=ctx.seed)
        model.optim_interval = 0  # keep alpha and gamma exactly as given
        empty = empty_documents(data)
        for d in range(data.bow.n_docs):
            if not empty[d]:
                model.add_doc(data.bow.doc_tokens(d))
        model.train(GIBBS_ITERATIONS, workers=1)
        kept, truncated = _kept_topics(model, params["max_topics"])
        topic_word = _topic_word(model, kept, data.bow.vocab)
        doc_topic = np.full((data.bow.n_docs, len(kept)), 1.0 / len(kept))
        if (~empty).any():
            dist = np.array([doc.get_topic_dist() for doc in model.docs])[:, kept]
            doc_topic[~empty] = dist + 1e-12  # a document may sit only in dropped topics
        doc_topic /= doc_topic.sum(axis=1, keepdims=True)
        return TopicModelOutput(
            top_words(topic_word, data.bow.vocab, ctx.top_n), doc_topic,
            assignments_from(doc_topic, empty), topic_word,
            {"num_topics_found": len(kept), "topics_alive": len(kept) + truncated,
             "topics_truncated": truncated, "log_likelihood_per_word": float(model.ll_per_word)})


def _kept_topics(model: Any, max_topics: int) -> tuple[NDArray[np.int64], int]:
    """Live topic indices, most tokens first, capped at `max_topics`; and how many were cut."""
    counts = np.asarray(model.get_count_by_topics(), dtype=np.float64)
    live = np.array([t for t in range(model.k) if model.is_live_topic(t) and counts[t] > 0],
                    dtype=np.int64)
    order = live[np.argsort(-counts[live], kind="stable")]
    return np.sort(order[:max_topics]), max(0, len(order) - max_topics)


def _topic_word(model: Any, kept: NDArray[np.int64], vocab: list[str]) -> NDArray[np.float64]:
    """Kept topics' word distributions, columns in our vocabulary order."""
    position = {w: i for i, w in enumerate(vocab)}
    columns = np.array([position[w] for w in model.used_vocabs])
    topic_word = np.zeros((len(kept), len(vocab)))
    topic_word[:, columns] = np.array([model.get_topic_word_dist(int(t)) for t in kept])
    topic_word += 1e-12  # words absent from every document keep a tiny, not zero, weight
    return topic_word / topic_word.sum(axis=1, keepdims=True)
