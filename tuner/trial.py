"""Trial specifications, their stable keys, and the records trials produce."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class TrialStatus(str, Enum):
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    PRUNED = "PRUNED"  # stopped at a checkpoint by the sweep's pruner; done, never ranked


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
    truth_sha256: str | None = None  # the partition the trial is scored against (None: no truth)
    # Digests of the side inputs this trial's fit may read ("labels", "timestamps",
    # "covariates"); the worker withholds every other one from the trainer.
    inputs: Mapping[str, str] = field(default_factory=dict)
    context: str = ""  # the data the sweep judges its trials on (see data_context)
    roots: tuple[str, ...] = ()  # the folders its files must stay under (tuner.data.confine)


@dataclass(frozen=True)
class MetricSettings:
    npmi_window: int = 10
    topn: int = 10
    diversity_topn: int = 25
    # What NPMI's windows slide over: "preprocessed", every token the preprocessing keeps (stop
    # words and df limits applied, vocab_size not), one reference whatever a trial's vocab_size;
    # or "vocabulary", the tokens of the trial's own vocabulary (gensim's c_npmi on the bag of
    # words' texts): on 20ng-mini the same LDA topics scored 0.055 against 2,000 words, 0.044
    # against 5,000 and 0.037 against all 16,541, so trials of several sizes ranked apart
    # (bench/npmi_reference.py).
    npmi_reference: str = "preprocessed"

    @property
    def words_needed(self) -> int:
        """How many ranked words per topic scoring reads (and a trial stores)."""
        return max(self.topn, self.diversity_topn)


@dataclass(frozen=True)
class CheckpointPlan:
    """When a trial reports its objective to the sweep's pruner, in budget units (epochs or
    iterations): every `every` units (a learning curve), and at `decide_at` (rungs) it waits for
    the pruner's verdict. The runner sets it on trials of a sweep with a pruner; it is not part of
    any key (a checkpoint reads the model, never changes it)."""

    metric: str
    folder: str  # where worker and parent exchange reports and verdicts (seen by both)
    every: int
    decide_at: tuple[int, ...]
    budget: int  # the trial's full budget: its last unit is scored as the trial's result
    wait_s: float = 300.0  # no verdict by then (the parent is gone): train on

    def reports_at(self, step: int) -> bool:
        return step < self.budget and (step % self.every == 0 or step in self.decide_at)


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
    fit_key: str = ""  # what the fit alone depends on (see fit_key); "" for hand-made specs
    config_key: str = ""  # the trial key without the seed: what a configuration's seeds share
    code: Mapping[str, str] = field(default_factory=dict)  # tuner.fitting.fit_code, as keyed
    checkpoints: CheckpointPlan | None = None  # set by the runner when the sweep prunes

    @property
    def name(self) -> str:
        swept = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.model}[{swept}]#seed={self.seed}"[:240]


# The rule: everything that can change a trial's result is in its key. A result is a fit plus
# its scores, so there are two keys:
# - fit_key: what the fitted topics and assignments depend on: the model, its revision (raised by
#   every result-changing fix), the code behind it (tuner.fitting.fit_code: the implementing
#   class, the versions of the libraries it declares, for a torch model the device kind, and
#   for a model whose CPU fit moves with its thread count, that count),
#   the full parameters after defaults, the seed, the corpus's ids and texts, the bag of words
#   (vocabulary size, language, every preprocessing setting and the stop list's file are in its
#   cache key), the embeddings' cache key, and the digests of the side inputs the trainer may
#   read (label values for supervised THETA, timestamp values for DTM, covariate values for
#   STM).
# - trial_key: the fit_key plus what the scores depend on: the ground-truth partition (label
#   values or the truth file's content, never its name), every metric setting, the scoring
#   code's revision and the sweep's data context (see data_context: so a trial skipped as
#   finished is one its sweep ranks).
# A re-run skips a trial whose trial_key is finished. One whose fit_key is finished but whose
# trial_key is not (relabelled data, an edited truth file, new metric settings) is re-scored from
# the stored topics and assignments instead of refitted.
KEY_FORMAT = 3  # raised when the key's contents change, so no old key can match a new trial
SCORING_REVISION = 1  # raised by every fix to tuner.metrics that changes a trial's score
# Raised by a fix that changes only the scores against a ground truth (ARI, NMI, F1), which a
# trial without one never has: its key keeps SCORING_REVISION alone. 2: F1's matching of
# topics to classes is the partitions' own, not their labels' (ties).
TRUTH_SCORING_REVISION = 2
# Raised by a fix that changes only the scores of topics made elsewhere (`tuner score`), which
# may be shorter than topn or repeat a word; a trainer's topics are topn distinct words, ranked
# over the vocabulary. 2: inverted_rbo extrapolates lists of different lengths and compares word
# sets, as OCTIS. Raising SCORING_REVISION for it would have re-scored every stored trial to the
# same values, each as a new run.
# 3: topic words compared as tokens (lower-cased). 4: a topic NPMI cannot score is left out of
# NPMI's and TQ's mean, where it left them uncomputed for every topic.
EXTERNAL_SCORING_REVISION = 4


def fit_key(model: str, params: Mapping[str, Any], seed: int | None, data: DataRef,
            revision: int | None = None, code: Mapping[str, str] | None = None) -> str:
    """Stable hash of everything the fit depends on (see the rule above); `seed` None for a fit
    that reads none (Trainer.uses_seed)."""
    return _digest({
        "format": KEY_FORMAT, "model": model, "revision": revision, "code": dict(code or {}),
        "params": dict(params), "seed": seed, "corpus": data.corpus_sha256,
        "bow": data.bow_path.rsplit("/", 1)[-1], "embedding": data.embedding_key,
        "inputs": dict(data.inputs),
    })


def trial_key(model: str, params: Mapping[str, Any], seed: int, data: DataRef,
              metrics: MetricSettings, revision: int | None = None,
              code: Mapping[str, str] | None = None) -> str:
    """Stable hash of everything that determines a trial's result: its fit and its scoring."""
    return score_key(fit_key(model, params, seed, data, revision, code), data, metrics)


