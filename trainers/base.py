"""The Trainer interface and helpers every trainer shares."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from tuner.data.embeddings import EmbeddingSpec
from tuner.data.inputs import FitContext, SharedStep, StepInputs, TrialData, never_stop
from tuner.errors import TrainerError
from tuner.output import TopicModelOutput
from tuner.params import VOCAB_SIZE, ParamSchema

log = logging.getLogger(__name__)
Requirement = Literal["bow", "embeddings", "timestamps", "labels", "covariates"]
# Trainer.expected_cost's default, from one-thread fits on 20ng-mini (2026-12-01): LDA at 200
# iterations took 1.15 s with K=10 and 1.60 s with K=20 (100 iterations: 0.62 and 0.86 s), so an
# iteration costs about (15 + K). ProdLDA at 10 epochs took 1.02 s (K=20) and 1.13 s (K=50) with
# 2,000 words, 2.41 and 2.67 s with 10,000 words, so an epoch costs about (V + 3,900) x (K + 270);
# 15 ProdLDA epochs (K=20, 2,000 words) took 1.2 times as long as 200 LDA iterations (K=20),
# which sets EPOCH_WEIGHT, the cost of an epoch at V=2,000 and K=20.
ITERATION_OVERHEAD = 15  # in topics: an iteration's cost is (ITERATION_OVERHEAD + K)
EPOCH_WEIGHT = 565  # an epoch at EPOCH_REFERENCE, in the units of an iteration's (15 + K)
EPOCH_REFERENCE = (2000, 20)  # (V, K)
EPOCH_WORDS_OVERHEAD, EPOCH_TOPICS_OVERHEAD = 3900, 270


# ProdLDA on BBC articles at K=5 (seeds 42, 43): ARI 0.33 against LDA's 0.51 at 300 documents,
# 0.41 against 0.54 at 600, 0.63 against 0.64 at 1,200; every neural model's defaults gave
# gibberish on 150 UN speeches (see few_documents_said in tuner.engine.advice)
NEURAL_MIN_DOCUMENTS = 1000

@dataclass(frozen=True)
class BudgetAdvice:
    below: int  # budgets under this are said
    suggested: int
    measured: str  # what was measured, as the warning quotes it


class Trainer(Protocol):
    """A topic model behind one interface. Keeps no state between trials.

    A trainer class subclasses this Protocol explicitly and so inherits the defaults below;
    `name`, `params`, `requires` and `fit` are its own. The registry refuses any other class.
    """

    name: ClassVar[str]
    params: ClassVar[ParamSchema]
    requires: ClassVar[frozenset[Requirement]]
    # Raised when a change alters results for the same parameters, so finished trials of the old
    # code are not skipped as done (see trial_key); None: the first version.
    revision: ClassVar[int | None] = None
    # A parameter that follows the trial seed unless the grid sets it (BERTopic's UMAP seed).
    seed_param: ClassVar[str | None] = None
    # A parameter that says how this model's bag of words is tokenised; the dataset's language
    # fills it unless the grid sets it (THETA's `language`).
    language_param: ClassVar[str | None] = None
    # Parameters whose every value needs its own precomputed cache entry (a TPE search probes
    # each value up front).
    cache_params: ClassVar[tuple[str, ...]] = ("vocab_size",)
    # Side inputs the fit reads when the dataset has them (STM's covariates), beyond those it
    # requires; both join the trial's fit key, and a trainer is handed no other.
    reads: ClassVar[frozenset[Requirement]] = frozenset()
    # Requirements of some parameter values only: need -> (parameter, value) (THETA's
    # supervised mode needs labels); checked before any trial, as `requires` is.
    requires_when: ClassVar[Mapping[Requirement, tuple[str, Any]]] = {}
    # Distributions whose code computes the fit: their installed versions join its fit key, so
    # an upgrade that can change results refits instead of reusing the old answer.
    libraries: ClassVar[tuple[str, ...]] = ("numpy",)
    # Whether the fit's result moves with the native threads it runs on on a CPU (torch's and
    # BLAS's sums split per thread): the thread count then joins its fit key, so a fit made on
    # another count is never served as this one's. Measured for the built-ins at 1 and 2 threads
    # (tests/tuner/test_thread_keys.py; BERTopic measured apart, 2026-12-03); a
    # plug-in that cannot tell should say True.
    thread_sensitive: ClassVar[bool] = False
    # Heavy modules a worker imports while the parent precomputes, before the first trial. The
    # fork server imports them once for all workers (tuner.engine.executors.worker_context), so
    # what they read from the environment at import is the server's: thread counts are set again
    # in each worker, but a module that reads e.g. HF_HUB_OFFLINE on import belongs in the fit.
    warm_imports: ClassVar[tuple[str, ...]] = ()
    # Heavy modules each worker imports itself in its warm-up, never the fork server: those that
    # compile numba code at import (UMAP) must come after tuner.engine.jit has pointed numba's
    # on-disk cache at the sweep's cache folder.
    jit_imports: ClassVar[tuple[str, ...]] = ()
    # The parameter that sets how long the fit trains (epochs, Gibbs or EM iterations); a trainer
    # that names one calls `ctx.checkpoint(step, current)` after every unit of it, so a sweep's
    # pruner can stop it early. None: never pruned (BERTopic).
    budget_param: ClassVar[str | None] = None
    # The fewest budget units after which the pruner may judge a fit, when the grid's
    # search.pruner.min_resource is null (see bench/pruning.py for the measured rank
    # correlation between the objective at this point and at the end).
    min_budget: ClassVar[int] = 10
    # A budget below which this model's fits were measured to stop short (a Gibbs sampler whose
    # log-likelihood still rises): `tuner validate` says so, with the figures, for a grid whose
    # every trial of it runs below `below`. None: nothing said.
    budget_advice: ClassVar[BudgetAdvice | None] = None
    # Settings `tuner init`'s starter grid gives this model beyond its defaults, each measured
    # (the defaults stay the paper's or the parameter reference's), and why, as init says it.
    starter_settings: ClassVar[Mapping[str, Any]] = {}
    starter_why: ClassVar[str] = ""
    # Fewer documents than this and `tuner validate` and `tuner init` say that its fits trail
    # LDA's: a neural model learns a network from them (NEURAL_MIN_DOCUMENTS, measured)
    min_documents: ClassVar[int] = 0

    @staticmethod
    def shared_steps(params: Mapping[str, Any], inputs: StepInputs) -> list[SharedStep]:
        """Work this trial shares with others, which the runner computes once, as its own task,
        before the trials that need it: BERTopic's UMAP reduction, ETM's Word2Vec vectors. Two
        trials whose steps have the same name and key share that step, so the key must hold
        everything the step's result depends on. None by default."""
        return []

    @staticmethod
    def run_shared_step(step: SharedStep, data: TrialData, params: Mapping[str, Any],
                        ctx: FitContext) -> bool:
        """Compute `step` into its cache (called in a worker, for a step `shared_steps` named);
        True when it was found there already (another sweep, or an earlier run, computed it)."""
        raise TrainerError(f"no shared step '{step.name}'")

    @staticmethod
    def remedy(concern: str, params: Mapping[str, Any]) -> str:
        """What to change in a fit with `params` for a concern the sweep warns of at its end (a
        kind of tuner.reporting.health.NOTES: "collapsed", "outliers"), added to that warning
        when one of its trials has it: one sentence without the final full stop, or ""."""
        return ""

    @staticmethod
    def bag_advice(lengths: NDArray[np.int64]) -> list[str]:
        """What `tuner validate` and `tuner run` should say of this model on a bag of words
        whose documents keep `lengths` tokens (BTM on long documents), one sentence each
        without the final full stop. Nothing by default."""
        return []

    @staticmethod
    def uses_seed(params: Mapping[str, Any]) -> bool:
        """Whether a fit with `params` reads the trial seed at all. False (STM's spectral start,
        deterministic) keys the fit without the seed, so a grid's seeds make one trial of it,
        not copies of one fit whose sd of 0 reads as a stable model."""
        return True

    @staticmethod
    def expected_cost(params: Mapping[str, Any]) -> float:
        """A rough relative cost of a fit with `params`, so the runner can start long trials
        first and mix models sensibly: by default epochs x (V + 3,900) x (K + 270), scaled to
        EPOCH_WEIGHT at V=2,000 and K=20, else iterations x (15 + K), as measured above."""
        topics = float(params.get("num_topics") or params.get("max_topics") or 20)
        epochs = params.get("epochs")
        if epochs:
            words = float(params.get("vocab_size") or VOCAB_SIZE.default)
            reference_words, reference_topics = EPOCH_REFERENCE
            scale = ((words + EPOCH_WORDS_OVERHEAD) / (reference_words + EPOCH_WORDS_OVERHEAD)
                     * (topics + EPOCH_TOPICS_OVERHEAD)
                     / (reference_topics + EPOCH_TOPICS_OVERHEAD))
            return float(epochs) * EPOCH_WEIGHT * scale
        iterations = params.get("max_iter") or params.get("n_iter") or 100
        return float(iterations) * (ITERATION_OVERHEAD + topics)

    @staticmethod
    def compile_kernels() -> None:
        """Compile the model's own numba code (or load it from numba's disk cache), in a
        worker's warm-up rather than in its first fit: a trainer whose kernels compile on first
        call runs them here once on a toy input of the types a fit passes."""

    @staticmethod
    def default_embedding(params: Mapping[str, Any], grid_embedding: EmbeddingSpec
                          ) -> EmbeddingSpec | None:
        """The embedding this model needs when the grid names no embedding model; None: the
        grid's `embedding` section as it is."""
        return None

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


