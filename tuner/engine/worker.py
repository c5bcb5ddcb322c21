"""What runs inside a worker process: load a trial's data once per worker, fit, score."""

from __future__ import annotations

import os
import signal
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainers import load_trainer
from tuner.data.corpus import DatasetSpec, load_corpus
from tuner.data.embeddings import EncoderSource
from tuner.data.ground_truth import ground_truth_from_labels, load_ground_truth
from tuner.data.inputs import FitContext, TrialData
from tuner.data.vocab import BagOfWords, BowCache, Cooccurrence, CooccurrenceCache
from tuner.devices import limit_threads, pick_device
from tuner.errors import CacheError
from tuner.fitting import fit_trial
from tuner.metrics import MetricReference, evaluate
from tuner.metrics.coherence import npmi_per_topic
from tuner.trial import DataRef, TrialError, TrialRecord, TrialSpec, TrialStatus


@dataclass
class WorkerState:
    """Per-process memo of loaded inputs, so each worker reads a corpus or cache file once."""

    slot: int = 0
    threads: int = 1
    data: dict[str, TrialData] = field(default_factory=dict)
    cooccurrence: dict[tuple[str, int], Cooccurrence] = field(default_factory=dict)


# One WorkerState per worker process: ProcessPoolExecutor initializers can only reach module state.
_STATE = WorkerState()


def init_worker(threads: int, slot_counter: Any = None) -> None:
    """Process-pool initializer: cap native threads, take a GPU slot, leave Ctrl-C to the parent
    (which stops workers itself and ends their runs KILLED)."""
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    _STATE.threads = threads
    if slot_counter is not None:
        with slot_counter.get_lock():
            _STATE.slot = slot_counter.value
            slot_counter.value += 1


def load_trial_data(ref: DataRef) -> TrialData:
    """The corpus, bag of words, embeddings and labels of `ref`, loaded once per worker."""
    memo_key = f"{ref.corpus_sha256}|{ref.bow_path}|{ref.embedding_path}|{ref.ground_truth_path}"
    if memo_key not in _STATE.data:
        _STATE.data[memo_key] = _read_trial_data(ref)
    return _STATE.data[memo_key]


def _read_trial_data(ref: DataRef) -> TrialData:
    fields = ref.dataset
    spec = DatasetSpec(Path(ref.corpus_path), text_field=str(fields.get("text_field", "text")),
                       id_field=str(fields.get("id_field", "id")),
                       label_field=fields.get("label_field"),
                       timestamp_field=fields.get("timestamp_field"),
                       language=str(fields.get("language", "en")),
                       covariates=tuple(fields.get("covariates", ())))
    corpus = load_corpus(spec)
    if corpus.sha256 != ref.corpus_sha256:
        raise CacheError(f"{ref.corpus_path} changed since the sweep started; re-run it")
    bow = BowCache(Path(ref.bow_path).parent.parent).load(Path(ref.bow_path))
    if bow is None:
        raise CacheError(f"{ref.bow_path}: bag-of-words cache missing or damaged; re-run")
    embeddings = _load_embeddings(ref)
    if ref.ground_truth_path:
        truth = load_ground_truth(Path(ref.ground_truth_path), corpus).labels
    elif corpus.labels is not None:
        truth = ground_truth_from_labels(corpus.labels, ref.corpus_path).labels
    else:
        truth = None
    encoder = EncoderSource(**ref.encoder) if ref.encoder else None
    return TrialData(corpus, bow, embeddings, truth, ref.embedding_key, encoder)


def _load_embeddings(ref: DataRef) -> np.ndarray | None:
    if ref.embedding_path is None:
        return None
    path = Path(ref.embedding_path)
    matrix = np.load(path, mmap_mode="r", allow_pickle=False)  # memory-mapped: shared page cache
    if matrix.shape[0] == 0:
        raise CacheError(f"{path}: empty embedding matrix")
    return matrix


def _cooccurrence(bow: BagOfWords, bow_path: str, window: int) -> Cooccurrence:
    key = (bow_path, window)
    if key not in _STATE.cooccurrence:
        cache = CooccurrenceCache(BowCache(Path(bow_path).parent.parent))
        _STATE.cooccurrence[key] = cache.get_or_compute(bow, window)
    return _STATE.cooccurrence[key]


def run_trial(spec: TrialSpec, started_dir: str | None = None) -> TrialRecord:
    """Fit and score one trial. Never raises: a failure becomes a FAILED record.

    While it runs, `started_dir/<trial key>` holds "pid start-time", so the parent can enforce
    time and memory limits on the process that runs this trial.
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    marker = Path(started_dir) / spec.key if started_dir else None
    if marker is not None:
        marker.write_text(f"{os.getpid()} {time.time()}", encoding="ascii")
    try:
        return _fit_and_score(spec, worker)
    except Exception as err:  # the trial's failure is data for the tracker, not a crash
        error = TrialError(type(err).__name__, str(err), traceback.format_exc())
        return TrialRecord(spec, TrialStatus.FAILED, error=error, worker=worker)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def read_started(started_dir: Path, key: str) -> tuple[int, float] | None:
    """(pid, start time) of the process running trial `key`, or None if it has not started."""
    try:
        pid, since = (started_dir / key).read_text(encoding="ascii").split()
        return int(pid), float(since)
    except (OSError, ValueError):
        return None


def _fit_and_score(spec: TrialSpec, worker: str) -> TrialRecord:
    data = load_trial_data(spec.data)
    trainer = load_trainer(spec.model)()
    top_n = max(spec.metrics.topn, spec.metrics.diversity_topn)
    ctx = FitContext(seed=spec.seed, device=pick_device(_STATE.slot), top_n=top_n,
                     threads=_STATE.threads, cache_dir=spec.data.cache_dir)
    started = time.perf_counter()
    output = fit_trial(trainer, data, spec.params, ctx)
    fit_seconds = time.perf_counter() - started
    reference = MetricReference(_cooccurrence(data.bow, spec.data.bow_path,
                                              spec.metrics.npmi_window),
                                {w: i for i, w in enumerate(data.bow.vocab)}, data.labels,
                                spec.metrics)
    started = time.perf_counter()
    metrics = evaluate(output, reference)
    per_topic = npmi_per_topic(output, reference)
    eval_seconds = time.perf_counter() - started
    numeric_extras = {k: float(v) for k, v in output.extras.items()
                      if isinstance(v, (int, float, np.number))}
    metrics |= {"num_topics_found": float(output.extras.get("num_topics_found",
                                                             output.num_topics)),
                "fit_seconds": fit_seconds, "eval_seconds": eval_seconds}
    metrics |= {k: v for k, v in numeric_extras.items() if k not in metrics}
    return TrialRecord(spec, TrialStatus.COMPLETE, metrics,
                       [w[:top_n] for w in output.topic_words], [float(x) for x in per_topic],
                       np.asarray(output.assignments).tolist(),
                       {k: v for k, v in output.extras.items() if k not in numeric_extras},
                       worker=worker)
