"""What runs inside a worker process: load a trial's data once per worker, fit, score."""

from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing.util
import os
import signal
import socket
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from trainers import load_trainer
from tuner.data.confine import confined
from tuner.data.cooccurrence import Cooccurrence, CooccurrenceCache
from tuner.data.corpus import Corpus, DatasetSpec, load_corpus, text_field_setting
from tuner.data.embeddings import EncoderSource
from tuner.data.ground_truth import (
    GroundTruth,
    first_seen_codes,
    ground_truth_from_labels,
    load_ground_truth,
)
from tuner.data.inputs import Checkpoint, FitContext, SharedStep, TrialData, never_stop
from tuner.data.numerics import check_torch_capability
from tuner.data.store import (
    cached_work_seconds,
    file_sha256,
    inputs_checked,
    read_json,
    recorded_matrix,
)
from tuner.data.vocab import BOW_TOKENS, BagOfWords, BowCache
from tuner.devices import limit_threads, pick_device, thread_limit
from tuner.engine.jit import enable_jit_cache
from tuner.engine.memory import peak_mb, reset_peak
from tuner.engine.pruning import ReportingCheckpoint
from tuner.engine.scheduler import StepDone, step_id, step_marker
from tuner.errors import CacheError, DataError, GroundTruthError
from tuner.fitting import fit_code, fit_trial
from tuner.metrics import METRICS, MetricReference, evaluate
from tuner.metrics.coherence import npmi_per_topic
from tuner.metrics.spread import (
    BACKGROUND_IDS,
    BACKGROUND_WORDS,
    background_topic_ids,
    background_words,
    document_shares,
)
from tuner.output import TopicModelOutput
from tuner.processes import exit_fast, leave_when_gone
from tuner.startup import imports_without_collection
from tuner.trial import (
    DataRef,
    MetricSettings,
    StoredFit,
    TrialError,
    TrialRecord,
    TrialSpec,
    TrialStatus,
)

# Inputs a worker keeps loaded: a sweep uses one or a few (one per vocabulary size); a worker
# of `tuner serve` lives across sweeps, and would otherwise hold every corpus it ever read.
MEMO_ENTRIES = 4


@dataclass
class WorkerState:
    """Per-process memo of loaded inputs, so each worker reads a corpus or cache file once
    (the least recently used go beyond MEMO_ENTRIES)."""

    slot: int = 0
    threads: int = 1
    # memo key -> the data, its side inputs' digests and its mapped files' fingerprints
    data: OrderedDict[str, LoadedData] = field(default_factory=OrderedDict)
    # (bag of words folder, window, npmi_reference) -> counts
    cooccurrence: OrderedDict[tuple[str, int, str], Cooccurrence] = field(
        default_factory=OrderedDict)
    # bag of words key -> each of its words' share of the documents (background topics' words)
    shares: OrderedDict[str, NDArray[np.float64]] = field(default_factory=OrderedDict)


def _remembered(memo: OrderedDict[Any, Any], key: Any, load: Callable[[], Any]) -> Any:
    """memo[key], loaded on a miss; the least recently used entry goes past MEMO_ENTRIES."""
    if key in memo:
        memo.move_to_end(key)
        return memo[key]
    memo[key] = value = load()
    while len(memo) > MEMO_ENTRIES:
        memo.popitem(last=False)
    return value


SCORE_METRICS = frozenset(METRICS) | {"eval_seconds"}  # recomputed when a fit is re-scored

# One WorkerState per worker process: ProcessPoolExecutor initializers can only reach module state.
_STATE = WorkerState()


