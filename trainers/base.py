"""The Trainer interface and helpers every trainer shares."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from tuner.data.inputs import FitContext, TrialData
from tuner.errors import TrainerError
from tuner.output import TopicModelOutput
from tuner.params import ParamSchema

Requirement = Literal["bow", "embeddings", "timestamps", "labels", "covariates"]


class Trainer(Protocol):
    """A topic model behind one interface. Keeps no state between trials."""

    name: ClassVar[str]
    params: ClassVar[ParamSchema]
    requires: ClassVar[frozenset[Requirement]]
    # Optional `reads: ClassVar[frozenset[Requirement]]`: side inputs the fit reads when the
    # dataset has them (STM's covariates); they join the trial's fit key like `requires`.
    # Optional `shared_steps(params, embedding_key) -> list[SharedStep]` and
    # `run_shared_step(step, data, params, ctx)`: work several trials share (BERTopic's UMAP
    # reduction), which the runner computes once, as its own task, before those trials.
    # Optional `warm_imports: ClassVar[tuple[str, ...]]`: heavy modules a worker imports while
    # the parent precomputes, before the first trial.
    # Optional `revision: ClassVar[int]`: raised when a change alters results for the same
    # parameters, so finished trials of the old code are not skipped as done (see trial_key).

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        """Fit on `data` with validated, complete `params`; return the model's output."""
        ...


def require(module: str, package: str, model: str) -> ModuleType:
    """Import an optional library or raise TrainerError naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise TrainerError(f"{model} needs the Python package '{package}': "
                           f"pip install {package}") from err


def assignments_from(doc_topic: NDArray[np.float64],
                     empty_docs: NDArray[np.bool_]) -> NDArray[np.int64]:
    """argmax topic per document; -1 for documents with no in-vocabulary word (nothing to say)."""
    assignments = np.argmax(doc_topic, axis=1).astype(np.int64)
    assignments[empty_docs] = -1
    return assignments


def top_words(topic_word: NDArray[np.float64], vocab: list[str], top_n: int) -> list[list[str]]:
    """The `top_n` highest-weighted words of each topic row, best first."""
    order = np.argsort(-topic_word, axis=1, kind="stable")[:, :top_n]
    return [[vocab[i] for i in row] for row in order]


def empty_documents(data: TrialData) -> NDArray[np.bool_]:
    return np.diff(data.bow.offsets) == 0
