"""Agreement of document assignments with a ground-truth clustering."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tuner.errors import MetricError
from tuner.metrics.reference import MetricReference
from tuner.output import TopicModelOutput


def _scored(output: TopicModelOutput,
            reference: MetricReference) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Predicted and true labels of the documents the truth covers (outliers stay -1)."""
    if reference.truth is None:
        raise MetricError("no ground truth: pass a label field or a ground_truth file")
    truth = reference.truth
    if len(truth) != output.n_docs:
        raise MetricError(f"ground truth has {len(truth)} documents, output {output.n_docs}")
    covered = truth >= 0
    if not covered.any():
        raise MetricError("the ground truth covers no document")
    return np.asarray(output.assignments)[covered], truth[covered]


def adjusted_rand(output: TopicModelOutput, reference: MetricReference) -> float:
    """ARI; outliers (-1) count as one more cluster, as BERTopic reports them."""
    predicted, truth = _scored(output, reference)
    from sklearn.metrics import adjusted_rand_score  # 0.7 s to import: not in the parent

    return float(adjusted_rand_score(truth, predicted))


def normalized_mutual_info(output: TopicModelOutput, reference: MetricReference) -> float:
    predicted, truth = _scored(output, reference)
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(truth, predicted))


def _matched_overlaps(predicted: NDArray[np.int64], truth: NDArray[np.int64]
                      ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Hungarian one-to-one matching of topics to true clusters by overlap.

    Returns per true cluster: matched overlap, size of the matched topic (0 if unmatched), size.
    Outliers (-1) are never matched, so they lower recall.
    """
    true_ids, true_index = np.unique(truth, return_inverse=True)
    topics = np.unique(predicted[predicted >= 0])
    topic_index = np.searchsorted(topics, predicted)
    contingency = np.zeros((len(true_ids), max(len(topics), 1)))
    keep = predicted >= 0
    np.add.at(contingency, (true_index[keep], topic_index[keep]), 1)
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(contingency, maximize=True)
    overlap = np.zeros(len(true_ids))
    topic_size = np.zeros(len(true_ids))
    overlap[rows] = contingency[rows, cols]
    topic_size[rows] = contingency.sum(axis=0)[cols]
    return overlap, topic_size, np.bincount(true_index).astype(np.float64)


def assignment_f1(output: TopicModelOutput, reference: MetricReference) -> float:
    """Macro F1 over true clusters after one-to-one Hungarian matching (unmatched cluster: 0)."""
    overlap, topic_size, cluster_size = _matched_overlaps(*_scored(output, reference))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(topic_size > 0, overlap / topic_size, 0.0)
        recall = overlap / cluster_size
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(f1.mean())


def assignment_f1_micro(output: TopicModelOutput, reference: MetricReference) -> float:
    """Micro F1 after the same matching: matched documents / scored documents."""
    overlap, _, cluster_size = _matched_overlaps(*_scored(output, reference))
    return float(overlap.sum() / cluster_size.sum())


def gt_coverage(output: TopicModelOutput, reference: MetricReference) -> float:
    """Share of the corpus that the ground truth covers, i.e. that the clustering metrics score."""
    _scored(output, reference)
    assert reference.truth is not None
    return float((reference.truth >= 0).mean())


def outlier_share(output: TopicModelOutput, reference: MetricReference) -> float:
    """Share of documents the model left unassigned (-1)."""
    if output.n_docs == 0:
        raise MetricError("outlier_share: no documents")
    return float((np.asarray(output.assignments) < 0).mean())
