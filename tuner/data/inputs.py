"""What a trainer receives: the trial's data (from the caches) and its run context."""

from __future__ import annotations

from dataclasses import dataclass

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
