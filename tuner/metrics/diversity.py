"""Topic diversity (Dieng et al. 2020): the share of unique words among all topics' top words."""

from __future__ import annotations

from tuner.errors import MetricError
from tuner.metrics.reference import MetricReference
from tuner.output import TopicModelOutput


def topic_diversity(output: TopicModelOutput, reference: MetricReference) -> float:
    """Unique words / total words over every topic's top `diversity_topn` words."""
    topn = reference.settings.diversity_topn
    words = [w for topic in output.topic_words for w in topic[:topn]]
    if not words:
        raise MetricError("diversity: no topic words")
    return len(set(words)) / len(words)
