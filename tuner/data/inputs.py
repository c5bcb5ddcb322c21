"""What a trainer receives: the trial's data (from the caches) and its run context."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from tuner.data.corpus import Corpus
from tuner.data.embeddings import EncoderSource
from tuner.data.vocab import BagOfWords
from tuner.output import TopicModelOutput


@dataclass(frozen=True)
class TrialData:
    """Inputs shared by every trial of a worker: loaded once, never modified by a trainer."""

    corpus: Corpus
    bow: BagOfWords
    embeddings: NDArray[np.float32] | None = None
    labels: NDArray[np.int64] | None = None  # ground-truth cluster per document, -1 = unknown
    embedding_key: str | None = None  # digest of the embeddings' cache key, for derived caches
    encoder: EncoderSource | None = None  # the model that made the embeddings


class Checkpoint(Protocol):
    """How an iterative trainer reports to the sweep's pruner (see `Trainer.budget_param`)."""

    def __call__(self, step: int, current: Callable[[], TopicModelOutput],
                 final: bool = False) -> bool:
        """The model has trained `step` budget units (epochs, iterations); `current()` reads its
        output as it stands (called only at checkpoints). True: the pruner stopped the trial,
        and the trainer returns the model as it stands now. `final`: the trainer stops here on
        its own (converged, early stopping): counted, never judged."""
        ...


def never_stop(step: int, current: Callable[[], TopicModelOutput], final: bool = False) -> bool:
    """The checkpoint of a trial no pruner watches: nothing is read, training goes on."""
    return False


@dataclass(frozen=True)
class FitContext:
    """Per-trial settings that are not model parameters."""

    seed: int
    device: str = "cpu"
    top_n: int = 25  # words per topic the output must rank
    threads: int = 1
    cache_dir: str = "embedding_cache"  # where a trainer may cache what it derives (adapters...)
    checkpoint: Checkpoint = never_stop  # called after each budget unit; True: stop there


@dataclass(frozen=True)
class StepInputs:
    """What a trial's shared work may depend on beyond its parameters: the keys of its cached
    inputs and its seed (a trainer's `shared_steps` names its steps from them)."""

    seed: int
    bow_key: str
    embedding_key: str | None = None


@dataclass(frozen=True)
class SharedStep:
    """Work several trials share (e.g. BERTopic's UMAP reduction of one embedding matrix with
    one set of UMAP parameters): the runner computes it once, as a task of its own, before the
    trials that need it, instead of letting them wait on each other's cache lock."""

    name: str  # e.g. "umap"
    key: Mapping[str, Any] = field(default_factory=dict)  # equal keys: one computation
    # how `tuner run` names it to a user, e.g. "dim=50 seed=42" (and the bag of words): two
    # steps of one sweep read alike without it
    label: str = field(default="", compare=False)
