"""NPMI coherence from cached sliding-window counts, equal to gensim's c_npmi."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tuner.errors import MetricError
from tuner.metrics.reference import MetricReference
from tuner.output import TopicModelOutput

EPSILON = 1e-12  # gensim.topic_coherence.direct_confirmation_measure.EPSILON


def npmi_per_topic(output: TopicModelOutput, reference: MetricReference) -> NDArray[np.float64]:
    """Mean NPMI over the pairs of each topic's top `topn` words (one value per topic)."""
    topn = reference.settings.topn
    topics = [_word_ids(words[:topn], reference) for words in output.topic_words]
    if any(len(ids) < 2 for ids in topics):
        raise MetricError(f"npmi: every topic needs at least 2 words in the vocabulary; "
                          f"got topic sizes {[len(t) for t in topics]}")
    relevant = np.unique(np.concatenate(topics))
    local = {int(w): i for i, w in enumerate(relevant)}
    counts = reference.cooccurrence.pairs[relevant][:, relevant].toarray().astype(np.float64)
    n_windows = float(reference.cooccurrence.n_windows)
    probability = np.diag(counts) / n_windows
    return np.array([_topic_npmi([local[int(w)] for w in ids], counts, probability, n_windows)
                     for ids in topics])


def npmi_coherence(output: TopicModelOutput, reference: MetricReference) -> float:
    """c_npmi: mean over topics of the mean pairwise NPMI of their top words."""
    return float(np.mean(npmi_per_topic(output, reference)))


def _word_ids(words: list[str], reference: MetricReference) -> NDArray[np.int64]:
    return np.array([reference.vocab_index[w] for w in words if w in reference.vocab_index],
                    dtype=np.int64)


def _topic_npmi(ids: list[int], counts: NDArray[np.float64], probability: NDArray[np.float64],
                n_windows: float) -> float:
    index = np.asarray(ids)
    i, j = np.triu_indices(len(index), k=1)
    a, b = index[i], index[j]
    joint = counts[a, b] / n_windows + EPSILON
    with np.errstate(divide="ignore"):
        pmi = np.log(joint / (probability[a] * probability[b]))
    values = pmi / -np.log(joint)
    if not np.all(np.isfinite(values)):
        raise MetricError("npmi: a top word never occurs in the reference corpus")
    return float(values.mean())


def topic_quality(output: TopicModelOutput, reference: MetricReference) -> float:
    """TQ (Dieng et al. 2020): NPMI coherence x topic diversity, the two as registered."""
    from tuner.metrics.diversity import topic_diversity

    return npmi_coherence(output, reference) * topic_diversity(output, reference)
