"""Topic diversity: how little the topics' top words repeat across topics.

Three definitions, each one function:
- `topic_diversity` (Dieng et al. 2020): unique words / all words in the top `diversity_topn`.
- `strict_diversity`: the share of those words that occur in exactly one topic's top words, so a
  word shared by two topics counts against both (TD counts it once as unique).
- `inverted_rbo` (Bianchi et al. 2021, as OCTIS's InvertedRBO computes it): 1 - the mean over
  pairs of topics of the extrapolated rank-biased overlap of their top `topn` words, p = 0.9.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from tuner.errors import MetricError
from tuner.metrics.reference import MetricReference
from tuner.output import TopicModelOutput

RBO_WEIGHT = 0.9  # OCTIS InvertedRBO's default `weight` (the persistence p)


def topic_diversity(output: TopicModelOutput, reference: MetricReference) -> float:
    """Unique words / total words over every topic's top `diversity_topn` words."""
    words = _top_words(output, reference.settings.diversity_topn, "diversity")
    return len(set(words)) / len(words)


def strict_diversity(output: TopicModelOutput, reference: MetricReference) -> float:
    """Words that appear in exactly one topic's top `diversity_topn` / total words."""
    topn = reference.settings.diversity_topn
    words = _top_words(output, topn, "strict_diversity")
    topics_holding = Counter(w for topic in output.topic_words for w in set(topic[:topn]))
    return sum(topics_holding[w] == 1 for w in words) / len(words)


def inverted_rbo(output: TopicModelOutput, reference: MetricReference) -> float:
    """1 - mean pairwise extrapolated RBO of the topics' top `topn` words (OCTIS InvertedRBO)."""
    topn = reference.settings.topn
    if output.num_topics < 2:
        raise MetricError(f"inverted_rbo: needs at least 2 topics; got {output.num_topics}")
    pairs = itertools.combinations([topic[:topn] for topic in output.topic_words], 2)
    return 1.0 - float(np.mean([rank_biased_overlap(a, b, RBO_WEIGHT) for a, b in pairs]))


def rank_biased_overlap(first: list[str], second: list[str], p: float) -> float:
    """Extrapolated RBO (Webber et al. 2010, eq. 32) of two rankings of equal length k:
    (1 - p) / p * sum_d p^d A_d + p^k A_k, with A_d the overlap of the top d divided by d."""
    depth = min(len(first), len(second))
    if depth == 0:
        raise MetricError("inverted_rbo: a topic has no words")
    seen_first: set[str] = set()
    seen_second: set[str] = set()
    overlap, weighted, agreement = 0, 0.0, 0.0
    for d in range(1, depth + 1):
        a, b = first[d - 1], second[d - 1]
        overlap += (a in seen_second) + (b in seen_first) + (a == b)
        seen_first.add(a)
        seen_second.add(b)
        agreement = overlap / d
        weighted += p ** d * agreement
    return (1 - p) / p * weighted + p ** depth * agreement


def _top_words(output: TopicModelOutput, topn: int, metric: str) -> list[str]:
    words = [w for topic in output.topic_words for w in topic[:topn]]
    if not words:
        raise MetricError(f"{metric}: no topic words")
    return words
