"""LDA (Blei et al. 2003) by collapsed Gibbs sampling with tomotopy.

Extensions beside parameters.md: `eta`, the topic-word prior (tomotopy's default 0.01), and
`optim_interval`, how often tomotopy re-estimates the document-topic prior alpha from the data
(Minka's fixed-point update, one alpha per topic; 0 keeps alpha exactly as given, as before);
`term_weight`, tomotopy's term weighting (Wilson & Chew 2010): "one" counts every token once, as
LDA does; "idf" and "pmi" weigh each token by its word's inverse document frequency or by its
pointwise mutual information with the document, so that words spread over every document (in
mail: "writes", "article", "don") pull less on the topics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from trainers.base import (
    BudgetAdvice,
    Requirement,
    Trainer,
    assignments_from,
    empty_documents,
    require,
    top_words,
    train_with_checkpoints,
)
from tuner.data.inputs import FitContext, TrialData
from tuner.output import TopicModelOutput
from tuner.params import (
    NUM_TOPICS,
    VOCAB_SIZE,
    Param,
    ParamSchema,
    above,
    between,
    float32_priors,
    one_of,
)

BURN_IN = 50  # iterations before the first alpha re-estimation (tomotopy's burn_in default 0)
TERM_WEIGHTS = {"one": "ONE", "idf": "IDF", "pmi": "PMI"}  # -> tomotopy.TermWeight members


class LDATrainer(Trainer):
    """Latent Dirichlet allocation; tomotopy's sampler is fast, seeded and repeatable."""

    name: ClassVar[str] = "LDA"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "tomotopy")
    warm_imports: ClassVar[tuple[str, ...]] = ("tomotopy",)
    budget_param: ClassVar[str | None] = "max_iter"
    # bench/pruning.py on 20 Newsgroups (12,000 posts, 27 configurations of alpha x eta x
    # optim_interval, 200 iterations): the Spearman correlation of ARI at iteration i with ARI
    # at 200 is -0.18 at 20, 0.27 at 60, 0.63 at 100. Early Gibbs states rank configurations
    # badly, so a pruner judges LDA no sooner than iteration 100.
    min_budget: ClassVar[int] = 100
    # 100 iterations stop the sampler while its log-likelihood still rises (3,000 toutiao
    # headlines, K=15, seed 42, tomotopy's ll_per_word traced every 10 iterations by a /tmp
    # script, 2026-12-04: -8.49 per word at 100, -8.30 at 500, -8.27 at 1,000), and the models'
    # ranking with it (bench/sampling_budget.py: LDA level with BTM on those headlines at 100,
    # ARI 0.076 against 0.077, ahead at 500, 0.123 against 0.101).
    budget_advice: ClassVar[BudgetAdvice | None] = BudgetAdvice(
        below=200, suggested=500,
        measured="at 500 iterations rather than 100 (seeds 42 and 43, K the number of labels; "
                 "bench/sampling_budget.py), ARI rose from 0.076 to 0.123 on 3,000 toutiao "
                 "headlines, 0.020 to 0.028 on 3,000 HuffPost headlines, 0.044 to 0.060 on "
                 "their articles, 0.780 to 0.819 on BBC News and 0.667 to 0.684 on THUCNews, and "
                 "fell from 0.224 to 0.210 on 20ng-mini, where NPMI rose from 0.034 to 0.054")
    params: ClassVar[ParamSchema] = ParamSchema("LDA", [
        NUM_TOPICS,
        VOCAB_SIZE,
        # Widened from the reference's 10-500: tomotopy's and Mallet's examples run 1,000-2,000
        # sweeps on corpora of 10,000+ documents.
        Param("max_iter", int, 100, between(10, 10000), "Gibbs sampling iterations"),
        Param("alpha", float, None, above(0), "document-topic prior; null means 1/K",
              nullable=True, default_text="1/K", resolve=lambda p: 1.0 / p["num_topics"]),
        Param("eta", float, 0.01, above(0), "topic-word prior (extension)"),
        Param("optim_interval", int, 0, between(0, 100),
              "re-estimate alpha every this many iterations; 0 keeps it fixed (extension)"),
        Param("term_weight", str, "one", one_of(*TERM_WEIGHTS),
              "weigh each token by 1 (LDA), its word's IDF or its PMI with the document "
              "(tomotopy's TermWeight; extension); weighted, log_likelihood_per_word is of the "
              "weighted counts and not comparable with 'one'"),
    ], float32_priors("alpha", "eta"))

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        tp = require("tomotopy", "tomotopy", self.name)
        k = params["num_topics"]
        alpha = params["alpha"] if params["alpha"] is not None else 1.0 / k
        model = tp.LDAModel(tw=getattr(tp.TermWeight, TERM_WEIGHTS[params["term_weight"]]), k=k,
                            alpha=alpha, eta=params["eta"], seed=ctx.seed)
        model.optim_interval = params["optim_interval"]
        model.burn_in = BURN_IN
        empty = empty_documents(data)
        for d in range(data.bow.n_docs):
            if not empty[d]:
                model.add_doc(data.bow.doc_tokens(d))
        train_with_checkpoints(lambda n: model.train(n, workers=1), params["max_iter"], ctx,
                               lambda: _output(model, data, ctx.top_n))
        return _output(model, data, ctx.top_n)


def _output(model: Any, data: TrialData, top_n: int) -> TopicModelOutput:
    """The topics and document mixtures of the sampler's current state."""
    k, empty = model.k, empty_documents(data)
    topic_word = _topic_word_in_vocab_order(model, data.bow.vocab, k)
    doc_topic = np.full((data.bow.n_docs, k), 1.0 / k)
    doc_topic[~empty] = np.array([doc.get_topic_dist() for doc in model.docs])
    doc_topic /= doc_topic.sum(axis=1, keepdims=True)
    return TopicModelOutput(top_words(topic_word, data.bow.vocab, top_n), doc_topic,
                            assignments_from(doc_topic, empty), topic_word,
                            {"log_likelihood_per_word": float(model.ll_per_word),
                             "alpha_mean": float(np.mean(model.alpha))})


def _topic_word_in_vocab_order(model: Any, vocab: list[str], k: int) -> np.ndarray:
    """tomotopy numbers words by first appearance; map its columns onto our vocabulary order."""
    position = {w: i for i, w in enumerate(vocab)}
    columns = np.array([position[w] for w in model.used_vocabs])
    topic_word = np.full((k, len(vocab)), 0.0)
    topic_word[:, columns] = np.array([model.get_topic_word_dist(t) for t in range(k)])
    topic_word += 1e-12  # words absent from every document keep a tiny, not zero, weight
    return topic_word / topic_word.sum(axis=1, keepdims=True)
