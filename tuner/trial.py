"""Trial specifications, their stable keys, and the records trials produce."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class TrialStatus(str, Enum):
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class DataRef:
    """Everything a worker needs to load a trial's inputs from the caches: keys and paths only."""

    corpus_path: str
    corpus_sha256: str
    language: str
    bow_path: str
    embedding_path: str | None
    embedding_key: str | None
    ground_truth_path: str | None  # None: the label field is the truth
    label_field: str | None
    cache_dir: str = "embedding_cache"
    dataset: Mapping[str, Any] = field(default_factory=dict)
    encoder: Mapping[str, Any] | None = None  # EncoderSource fields, for trainers that re-encode


@dataclass(frozen=True)
class MetricSettings:
    npmi_window: int = 10
    topn: int = 10
    diversity_topn: int = 25


@dataclass(frozen=True)
class TrialSpec:
    """One trial: a model, its full parameter set after defaults, a seed and its data."""

    model: str
    params: Mapping[str, Any]
    seed: int
    data: DataRef
    metrics: MetricSettings
    experiment: str
    key: str
    index: int = 0
    revision: int | None = None  # the trainer's, when it has one (see trial_key)

    @property
    def name(self) -> str:
        swept = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.model}[{swept}]#seed={self.seed}"[:240]


def trial_key(model: str, params: Mapping[str, Any], seed: int, data: DataRef,
              metrics: MetricSettings, revision: int | None = None) -> str:
    """Stable hash of everything that determines a trial's result. `revision` is the trainer's
    (absent before a model's first result-changing fix, so older keys stay valid)."""
    payload = {
        "model": model, "params": dict(params), "seed": seed,
        "corpus": data.corpus_sha256, "bow": data.bow_path.rsplit("/", 1)[-1],
        "embedding": data.embedding_key, "truth": data.ground_truth_path or data.label_field,
        "metrics": [metrics.npmi_window, metrics.topn, metrics.diversity_topn],
    }
    if revision is not None:
        payload["revision"] = revision
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class TrialError:
    type: str
    message: str
    traceback: str


@dataclass(frozen=True)
class TrialRecord:
    """What a trial produced: status, metrics, timings, artifacts' content, or the error."""

    spec: TrialSpec
    status: TrialStatus
    metrics: Mapping[str, float] = field(default_factory=dict)
    topic_words: list[list[str]] = field(default_factory=list)
    topic_npmi: list[float] = field(default_factory=list)
    assignments: list[int] = field(default_factory=list)
    extras: Mapping[str, Any] = field(default_factory=dict)
    error: TrialError | None = None
    worker: str = ""