def init_worker(threads: int, slot_counter: Any = None, jit_cache: str | None = None,
                exit_fast: bool = False, environment: dict[str, str] | None = None,
                parent: int | None = None) -> None:
    """Process-pool initializer: take the parent's `environment` (a worker forked from the fork
    server has the server's, from when it started, not the parent's now), cap native threads,
    cache compiled numba code under `jit_cache`, take a GPU slot, leave Ctrl-C to the parent
    (which stops workers itself and ends their runs KILLED); with `exit_fast`, skip interpreter
    teardown at exit; with `parent` (its pid), leave when that process is gone."""
    import threading

    if parent is not None:
        _die_with_fork_server(parent)
        leave_when_gone(parent, 1)  # its result is lost either way; the next run re-runs it

    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if exit_fast:  # the last of multiprocessing's exit steps, in forked and spawned workers
        multiprocessing.util.Finalize(None, _exit_now, exitpriority=-100)
    limit_threads(threads)  # first: numba sizes its pool from NUMBA_NUM_THREADS on import
    if jit_cache is not None:
        enable_jit_cache(Path(jit_cache))
    _STATE.threads = threads
    if slot_counter is not None:
        with slot_counter.get_lock():
            _STATE.slot = slot_counter.value
            slot_counter.value += 1


PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for this process when its parent dies


def _die_with_fork_server(parent: int) -> None:
    """A worker forked by the fork server (its parent is not the sweep's process) is killed by
    the kernel when the fork server ends, which it does when the sweep's process is gone
    (preload._leave_with). The watch thread below needs the interpreter's lock, which a
    tomotopy fit holds for its whole `train` call. Not for a worker the sweep's process started
    itself: the signal follows the thread that forked, and a served sweep's thread ends before
    its warm pool does."""
    server = os.getppid()
    if server == parent or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):
        return
    if os.getppid() != server:  # the fork server ended before the signal was set
        os._exit(1)


def _exit_now() -> None:
    """A pool worker's exit: run the exit handlers, flush, then leave without tearing the
    interpreter down. Unloading torch and friends kept the parent's pool shutdown, at the end of
    every sweep, waiting 0.6 s (two workers). Called last by multiprocessing's exit function,
    after its own finalizers: a worker forked from the fork server would otherwise leave without
    running the handlers that libraries registered (torch's, numba's, logging's). It comes before
    threading's shutdown, so a worker's non-daemon threads are not waited for (it starts none)."""
    exit_fast(0)


SCORING_IMPORTS = ("scipy.optimize",)  # F1's matching: 0.25 to 0.35 s of CPU


def warm_up(models: tuple[str, ...]) -> None:
    """Import what scoring and these models' trainers need (`warm_imports`, which the fork
    server has usually loaded already, then `jit_imports`) and compile their own numba code,
    before the first trial, so that no trial's time includes it."""
    with imports_without_collection():
        for module in SCORING_IMPORTS:
            importlib.import_module(module)
        for model in models:
            trainer = load_trainer(model)
            for module in (*trainer.warm_imports, *trainer.jit_imports):
                importlib.import_module(module)
            trainer.compile_kernels()


def load_trial_data(ref: DataRef) -> TrialData:
    """The corpus, bag of words, embeddings and labels of `ref` (see loaded_trial_data)."""
    return loaded_trial_data(ref).data


def loaded_trial_data(ref: DataRef) -> LoadedData:
    """The inputs of `ref`, loaded once per worker and loaded again when a file it maps or a
    side input changed since."""
    memo_key = _memo_key(ref)
    loaded: LoadedData = _remembered(_STATE.data, memo_key, lambda: _loaded(ref))
    if _changed_side_inputs(ref, loaded.side_digests) or _moved_files(loaded.mapped):
        _STATE.data.pop(memo_key, None)  # a warm worker would fail every later sweep of it
        loaded = _remembered(_STATE.data, memo_key, lambda: _loaded(ref))
    _check_side_inputs(ref, loaded.side_digests)  # every trial: the first may read none
    return loaded


def _memo_key(ref: DataRef) -> str:
    # The fields read matter as much as the file: a warm worker (tuner serve, Dask) serves
    # sweeps that name other covariate or timestamp columns of the same file.
    fields = json.dumps(dict(ref.dataset), sort_keys=True, default=str)
    return (f"{ref.corpus_path}|{fields}|{ref.corpus_sha256}|{ref.bow_path}|"
            f"{ref.embedding_path}|{ref.ground_truth_path}|{ref.truth_sha256}")


# A file's identity and last change: device, inode, size, mtime and ctime (which no user can
# set back, as `touch -r` does mtime)
Fingerprint = tuple[int, int, int, int, int]


