"""Metric registry: name -> pure function `(output, reference) -> float`, with its needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tuner.errors import MetricError
from tuner.metrics.clustering import (
    adjusted_rand,
    assignment_f1,
    assignment_f1_micro,
    effective_topics,
    gt_coverage,
    normalized_mutual_info,
    outlier_share,
    topics_used,
)
from tuner.metrics.coherence import npmi_coherence, topic_quality
from tuner.metrics.diversity import inverted_rbo, strict_diversity, topic_diversity
from tuner.metrics.reference import MetricReference
from tuner.output import TopicModelOutput
from tuner.params import closest

Need = Literal["cooccurrence", "ground_truth", "nothing"]
MetricFn = Callable[[TopicModelOutput, MetricReference], float]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    fn: MetricFn
    needs: Need
    higher_is_better: bool = True


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        MetricInfo("npmi", npmi_coherence, "cooccurrence"),
        MetricInfo("diversity", topic_diversity, "nothing"),
        MetricInfo("tq", topic_quality, "cooccurrence"),
        MetricInfo("inverted_rbo", inverted_rbo, "nothing"),
        MetricInfo("strict_diversity", strict_diversity, "nothing"),
        MetricInfo("ari", adjusted_rand, "ground_truth"),
        MetricInfo("f1", assignment_f1, "ground_truth"),
        MetricInfo("f1_micro", assignment_f1_micro, "ground_truth"),
        MetricInfo("nmi", normalized_mutual_info, "ground_truth"),
        MetricInfo("gt_coverage", gt_coverage, "ground_truth"),
        MetricInfo("outlier_share", outlier_share, "nothing", higher_is_better=False),
        MetricInfo("topics_used", topics_used, "nothing"),
        MetricInfo("effective_topics", effective_topics, "nothing"),
    ]
}

# Figures every trial logs beside its scores (timings, counts): rankable, never computed from the
# output. The one place, with METRICS, that says which way each figure is better.
RECORDED: dict[str, bool] = {  # name -> higher is better
    "fit_seconds": False,
    # what the cached work a fit read (a UMAP reduction, Word2Vec vectors) took to compute,
    # once, in a shared step or an earlier trial; fit_seconds leaves it out
    "shared_seconds": False,
    # fit_seconds + shared_seconds: what a configuration costs alone (BERTopic's fit_seconds of
    # 0.4 s, its UMAP step of 17 s left out, would rank it the cheapest)
    "total_seconds": False,
    "eval_seconds": False,
    "num_topics_found": True,
    "budget_used": False,  # epochs or iterations a trial trained (a sweep with a pruner)
    # what a pruned sweep's checkpoints took (scoring, waiting for the verdict); fit_seconds
    # leaves it out, so fits compare across sweeps with and without a pruner
    "checkpoint_seconds": False,
    # the worker's peak resident memory during the trial (its libraries and loaded data
    # included; Linux); --max-memory fails a trial whose peak passed it
    "peak_memory_mb": False,
    # topics spread over far more documents than the fit's others (tuner.metrics.spread): of a
    # fit's θ, carried when its fit is re-scored; none for a model without θ (clustering)
    "background_topics": False,
}

__all__ = ["METRICS", "RECORDED", "Evaluation", "MetricInfo", "MetricReference", "default_metric",
           "evaluate", "higher_is_better", "rankable_metrics"]


def rankable_metrics() -> list[str]:
    """Every name a leaderboard or a search may rank by."""
    return [*METRICS, *RECORDED]


def higher_is_better(metric: str) -> bool:
    """Which way `metric` is better. Raises MetricError for a name no registry knows."""
    if metric in METRICS:
        return METRICS[metric].higher_is_better
    if metric in RECORDED:
        return RECORDED[metric]
    raise MetricError(f"unknown metric '{metric}'; known: {', '.join(rankable_metrics())}"
                      f"{closest(metric, rankable_metrics())}")


def default_metric(has_truth: bool) -> str:
    """The metric a sweep ranks by when the grid names none: agreement with the truth if there
    is one, else coherence."""
    return "ari" if has_truth else "npmi"


@dataclass(frozen=True)
class Evaluation:
    """The scores of one output, and the metrics it has no value for, with why."""

    metrics: dict[str, float]
    not_computed: dict[str, str]  # metric -> the MetricError's words


def evaluate(output: TopicModelOutput, reference: MetricReference) -> Evaluation:
    """Every registered metric whose inputs the reference has. A metric undefined for this
    output (inverted_rbo of a single topic) is left out with its reason, never reported as 0:
    the trial keeps its other scores and is ranked on them, not dropped as failed."""
    available = {"nothing", "cooccurrence"} | ({"ground_truth"} if reference.truth is not None
                                                 else set())
    metrics, not_computed = {}, {}
    for name, info in METRICS.items():
        if info.needs not in available:
            continue
        try:
            metrics[name] = info.fn(output, reference)
        except MetricError as err:
            not_computed[name] = str(err)
    return Evaluation(metrics, not_computed)
