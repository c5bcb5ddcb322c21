"""What a trainer receives: the trial's data (from the caches) and its run context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tuner.data.corpus import Corpus
from tuner.data.embeddings import EncoderSource
from tuner.data.vocab import BagOfWords


@dataclass(frozen=True)
class TrialData:
    """Inputs shared by every trial of a worker: loaded once, never modified by a trainer."""

    corpus: Corpus
    bow: BagOfWords
    embeddings: NDArray[np.float32] | None = None
    labels: NDArray[np.int64] | None = None  # ground-truth cluster per document, -1 = unknown
    embedding_key: str | None = None  # digest of the embeddings' cache key, for derived caches
    encoder: EncoderSource | None = None  # the model that made the embeddings


@dataclass(frozen=True)
class FitContext:
    """Per-trial settings that are not model parameters."""

    seed: int
    device: str = "cpu"
    top_n: int = 25  # words per topic the output must rank
    threads: int = 1
    cache_dir: str = "embedding_cache"  # where a trainer may cache what it derives (adapters...)


@dataclass(frozen=True)
class SharedStep:
    """Work several trials share (e.g. BERTopic's UMAP reduction of one embedding matrix with
    one set of UMAP parameters): the runner computes it once, as a task of its own, before the
    trials that need it, instead of letting them wait on each other's cache lock."""

    name: str  # e.g. "umap"
    key: Mapping[str, Any] = field(default_factory=dict)  # equal keys: one computation
