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
    """Extrapolated RBO (Webber et al. 2010, eq. 32) of two rankings, of equal length or not (a
    topic `tuner score` takes as given may be shorter than `topn`), as OCTIS's InvertedRBO
    computes it (the `rbo` module it ships). With s and n the shorter and longer lengths, A_d the
    agreement of the two top-d word sets, 2 |S_d & L_d| / (|S_d| + |L_d|) (past s, all of the
    shorter list), and X_d = s A_d:
    (1 - p) / p * [sum_{d<=n} p^d A_d + sum_{s<d<=n} p^d X_s (d - s) / (s d)]
    + p^n [(X_n - X_s) / n + X_s / s].
    For two lists of k distinct words this is (1 - p) / p * sum p^d A_d + p^k A_k. Cut to the
    shorter length, ten words against their own first four would score 1.0 (OCTIS 0.984), and
    a word repeated in a topic would count twice."""
    short, long = sorted((first, second), key=len)
    s, n = len(short), len(long)
    if s == 0:
        raise MetricError("inverted_rbo: a topic has no words")
    agreements = _agreements(short, long)
    weighted = 0.0  # added in order, as before: sum() compensates on Python 3.12+
    for d, agreement in enumerate(agreements, start=1):
        weighted += p ** d * agreement
    if s == n:  # every trainer's topics: the value stored trials were scored with
        return (1 - p) / p * weighted + p ** n * agreements[-1]
    x_s, x_n = s * agreements[s - 1], s * agreements[-1]
    for d in range(s + 1, n + 1):
        weighted += p ** d * x_s * (d - s) / (s * d)
    return (1 - p) / p * weighted + p ** n * ((x_n - x_s) / n + x_s / s)


def _agreements(short: list[str], long: list[str]) -> list[float]:
    """A_d for d = 1..len(long): the agreement of the word sets of the top d of each list."""
    seen_short: set[str] = set()
    seen_long: set[str] = set()
    shared, found = 0, []
    for d, word in enumerate(long):
        if d < len(short) and short[d] not in seen_short:
            seen_short.add(short[d])
            shared += short[d] in seen_long
        if word not in seen_long:
            seen_long.add(word)
            shared += word in seen_short
        found.append(2 * shared / (len(seen_short) + len(seen_long)))
    return found


def _top_words(output: TopicModelOutput, topn: int, metric: str) -> list[str]:
    words = [w for topic in output.topic_words for w in topic[:topn]]
    if not words:
        raise MetricError(f"{metric}: no topic words")
    return words