def import_without(module: str, package: str, model: str, extras: Sequence[str]) -> ModuleType:
    """Import `module` as its lightweight install does when the optional libraries `extras` are
    absent (its own `except ModuleNotFoundError` fallbacks), for extras tuner never calls through
    it; they stay importable afterwards for anyone else. Extras already loaded are used. If
    `module` cannot be imported that way, its own modules are forgotten and it is imported in
    full (best effort: other libraries it imported keep what they chose). Call it before the
    process has threads that import: while it runs, importing an extra elsewhere fails."""
    if module in sys.modules:
        return importlib.import_module(module)
    hidden = [name for name in extras if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ModuleNotFoundError
    try:
        return importlib.import_module(module)
    except Exception as err:  # noqa: BLE001 - not only ImportError: scipy reads sys.modules
        log.warning("%s could not be imported without %s (%s: %s); importing it in full",
                    module, ", ".join(hidden), type(err).__name__, err)
        _forget(module)
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return require(module, package, model)


def _forget(package: str) -> None:
    """Drop `package` and its submodules from sys.modules, so that the next import runs anew."""
    for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
        del sys.modules[name]


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


def train_with_checkpoints(train: Callable[[int], None], budget: int, ctx: FitContext,
                           current: Callable[[], TopicModelOutput]) -> int:
    """Call `train(n)` for `budget` units in all, reporting to `ctx.checkpoint` after each unit
    when a pruner watches the trial (else in one call); the units trained (fewer when pruned).

    For samplers whose `train(a)` then `train(b)` equals `train(a + b)` (tomotopy's: measured
    identical log-likelihoods on 20ng-mini for 100 iterations in one call and in ten).
    """
    if ctx.checkpoint is never_stop:
        train(budget)
        return budget
    for step in range(1, budget + 1):
        train(1)
        if ctx.checkpoint(step, current):
            return step
    return budget
