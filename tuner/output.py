"""TopicModelOutput: the one contract every trainer returns and every metric reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tuner.errors import TrainerError

ROW_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class TopicModelOutput:
    """What a fitted topic model says about a corpus. Documents x topics everywhere.

    Attributes:
        topic_words: K ranked lists of words, best first.
        doc_topic: n_docs x K topic proportions (rows sum to 1), or None (clustering models).
        assignments: one topic per document (argmax of doc_topic, or a cluster label); -1 = outlier.
        topic_word: K x V word distributions (rows sum to 1), or None.
        extras: model-specific numbers to log (e.g. {"num_topics_found": 17}).
    """

    topic_words: list[list[str]]
    doc_topic: NDArray[np.float64] | None
    assignments: NDArray[np.int64]
    topic_word: NDArray[np.float64] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        k = len(self.topic_words)
        if k == 0:
            raise TrainerError("the model found no topic")
        if any(len(words) == 0 for words in self.topic_words):
            raise TrainerError("every topic needs at least one word")
        assignments = np.asarray(self.assignments)
        if assignments.ndim != 1 or (assignments.size and (assignments.min() < -1
                                                            or assignments.max() >= k)):
            raise TrainerError(f"assignments must be one int in -1..{k - 1} per document")
        if self.doc_topic is not None:
            _check_rows(self.doc_topic, (len(assignments), k), "doc_topic")
        if self.topic_word is not None:
            _check_rows(self.topic_word, (k, self.topic_word.shape[1]), "topic_word")

    @property
    def num_topics(self) -> int:
        return len(self.topic_words)

    @property
    def n_docs(self) -> int:
        return len(self.assignments)


def _check_rows(matrix: NDArray[np.float64], shape: tuple[int, int], name: str) -> None:
    if matrix.shape != shape:
        raise TrainerError(f"{name} must have shape {shape}; got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise TrainerError(f"{name} holds NaN or infinite values")
    sums = matrix.sum(axis=1)
    if matrix.shape[0] and np.max(np.abs(sums - 1.0)) > ROW_SUM_TOLERANCE:
        raise TrainerError(f"{name} rows must sum to 1; found sums from "
                           f"{sums.min():.4f} to {sums.max():.4f}")
