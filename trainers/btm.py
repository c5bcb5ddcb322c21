"""BTM (Yan et al. 2013): the biterm topic model for short texts, by collapsed Gibbs sampling.

A biterm is an unordered pair of in-vocabulary tokens that occur within `BITERM_WINDOW` tokens of
each other in one document, in text order (a document shorter than the window gives all of its
pairs, as in the paper). The corpus is a bag of biterms: each biterm draws one topic z from the
corpus-wide proportions θ ~ Dir(alpha), and both of its words from φ_z ~ Dir(beta). Documents get
their topics afterwards, from their biterms: p(z|d) = Σ_b p(z|b) p(b|d), with p(b|d) the share of
b among d's biterms and p(z|b) ∝ θ_z φ_z,w1 φ_z,w2. A document with a single in-vocabulary token
uses p(z|w) ∝ θ_z φ_z,w; one with none gets uniform proportions and assignment -1.

The sampler is our own, compiled with numba (the `bitermplus` package is not a dependency of
this project; bench/btm_reference.py measures the two alike within seed noise). The two loops
compile on first use and are cached on disk by numba (`__pycache__`). Seeded by numba's own
generator, so a seed repeats exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

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
from tuner.data.lengths import LONG_SHARE, LONG_TOKENS, share_in_long
from tuner.data.vocab import BagOfWords
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, Param, ParamSchema, above, between

numba = require("numba", "numba", "BTM")  # compiles the sampler; installed with umap-learn

BITERM_WINDOW = 15  # tokens; the window of the original BTM code and of bitermplus


class BTMTrainer(Trainer):
    """Biterm topic model; topics from corpus-level word co-occurrence, not per-document counts."""

    name: ClassVar[str] = "BTM"
    budget_param: ClassVar[str | None] = "n_iter"
    min_budget: ClassVar[int] = 50  # half its default budget: a Gibbs sampler, as LDA (measured)
    budget_advice: ClassVar[BudgetAdvice | None] = BudgetAdvice(
        below=200, suggested=500,
        measured="at 500 iterations rather than 100 (seeds 42 and 43, K the number of labels; "
                 "bench/sampling_budget.py), ARI rose from 0.077 to 0.101 on 3,000 toutiao "
                 "headlines and from 0.016 to 0.024 on 3,000 HuffPost headlines, and NPMI with "
                 "it")
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "numba")
    params: ClassVar[ParamSchema] = ParamSchema("BTM", [
        NUM_TOPICS,
        VOCAB_SIZE,
        Param("n_iter", int, 100, between(10, 5000), "Gibbs iterations (replaces epochs)"),
        Param("alpha", float, 1.0, above(0), "prior on the corpus-level topic proportions"),
        Param("beta", float, 0.01, above(0), "prior on each topic's word distribution"),
    ])

    @staticmethod
    def bag_advice(lengths: NDArray[np.int64]) -> list[str]:
        """BTM on long documents: it samples every pair of words within its window, about 14 of
        each word of a long document where LDA samples the word once (on 800 headlines beside 58
        UN speeches, BTM's trials run for minutes beside LDA's 30 s). Said as a cost, not as
        advice against it: on 1,000 BBC articles its 100 iterations took 5.5 to 8 s against
        LDA's 2.4 to 3.4 s at 500, and matched LDA's ARI (0.853 and 0.851, K=5); on 150 UN
        speeches its NPMI led every model's (0.092 against LDA's 0.010, K=6)."""
        words = int(lengths.sum())
        in_long = share_in_long(lengths)
        if not words or in_long < LONG_SHARE:
            return []
        pairs = sum(int(np.maximum(lengths - gap, 0).sum()) for gap in range(1, BITERM_WINDOW))
        return [f"BTM samples every pair of words within {BITERM_WINDOW} of each other: "
                f"{pairs:,} pairs here, {pairs / words:.0f} per word kept, where LDA samples "
                f"each word once, so each BTM iteration costs about that many LDA iterations "
                f"(documents of over {LONG_TOKENS} words hold {in_long:.0%} of the words); "
                "expect its trials to take several times LDA's, and more for more iterations"]

    @staticmethod
    def compile_kernels() -> None:
        """The sampler's three kernels on two biterms: a machine's first BTM fit counted their
        compilation (20ng-mini, K=20, 100 iterations, an empty numba cache: 13.7 s, against
        9.5 s after this warm-up's 4.4 s). A bag of words' tokens are memory-mapped read-only,
        which numba compiles for apart from a writable array (its offsets are writable)."""
        first, second = np.array([0, 1], dtype=np.int32), np.array([1, 2], dtype=np.int32)
        sampler = _Sampler(first, second, 3, 2, 1.0, 0.01, 0)
        sampler.sweep(1)
        word_counts, topic_counts = sampler.topics()
        topic_word = word_counts + 0.01
        topic_word /= topic_word.sum(axis=1, keepdims=True)
        flat, offsets = np.array([0, 1, 2], dtype=np.int32), np.array([0, 3], dtype=np.int64)
        flat.setflags(write=False)
        _doc_topics(first, second, np.zeros(2, dtype=np.int32), flat, offsets,
                    (topic_counts + 1.0) / (topic_counts.sum() + 2.0), topic_word)

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        first, second, doc_of = make_biterms(data.bow, BITERM_WINDOW)
        sampler = _Sampler(first, second, len(data.bow.vocab), params["num_topics"],
                           params["alpha"], params["beta"], ctx.seed)
        train_with_checkpoints(sampler.sweep, params["n_iter"], ctx,
                               lambda: _output(sampler, doc_of, data, ctx.top_n))
        return _output(sampler, doc_of, data, ctx.top_n)


def _output(sampler: _Sampler, doc_of: NDArray[np.int32], data: TrialData, top_n: int
            ) -> TopicModelOutput:
    """Topics from the sampler's current counts; each document's topics from its biterms."""
    bow, alpha, beta = data.bow, sampler.alpha, sampler.beta
    word_counts, topic_counts = sampler.topics()
    k = len(topic_counts)
    topic_share = (topic_counts + alpha) / (topic_counts.sum() + k * alpha)
    topic_word = (word_counts + beta) / (2.0 * topic_counts[:, None] + len(bow.vocab) * beta)
    topic_word /= topic_word.sum(axis=1, keepdims=True)
    doc_topic = _doc_topics(sampler.first, sampler.second, doc_of, np.asarray(bow.flat),
                            np.asarray(bow.offsets), topic_share, topic_word)
    return TopicModelOutput(top_words(topic_word, bow.vocab, top_n), doc_topic,
                            assignments_from(doc_topic, empty_documents(data)), topic_word,
                            {"n_biterms": len(sampler.first), "biterm_window": BITERM_WINDOW})


def make_biterms(bow: BagOfWords, window: int
                 ) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Every pair of tokens less than `window` positions apart, per document, in text order.

    Returns the first word, the second word and the document of each biterm.
    """
    lengths = np.diff(bow.offsets)
    flat = np.asarray(bow.flat, dtype=np.int32)
    doc_of_token = np.repeat(np.arange(bow.n_docs, dtype=np.int32), lengths)
    end_of_token = np.repeat(np.asarray(bow.offsets[1:]), lengths)
    position = np.arange(len(flat))
    firsts, seconds, docs = [], [], []
    for gap in range(1, window):
        partner = position + gap
        valid = partner < end_of_token
        firsts.append(flat[position[valid]])
        seconds.append(flat[partner[valid]])
        docs.append(doc_of_token[valid])
    order = np.argsort(np.concatenate(docs), kind="stable")  # group biterms by document
    return (np.concatenate(firsts)[order], np.concatenate(seconds)[order],
            np.concatenate(docs)[order])


class _Sampler:
    """The sampler's state between sweeps: a topic per biterm and the counts it implies."""

    def __init__(self, first: NDArray[np.int32], second: NDArray[np.int32], vocab_size: int,
                 k: int, alpha: float, beta: float, seed: int) -> None:
        self.first, self.second, self.alpha, self.beta = first, second, alpha, beta
        self.z, self.counts, self.topic_counts = _start(first, second, vocab_size, k, seed)

    def sweep(self, n_iter: int) -> None:
        """`n_iter` Gibbs sweeps over every biterm (numba's generator goes on where the last
        call left it, so sweeps in parts equal sweeps in one call)."""
        _sweeps(self.first, self.second, self.z, self.counts, self.topic_counts, self.alpha,
                self.beta, n_iter)

    def topics(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Word counts (k x V) and biterm counts per topic."""
        return self.counts.T.copy(), self.topic_counts.copy()


@numba.njit(cache=True)
def _start(first: NDArray[np.int32], second: NDArray[np.int32], vocab_size: int, k: int,
           seed: int) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Seed numba's generator and give each biterm a random topic; counts kept word-major
    (V x k) so a biterm reads two contiguous rows."""
    np.random.seed(seed)
    n = len(first)
    z = np.empty(n, dtype=np.int64)
    counts = np.zeros((vocab_size, k))
    topic_counts = np.zeros(k)
    for b in range(n):
        t = np.random.randint(k)
        z[b] = t
        counts[first[b], t] += 1.0
        counts[second[b], t] += 1.0
        topic_counts[t] += 1.0
    return z, counts, topic_counts


@numba.njit(cache=True)
def _sweeps(first: NDArray[np.int32], second: NDArray[np.int32], z: NDArray[np.int64],
            counts: NDArray[np.float64], topic_counts: NDArray[np.float64], alpha: float,
            beta: float, n_iter: int) -> None:
    """Collapsed Gibbs sampling of one topic per biterm, in place. Each topic's normaliser
    1/((2n+Vβ)(2n+1+Vβ)) is updated only when its count changes."""
    n = len(first)
    vocab_size, k = counts.shape
    vbeta = vocab_size * beta
    scale = np.empty(k)
    for j in range(k):
        scale[j] = (topic_counts[j] + alpha) / ((2.0 * topic_counts[j] + vbeta)
                                                * (2.0 * topic_counts[j] + 1.0 + vbeta))
    weights = np.empty(k)
    for _ in range(n_iter):
        for b in range(n):
            w1, w2, t = first[b], second[b], z[b]
            counts[w1, t] -= 1.0
            counts[w2, t] -= 1.0
            topic_counts[t] -= 1.0
            scale[t] = (topic_counts[t] + alpha) / ((2.0 * topic_counts[t] + vbeta)
                                                    * (2.0 * topic_counts[t] + 1.0 + vbeta))
            total = 0.0
            for j in range(k):
                total += scale[j] * (counts[w1, j] + beta) * (counts[w2, j] + beta)
                weights[j] = total
            u = np.random.random() * total
            t = 0
            while t < k - 1 and weights[t] < u:
                t += 1
            z[b] = t
            counts[w1, t] += 1.0
            counts[w2, t] += 1.0
            topic_counts[t] += 1.0
            scale[t] = (topic_counts[t] + alpha) / ((2.0 * topic_counts[t] + vbeta)
                                                    * (2.0 * topic_counts[t] + 1.0 + vbeta))


@numba.njit(cache=True)
def _doc_topics(first: NDArray[np.int32], second: NDArray[np.int32], doc_of: NDArray[np.int32],
                flat: NDArray[np.int32], offsets: NDArray[np.int64],
                topic_share: NDArray[np.float64], topic_word: NDArray[np.float64]
                ) -> NDArray[np.float64]:
    """p(z|d) = Σ_b p(z|b) p(b|d); single-token documents use p(z|w); empty ones are uniform."""
    n_docs = len(offsets) - 1
    k = len(topic_share)
    out = np.zeros((n_docs, k))
    posterior = np.empty(k)
    for b in range(len(first)):
        total = 0.0
        for j in range(k):
            posterior[j] = topic_share[j] * topic_word[j, first[b]] * topic_word[j, second[b]]
            total += posterior[j]
        for j in range(k):
            out[doc_of[b], j] += posterior[j] / total
    for d in range(n_docs):
        row_sum = out[d].sum()
        if row_sum == 0.0 and offsets[d + 1] > offsets[d]:
            for j in range(k):
                out[d, j] = topic_share[j] * topic_word[j, flat[offsets[d]]]
            row_sum = out[d].sum()
        if row_sum == 0.0:
            out[d, :] = 1.0 / k
        else:
            out[d] /= row_sum
    return out