@dataclass(frozen=True)
class LoadedData:
    data: TrialData
    side_digests: Mapping[str, str]
    # Files the data maps rather than copies (the bag's tokens, the embeddings), checked by
    # hash when loaded: their fingerprints then, so that a change after is seen.
    mapped: dict[Path, Fingerprint | None]


def _loaded(ref: DataRef) -> LoadedData:
    mapped = {path: _fingerprint(path) for path in _mapped_files(ref)}  # before the hash checks
    data = _read_trial_data(ref)
    return LoadedData(data, data.corpus.side_digests(), mapped)


def _mapped_files(ref: DataRef) -> list[Path]:
    files = [Path(ref.bow_path) / BOW_TOKENS]
    return files + [Path(ref.embedding_path)] if ref.embedding_path else files


def _fingerprint(path: Path) -> Fingerprint | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _moved_files(mapped: Mapping[Path, Fingerprint | None]) -> list[Path]:
    return [path for path, was in mapped.items() if _fingerprint(path) != was]


def _check_mapped_files(loaded: LoadedData, ref: DataRef) -> None:
    """Fail a trial whose mapped input was written in place while it ran: it read the file as
    it was then, which no hash checked. A file replaced (another inode) is not: the mapping
    keeps the content that was checked; nor is one whose metadata alone changed (a chmod, a
    touch), whose content still has the hash its cache recorded."""
    for path in _moved_files(loaded.mapped):
        was, now = loaded.mapped[path], _fingerprint(path)
        if was is None or now is None or was[:2] != now[:2]:
            continue
        recorded = _recorded_sha256(path)
        if recorded is not None and recorded == _file_sha256(path):
            loaded.mapped[path] = now
            continue
        _STATE.data.pop(_memo_key(ref), None)
        raise CacheError(f"{path}: the cache file was written while the trial ran, so what it "
                         "read is not what was checked; its result, and what it derived from "
                         "the file, are not kept; re-run the sweep")


def _mapped_files_checked(loaded: LoadedData, ref: DataRef) -> AbstractContextManager[None]:
    """Check the mapped inputs before a fit or shared step caches what it derived from them."""
    return inputs_checked(lambda: _check_mapped_files(loaded, ref))


def _recorded_sha256(path: Path) -> str | None:
    """The sha256 a mapped file's cache recorded: a bag's in its meta.json, an embedding
    matrix's in its sidecar."""
    meta = read_json(path.parent / "meta.json") if path.name == BOW_TOKENS \
        else read_json(path.with_suffix(".json"))
    recorded = (meta or {}).get(f"sha256:{BOW_TOKENS}" if path.name == BOW_TOKENS else "sha256")
    return recorded if isinstance(recorded, str) else None