def score_key(fit: str, data: DataRef, metrics: MetricSettings) -> str:
    """The trial key of fit `fit` scored against `data`'s truth with `metrics`."""
    return _digest({"fit": fit, "truth": data.truth_sha256, "metrics": asdict(metrics),
                    "scoring": scoring_revision(data.truth_sha256), "context": data.context})


def config_key(model: str, params: Mapping[str, Any], data: DataRef, metrics: MetricSettings,
               revision: int | None = None, code: Mapping[str, str] | None = None) -> str:
    """The key every seed of one configuration shares: the trial key with no seed (`params`
    without a parameter that follows the seed). Leaderboards aggregate seeds by it, so runs made
    on other data, truth, code or preprocessing are never averaged in as more seeds."""
    return trial_key(model, params, -1, data, metrics, revision, code)


def data_context(corpus_sha256: str, truth_sha256: str | None,
                 preprocessing: Mapping[str, Any], metrics: MetricSettings) -> str:
    """What every trial of a sweep is judged on, whatever its model: the corpus, the truth, the
    preprocessing (as the dataset language's bags of words are keyed) and the metric settings.
    Every trial key holds it, so a trial skipped as finished is always ranked. Readers
    rank only the runs of the latest sweep's context: a run scored on data that has since
    changed is history. (Timestamps and covariates are not in it: only some models read them,
    and an LDA run stays current when they change; aggregate_seeds supersedes the old DTM and
    STM runs.)"""
    return _digest({"format": KEY_FORMAT, "corpus": corpus_sha256, "truth": truth_sha256,
                    "preprocessing": dict(preprocessing), "metrics": asdict(metrics),
                    "scoring": scoring_revision(truth_sha256)})


def data_name(context: str) -> str:
    """A data context (data_context) as runs show it: its first 8 hex digits, enough to tell a
    store's few contexts apart at a glance."""
    return context[:8]


def scoring_revision(truth_sha256: str | None) -> int | str:
    """The scoring code's revision as a key holds it: SCORING_REVISION, and beside it
    TRUTH_SCORING_REVISION where a ground truth is scored (so a fix to F1 re-scores no trial
    that has no F1)."""
    return SCORING_REVISION if truth_sha256 is None else \
        f"{SCORING_REVISION}+{TRUTH_SCORING_REVISION}"


def _digest(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True)
class TrialError:
    type: str
    message: str
    traceback: str


@dataclass(frozen=True)
class StoredFit:
    """A finished trial's fit as the tracker keeps it, enough to score it again."""

    run_id: str
    topic_words: list[list[str]]
    assignments: list[int]
    metrics: Mapping[str, float]  # as logged: the fit's own figures are carried over
    extras: Mapping[str, Any] = field(default_factory=dict)  # the fit's extras.json, carried over
    threads: int = 0  # the threads the fit ran on (its tuner.threads tag; 0 when unknown)
    doc_ids: tuple[str, ...] = ()  # the assignments' documents, in their order (empty: unknown)


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
    rescored_from: str | None = None  # the run whose fit this record scores again
    curve: tuple[tuple[int, float], ...] = ()  # (step, objective) at each checkpoint
    # Native threads the fit ran with (a rescore: its stored fit's; 0: unknown). In the key of
    # a model whose fit moves with it (Trainer.thread_sensitive: the neural models and STM).
    threads: int = 0
    pruned_by: str | None = None  # a pruned trial: what judged it (engine.pruning_identity)