def _file_sha256(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


# What makes two kinds of CPU run one code path (tuner.data.numerics, tuner.fitting.tomotopy_isa),
# and one plug-in's code run everywhere (trainers.plugin_source)
CODE_FIXES = {"plugin_source": "the plug-in's file changed since the sweep started, or differs "
                               "on this machine: give every machine the same file and re-run",
              "tomotopy_isa": "set the same TOMOTOPY_ISA on every machine",
              "torch_cpu": "set the same ATEN_CPU_CAPABILITY and MKL_ENABLE_INSTRUCTIONS on "
                           "every machine (avx2 and AVX2, say)",
              "blas": "set the same OPENBLAS_CORETYPE on every machine (Haswell, say)",
              "numba_cpu": "set the same NUMBA_CPU_NAME on every machine (generic, say)",
              "threads": "the worker runs another number of threads than the sweep keyed (on "
                         "an outside Dask cluster another sweep's setup sets them): run one "
                         "sweep at a time on a cluster, each with the same --threads-per-worker",
              "device": "run the sweep's torch models on one kind of device: the same GPU model "
                        "on every worker (CUDA_VISIBLE_DEVICES), or none"}


def _check_code(spec: TrialSpec) -> None:
    """The trial's key holds the parent's libraries and device kind: a worker elsewhere (a Dask
    cluster) with others would store its fit under a key that does not describe it."""
    here = fit_code(spec.model, _STATE.threads if "threads" in spec.code else None)
    differing = sorted(name for name in {*spec.code, *here}
                       if spec.code and spec.code.get(name) != here.get(name))
    if differing:
        shown = ", ".join(f"{n} {here.get(n, 'absent')} (the sweep's: "
                          f"{spec.code.get(n, 'absent')})" for n in differing)
        fixes = [CODE_FIXES[n] for n in differing if n in CODE_FIXES]
        if len(fixes) < len(differing):
            fixes.append("install the same versions on every worker")
        raise CacheError(f"this worker's code differs from the machine that keyed the trial: "
                         f"{shown}; {'; '.join(fixes)}")
    if "torch_cpu" in spec.code:
        check_torch_capability(spec.code["torch_cpu"])


def _check_side_inputs(ref: DataRef, loaded: Mapping[str, str]) -> None:
    """The timestamps and covariates the trial's fit reads must be those its key was made
    with."""
    changed = _changed_side_inputs(ref, loaded)
    if changed:
        raise CacheError(f"{ref.corpus_path}: the {' and '.join(changed)} changed since the "
                         "sweep started; re-run it")


def _changed_side_inputs(ref: DataRef, loaded: Mapping[str, str]) -> list[str]:
    return [name for name, digest in ref.inputs.items()
            if name != "labels" and loaded.get(name) != digest]


def _read_trial_data(ref: DataRef) -> TrialData:
    fields = ref.dataset
    path = confined(ref.corpus_path, ref.roots, "dataset.path")
    spec = DatasetSpec(path, text_field=text_field_setting(fields.get("text_field", "text")),
                       id_field=fields.get("id_field", "id"),
                       label_field=fields.get("label_field"),
                       timestamp_field=fields.get("timestamp_field"),
                       language=str(fields.get("language", "en")),
                       covariates=tuple(fields.get("covariates", ())))
    roots = tuple(Path(root).resolve() for root in ref.roots)
    corpus = _as_validated(ref, ref.corpus_path, lambda: load_corpus(spec, roots))
    if corpus.sha256 != ref.corpus_sha256:
        raise CacheError(f"{ref.corpus_path} changed since the sweep started; re-run it")
    bow = BowCache(Path(ref.bow_path).parent.parent).load(Path(ref.bow_path))
    if bow is None:
        raise CacheError(f"{ref.bow_path}: bag-of-words cache missing or damaged; re-run")
    embeddings = _load_embeddings(ref)
    truth = _truth(ref, corpus)
    encoder = EncoderSource(**ref.encoder) if ref.encoder else None
    return TrialData(corpus, bow, embeddings, truth, ref.embedding_key, encoder)


def _truth(ref: DataRef, corpus: Corpus) -> NDArray[np.int64] | None:
    """The partition the trial is scored against; it must be the one its key was made with."""
    if ref.ground_truth_path:
        path = confined(ref.ground_truth_path, ref.roots, "ground_truth")
        roots = tuple(Path(root).resolve() for root in ref.roots)
        truth: GroundTruth | None = _as_validated(ref, ref.ground_truth_path,
                                                  lambda: load_ground_truth(path, corpus, roots))
    elif corpus.labels is not None:
        truth = ground_truth_from_labels(corpus.labels, ref.corpus_path)
    else:
        truth = None
    if (truth.sha256 if truth is not None else None) != ref.truth_sha256:
        raise CacheError(f"{ref.ground_truth_path or ref.corpus_path}: the ground truth changed "
                         "since the sweep started; re-run it")
    return truth.labels if truth is not None else None


Loaded = TypeVar("Loaded")


def _as_validated(ref: DataRef, path: str, read: Callable[[], Loaded]) -> Loaded:
    """Read a data file of the sweep. For a served sweep (with roots), which validated the file
    when it was sent, an error means it changed since, and its own message is not repeated: it
    may quote the file's content (document ids, a field's values), which must not reach the
    trial runs' tuner.error tag. A sweep the user runs keeps the loader's message (a Dask
    worker that cannot see the file is told it is not found)."""
    try:
        return read()
    except (DataError, GroundTruthError) as err:
        if not ref.roots:
            raise
        raise CacheError(f"{path} changed since the sweep started: it no longer reads as it did "
                         f"then ({type(err).__name__}); send the sweep again") from None


def fit_view(data: TrialData, ref: DataRef) -> TrialData:
    """What the trainer may see: the side inputs its fit key covers, and nothing else (so no fit
    depends on labels, timestamps or covariates its key does not name). Labels come as the
    partition the key holds (ground_truth.first_seen_codes), never their names or the order of
    a truth file: renamed labels are the same key, so they must be the same fit."""
    corpus = data.corpus
    if "timestamps" not in ref.inputs and corpus.timestamps is not None:
        corpus = dataclasses.replace(corpus, timestamps=None)
    if "covariates" not in ref.inputs and corpus.covariates:
        corpus = dataclasses.replace(corpus, covariates={})
    if corpus.labels is not None:
        corpus = dataclasses.replace(corpus, labels=None)
    labels = first_seen_codes(data.labels) \
        if "labels" in ref.inputs and data.labels is not None else None
    return dataclasses.replace(data, corpus=corpus, labels=labels)


def _load_embeddings(ref: DataRef) -> np.ndarray | None:
    """The embeddings, memory-mapped (workers share the page cache), checked against the hash
    their cache recorded as the bag of words is."""
    if ref.embedding_path is None:
        return None
    path = Path(ref.embedding_path)
    matrix = recorded_matrix(path)
    if matrix is None:
        raise CacheError(f"{path}: embedding cache missing or damaged; re-run")
    if matrix.shape[0] == 0:
        raise CacheError(f"{path}: empty embedding matrix")
    return matrix


def _cooccurrence(bow: BagOfWords, bow_path: str, metrics: MetricSettings) -> Cooccurrence:
    """The counts the sweep's start made (a worker has no corpus to count the kept tokens of)."""
    window, reference = metrics.npmi_window, metrics.npmi_reference

    def load() -> Cooccurrence:
        return CooccurrenceCache(BowCache(Path(bow_path).parent.parent)).get_or_compute(
            bow, window, reference)

    counts: Cooccurrence = _remembered(_STATE.cooccurrence, (bow_path, window, reference), load)
    return counts


# What a trial's own code raises that fails the trial, not the worker: SystemExit too, since a
# library's sys.exit() in a fit would otherwise end the whole sweep with that code (3,
# "experiment locked"), leave the trial KILLED, and every re-run would die on it again.
TRIAL_FAILURES = (Exception, SystemExit)


def run_trial(spec: TrialSpec, started_dir: str | None = None) -> TrialRecord:
    """Fit and score one trial. Never raises: a failure becomes a FAILED record.

    While it runs, `started_dir/<trial key>` holds "pid start-time", so the parent can enforce
    time and memory limits on the process that runs this trial.
    """
    worker = _worker_name()
    marker = _mark_started(started_dir, spec.key)
    try:
        return _fit_and_score(spec, worker)
    except TRIAL_FAILURES as err:  # the trial's failure is data for the tracker, not a crash
        return _failed_record(spec, err, worker)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def rescore_trial(spec: TrialSpec, stored: StoredFit) -> TrialRecord:
    """Score an earlier trial's fit (same fit key) against this trial's truth and metric
    settings, without fitting again. Never raises: a failure becomes a FAILED record."""
    worker = _worker_name()
    try:
        loaded = loaded_trial_data(spec.data)
        data = loaded.data
        top_n = spec.metrics.words_needed
        topic_words = [words[:top_n] for words in stored.topic_words]  # as a fit keeps them
        output = TopicModelOutput(topic_words, None, np.asarray(stored.assignments))
        metrics, per_topic, not_computed = _score(output, data, spec)
        _check_mapped_files(loaded, spec.data)
        carried = {k: v for k, v in stored.metrics.items() if k not in SCORE_METRICS}
        return TrialRecord(spec, TrialStatus.COMPLETE, carried | metrics, topic_words,
                           per_topic, list(stored.assignments),
                           extras=_noting(_words_cut(stored.extras, top_n), not_computed),
                           worker=worker, rescored_from=stored.run_id,
                           threads=stored.threads)  # the fit's: the fit key holds it
    except TRIAL_FAILURES as err:
        return _failed_record(spec, err, worker)


def run_shared_step(spec: TrialSpec, step: SharedStep,
                    started_dir: str | None = None) -> StepDone:
    """Compute work `spec` shares with other trials (into its cache) with `spec`'s data and
    parameters. Never raises: a failure is reported, and the trials meet it themselves. While
    it runs, `started_dir/step-<id>` holds "pid start-time" (the trials' time and memory limits
    apply to it too)."""
    started = time.perf_counter()
    marker = _mark_started(started_dir, step_marker(step_id(spec.model, step)))
    try:
        trainer = load_trainer(spec.model)
        loaded = loaded_trial_data(spec.data)
        with thread_limit(_STATE.threads), _mapped_files_checked(loaded, spec.data):
            cached = trainer.run_shared_step(step, fit_view(loaded.data, spec.data),
                                             spec.params, _context(spec))
    except TRIAL_FAILURES as err:
        return StepDone(time.perf_counter() - started, f"{type(err).__name__}: {err}",
                        _worker_name())
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    return StepDone(time.perf_counter() - started, worker=_worker_name(), cached=bool(cached))


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _context(spec: TrialSpec, checkpoint: Checkpoint = never_stop) -> FitContext:
    return FitContext(seed=spec.seed, device=pick_device(_STATE.slot),
                      top_n=spec.metrics.words_needed, threads=_STATE.threads,
                      cache_dir=spec.data.cache_dir, checkpoint=checkpoint)


def _checkpoint(spec: TrialSpec, data: TrialData) -> ReportingCheckpoint | None:
    """What reports the trial's objective to the sweep's pruner (None: no pruner watches)."""
    plan = spec.checkpoints
    if plan is None:
        return None

    reference = _reference(data, spec)  # once per trial, not per checkpoint
    metric = METRICS[plan.metric]  # the objective alone: a checkpoint scores nothing else

    def objective(output: TopicModelOutput) -> float:
        return float(metric.fn(output, reference))

    return ReportingCheckpoint(plan, spec.key, objective)


def _failed_record(spec: TrialSpec, err: BaseException, worker: str) -> TrialRecord:
    error = TrialError(type(err).__name__, str(err), traceback.format_exc())
    return TrialRecord(spec, TrialStatus.FAILED, error=error, worker=worker)


def _mark_started(started_dir: str | None, name: str) -> Path | None:
    """Write `started_dir/name` = "pid start-time", for the parent's watchdog; None when there is
    no such folder here: a worker on another machine of a Dask cluster, whose limits the parent
    cannot enforce (writing there raised, and every remote trial failed as "worker died")."""
    if not started_dir or not Path(started_dir).is_dir():
        return None
    marker = Path(started_dir) / name
    try:
        marker.write_text(f"{os.getpid()} {time.time()}", encoding="ascii")
    except OSError:
        return None
    return marker


def read_started(started_dir: Path, key: str) -> tuple[int, float] | None:
    """(pid, start time) of the process running trial `key`, or None if it has not started."""
    try:
        pid, since = (started_dir / key).read_text(encoding="ascii").split()
        return int(pid), float(since)
    except (OSError, ValueError):
        return None


NOT_COMPUTED = "metrics_not_computed"  # extras.json: metric -> why this output has no value


def _fit_and_score(spec: TrialSpec, worker: str) -> TrialRecord:
    _check_code(spec)
    peak_is_its_own = reset_peak() and _runs_alone()  # else it holds earlier trials' peaks
    loaded = loaded_trial_data(spec.data)
    data = loaded.data
    trainer = load_trainer(spec.model)()
    top_n = spec.metrics.words_needed
    checkpoint = _checkpoint(spec, data)
    started = time.perf_counter()
    with cached_work_seconds() as reused, _mapped_files_checked(loaded, spec.data):
        output = fit_trial(trainer, fit_view(data, spec.data), spec.params,
                           _context(spec, checkpoint or never_stop))
    fit_seconds = time.perf_counter() - started
    metrics, per_topic, not_computed = _score(output, data, spec)
    _check_mapped_files(loaded, spec.data)
    if checkpoint is not None:  # its scoring and its waits on the pruner are not the fit's
        fit_seconds -= checkpoint.seconds
        metrics["checkpoint_seconds"] = checkpoint.seconds
    status = TrialStatus.COMPLETE
    curve: tuple[tuple[int, float], ...] = ()
    if checkpoint is not None:
        metrics["budget_used"] = float(checkpoint.last_step)
        curve = tuple(checkpoint.curve)
        if checkpoint.stopped_at is not None:
            status = TrialStatus.PRUNED
    numeric_extras = {k: float(v) for k, v in output.extras.items()
                      if isinstance(v, (int, float, np.number))}
    metrics |= {"num_topics_found": float(output.extras.get("num_topics_found",
                                                             output.num_topics)),
                "fit_seconds": fit_seconds, "shared_seconds": sum(reused),
                "total_seconds": fit_seconds + sum(reused)}
    peak = peak_mb() if peak_is_its_own else None
    if peak is not None:
        metrics["peak_memory_mb"] = peak
    metrics |= {k: v for k, v in numeric_extras.items() if k not in metrics}
    extras = {k: v for k, v in output.extras.items() if k not in numeric_extras}
    if output.doc_topic is not None:  # a stored fit keeps no θ: its re-scoring carries these
        background = background_topic_ids(output)
        metrics["background_topics"] = float(len(background))
        if background:  # the topics the report marks, and what their words are
            extras[BACKGROUND_IDS] = background
            extras[BACKGROUND_WORDS] = background_words(output, background, data.bow.vocab,
                                                        _document_shares(data.bow))
    return TrialRecord(spec, status, metrics, [w[:top_n] for w in output.topic_words],
                       per_topic, np.asarray(output.assignments).tolist(),
                       _noting(extras, not_computed),
                       worker=worker, curve=curve, threads=_STATE.threads)


def _document_shares(bow: BagOfWords) -> NDArray[np.float64]:
    """The bag's words' document shares (spread.document_shares), once per worker and bag: a
    pass over every token (a second on 100,000 documents), which each trial with a background
    topic reads."""
    return _remembered(_STATE.shares, bow.key, lambda: document_shares(
        len(bow.vocab), bow.flat, bow.offsets))


def _runs_alone() -> bool:
    """Whether this process runs one trial at a time, so its peak memory is the trial's: a
    worker of an outside Dask cluster may run several tasks at once in threads."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return True
    try:
        return int(distributed.get_worker().state.nthreads) <= 1
    except (ValueError, AttributeError):  # not in a Dask worker
        return True


WORD_LIST_EXTRAS = ("slice_top_words",)  # {label: each topic's top words}: DTM's per slice


def _words_cut(extras: Mapping[str, Any], top_n: int) -> dict[str, Any]:
    """A stored fit's extras with its word lists cut to the `top_n` words a re-scored trial
    keeps: else a DTM fit re-scored at fewer words lists each slice's topics at the old count
    beside topics at the new one."""
    cut = {name: {label: [words[:top_n] if isinstance(words, list) else words for words in topics]
                  if isinstance(topics, list) else topics for label, topics in lists.items()}
           for name in WORD_LIST_EXTRAS if isinstance(lists := extras.get(name), dict)}
    return {**extras, **cut}  # another shape is carried as it is, as before (never a failure)


def _noting(extras: Mapping[str, Any], not_computed: dict[str, str]) -> dict[str, Any]:
    """A trial's extras (extras.json) with the metrics its output has no value for, and why."""
    kept = {k: v for k, v in extras.items() if k != NOT_COMPUTED}
    return kept | ({NOT_COMPUTED: not_computed} if not_computed else {})


def _score(output: TopicModelOutput, data: TrialData,
           spec: TrialSpec) -> tuple[dict[str, float], list[float], dict[str, str]]:
    """Every metric the trial's data allows, per-topic NPMI, and the seconds scoring took."""
    started = time.perf_counter()
    reference = _reference(data, spec)
    evaluation = evaluate(output, reference)
    metrics = evaluation.metrics
    per_topic = [] if "npmi" in evaluation.not_computed else \
        [float(x) for x in npmi_per_topic(output, reference)]
    metrics["eval_seconds"] = time.perf_counter() - started
    return metrics, per_topic, evaluation.not_computed


def _reference(data: TrialData, spec: TrialSpec) -> MetricReference:
    return MetricReference(_cooccurrence(data.bow, spec.data.bow_path, spec.metrics),
                           {w: i for i, w in enumerate(data.bow.vocab)}, data.labels,
                           spec.metrics)
