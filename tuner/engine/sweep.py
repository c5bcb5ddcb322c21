"""Turn a validated grid into trials: check the data, then precompute every cache they need."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trainers import fit_inputs, load_trainer, trainer_revision
from tuner.data.confine import confined
from tuner.data.cooccurrence import CooccurrenceCache
from tuner.data.corpus import Corpus, load_corpus
from tuner.data.embeddings import (
    MINILM_IDS,
    EmbeddingCache,
    EmbeddingKey,
    EmbeddingSpec,
    EncoderSource,
    checked_model_folder,
    encode_texts,
    encoder_libraries,
    model_revision,
    offline,
    refuse_folder_revision,
    resolve_model_path,
    token_limit,
)
from tuner.data.ground_truth import GroundTruth, ground_truth_from_labels, load_ground_truth
from tuner.data.model_snapshot import snapshot_model, snapshot_revision
from tuner.data.model_tokens import model_token_counts
from tuner.data.timestamps import parse_timestamps
from tuner.data.vocab import (
    BagOfWords,
    BowCache,
    Preprocessing,
    TokenCounts,
    check_cache_writable,
    count_tokens,
)
from tuner.devices import encoding_dtype
from tuner.engine.advice import (
    advisories,
    bag_advice,
    bag_figures,
    sample_documents,
    unknown_share,
    windows_or_start,
)
from tuner.engine.search import Range
from tuner.errors import DataError, EmbeddingModelError, GridError
from tuner.fitting import fit_code
from tuner.grid import Grid, ModelSweep, param_field, refuse_over
from tuner.params import VOCAB_SIZE, ParamSchema
from tuner.trial import DataRef, TrialSpec, config_key, data_context, fit_key, score_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannedTrial:
    """One parameter combination of one model, before seeds: what it needs from the caches."""

    model: str
    schema: ParamSchema
    combo: dict[str, Any]
    params: dict[str, Any]
    embedding: EmbeddingSpec | None
    language: str  # how this trial's bag of words is tokenised

    @property
    def vocab_size(self) -> int:
        return int(self.params.get("vocab_size") or VOCAB_SIZE.default)

    @property
    def bow_choice(self) -> tuple[int, str]:
        return self.vocab_size, self.language


@dataclass(frozen=True)
class CheckedInputs:
    """Everything validated before any computation: corpus, truth, plan and embedding models."""

    corpus: Corpus
    truth: GroundTruth | None
    plan: list[PlannedTrial]
    model_paths: dict[str, Path]  # embedding model id -> local folder
    # The folders every file the sweep reads must stay under until its last trial (tuner
    # serve's data roots, for an inline grid; empty: not confined): see tuner.data.confine.
    roots: tuple[str, ...] = ()
    # What validation warns of (tuner.engine.advice.advisories): said before any trial, and kept
    # on the sweep run and its report.
    advice: tuple[str, ...] = ()

    @cached_property
    def input_digests(self) -> dict[str, str]:
        """Digests of the side inputs a fit may read: truth labels, timestamps, covariates."""
        labels = {"labels": self.truth.sha256} if self.truth is not None else {}
        return labels | self.corpus.side_digests()

    @property
    def embeddings(self) -> list[EmbeddingSpec]:
        return sorted({p.embedding for p in self.plan if p.embedding is not None},
                      key=lambda s: (s.model, s.pooling, s.max_length))


@dataclass(frozen=True)
class PreparedSweep:
    grid: Grid
    inputs: CheckedInputs
    trials: list[TrialSpec]
    embedding_keys: list[EmbeddingKey]
    cache_events: dict[str, str] = field(default_factory=dict)  # what was computed vs reused
    factory: TrialFactory | None = None
    advice: list[str] = field(default_factory=list)  # what the built caches say is likely wrong

    @property
    def context(self) -> str:
        return sweep_context(self.grid, self.inputs)


def plan_trials(grid: Grid) -> list[PlannedTrial]:
    """Every (model, parameter combination) of the grid with its full parameters. For a TPE
    search, one probe per choice of the parameters that select caches (vocab_size, model_size),
    so every cache a later suggestion can need is built up front."""
    plan = []
    for sweep in grid.sweeps:
        combos = _probes(grid, sweep) if grid.search.strategy == "tpe" else sweep.combinations
        plan += [planned_trial(grid, sweep.model, combo) for combo in combos]
    return plan


def _probes(grid: Grid, sweep: ModelSweep) -> list[dict[str, Any]]:
    """One combination per distinct choice of the cache-selecting values."""
    keyed = _cache_values(grid, sweep)
    return [dict(zip(keyed, combo, strict=True)) for combo in itertools.product(*keyed.values())]


def _cache_values(grid: Grid, sweep: ModelSweep) -> dict[str, list[Any]]:
    """Each cache-selecting parameter's distinct listed values (a repeat builds nothing more)."""
    cache_params = load_trainer(sweep.model).cache_params
    keyed = {name: values for name, values in sweep.space.items() if name in cache_params}
    for name, values in keyed.items():
        if isinstance(values, Range):
            raise GridError([f"{grid.path}: params.{name}: a TPE search needs a list of values "
                             f"for {name} (each builds a cache); got a range"])
    return {name: list({repr(v): v for v in values}.values())  # type: ignore[union-attr]
            for name, values in keyed.items()}


def _refuse_unusable_caches(grid: Grid) -> None:
    """A TPE search builds every cache its lists select before its first trial; more of them
    than it has trials cannot all be used: one trial with 200 values of vocab_size would build
    200 bags of words (49 s and 341 MB on 300 documents, in tuner serve's own process, past
    --max-trials)."""
    if grid.search.strategy != "tpe":
        return
    listed, built = [], 0
    for sweep in grid.sweeps:
        keyed = _cache_values(grid, sweep)  # counted, not built: 10,000^3 combinations fit
        count = math.prod(len(values) for values in keyed.values())  # in a 1 MiB request
        if count > 1:  # one: the model's only one
            built += count
            listed.append(f"{sweep.model}: {' x '.join(f'{len(v)} {n}' for n, v in keyed.items())}")
    if built > grid.search.n_trials:
        raise GridError([f"{grid.path}: search.n_trials: a TPE search builds a cache for each "
                         f"choice of the values that select one before its first trial: "
                         f"{built} here ({'; '.join(listed)}), more than its "
                         f"{grid.search.n_trials} trials can use; list fewer values or raise "
                         f"n_trials to {built} or more"])


def planned_trial(grid: Grid, model: str, combo: dict[str, Any]) -> PlannedTrial:
    """One combination's full parameters and the embedding it needs (on a grid whose dataset
    language is known: see with_language)."""
    assert grid.dataset.language is not None, "the dataset's language is detected first"
    trainer = load_trainer(model)
    params = trainer.params.with_defaults(combo)
    language_param = trainer.language_param
    if language_param is not None and language_param not in combo:
        params[language_param] = grid.dataset.language  # the dataset's, unless the grid says
    params = trainer.params.resolved(params)
    language = str(params[language_param]) if language_param else grid.dataset.language
    embedding = None
    if "embeddings" in trainer.requires:
        own = None if grid.names_embedding_model else \
            trainer.default_embedding(params, grid.embedding)
        embedding = own or grid.embedding
    return PlannedTrial(model, trainer.params, combo, params, embedding, language)


def distinct_trial_count(grid: Grid, inputs: CheckedInputs) -> int:
    """How many trials the grid runs once combinations that resolve to the same parameters are
    merged (`alpha: null` and 1/K; HDBSCAN's settings under k-means), and the seeds of a fit
    that reads none (STM's spectral start); a search: its budget."""
    if grid.search.strategy == "tpe":
        return grid.trial_count
    distinct = {(p.model, repr(sorted(p.params.items()))): p for p in inputs.plan}
    return sum(len(grid.seeds) if load_trainer(p.model).uses_seed(p.params) else 1
               for p in distinct.values())


def check_inputs(grid: Grid, max_trials: int | None = None, for_trials: bool = True,
                 roots: tuple[str, ...] = (), cache_dir: Path | None = None) -> CheckedInputs:
    """Validate the dataset, ground truth, embedding models and trial count; compute nothing
    but, with `roots`, the snapshots of the model folders the grid names.
    `for_trials` False (`tuner score`, which runs none) leaves out what only trials need: the
    models' requirements, the settings that need enough documents, and two truth classes.
    `roots`: the folders the grid's files must stay under (tuner serve's data roots for an
    inline grid), checked at this read and every later one (see tuner.data.confine); a model
    folder is read once, into a snapshot in `cache_dir` (tuner.data.model_snapshot), which
    every later step reads instead."""
    if grid.trial_count == 0:
        raise GridError([f"{grid.path}: the grid expands to zero trials"])
    refuse_over(max_trials, grid.path, grid.trial_count)
    _refuse_unusable_caches(grid)
    grid = _confined_files(grid, roots)
    resolved_roots = tuple(Path(root).resolve() for root in roots)
    corpus = load_corpus(grid.dataset, resolved_roots)
    grid = with_language(grid, corpus.language)
    truth = _ground_truth(grid, corpus, resolved_roots)
    if for_trials:
        refuse_one_class(grid, truth)
        _refuse_truth_objectives(grid, truth)
        _check_requirements(grid, corpus, truth, _requirements(grid))
        # BERTopic clusters the documents with text (one with none is an outlier)
        _check_corpus_size(grid, len(corpus), sum(bool(t.strip()) for t in corpus.texts))
    _check_document_frequencies(grid, len(corpus))
    plan = plan_trials(grid)
    snapshots = (resolved_roots, cache_dir) if roots else None
    paths = {m: _model_path(grid, m, revision, _embedding_field(grid, plan, m), snapshots)
             for m, revision in sorted(_embedding_models(plan).items())}
    _check_token_windows(grid, plan, paths)
    inputs = CheckedInputs(corpus, truth, plan, paths, roots)
    return dataclasses.replace(inputs, advice=_advice(grid, inputs))


def _advice(grid: Grid, inputs: CheckedInputs) -> tuple[str, ...]:
    """The grid's advice, computed once for the command; advice that fails to compute never
    refuses a grid (it informs)."""
    try:
        return tuple(advisories(grid, inputs))
    except Exception as err:  # noqa: BLE001
        log.warning("the grid's warnings were not computed: %s", err)
        return ()


def with_language(grid: Grid, language: str) -> Grid:
    """The grid with its dataset's language as the corpus is tokenised: set, or detected from
    the text when the grid leaves it out (tuner.data.corpus.detected_language). Every key,
    plan and logged parameter takes the language from here."""
    return dataclasses.replace(grid, dataset=dataclasses.replace(grid.dataset, language=language))


def _confined_files(grid: Grid, roots: tuple[str, ...]) -> Grid:
    """The grid with its dataset and ground truth read where they resolve, once checked against
    `roots` (the service checked them when the request came; they may have been replaced by a
    link since)."""
    if not roots:
        return grid
    dataset = dataclasses.replace(grid.dataset,
                                  path=confined(grid.dataset.path, roots, "dataset.path"))
    truth = confined(grid.ground_truth, roots, "ground_truth") if grid.ground_truth else None
    return dataclasses.replace(grid, dataset=dataset, ground_truth=truth)


def _model_path(grid: Grid, model: str, revision: str | None, field: str = "embedding.model",
                snapshots: tuple[tuple[Path, ...], Path | None] | None = None) -> Path:
    """The embedding model's local folder; its problems name the grid file and the field, as
    every other validation error does. With `snapshots` (a served sweep's resolved data roots
    and cache folder), a folder named by path is its snapshot in the cache, read under the
    roots (an id's folder is in the server's Hugging Face cache, not the data)."""
    try:
        if snapshots is not None and Path(model).is_absolute():
            roots, cache_dir = snapshots
            if cache_dir is None:
                raise ValueError("a served sweep's model folder needs a cache to be copied to")
            # nothing is read by the folder's path but through snapshot_model's checked walk
            # (a shape judged by its path first said what a swapped-in link led to: review)
            refuse_folder_revision(model, revision)
            return checked_model_folder(snapshot_model(Path(model), roots, cache_dir, field),
                                        model)
        return resolve_model_path(model, revision, served=snapshots is not None)
    except EmbeddingModelError as err:
        named = "" if str(err).startswith("embedding.") else f"{field}: "
        raise EmbeddingModelError(f"{grid.path}: {named}{err}") from err


def unloadable_embedding_models(grid: Grid) -> list[str]:
    """Why the grid's embedding models cannot load here, as `validate` says it; asked only
    offline, where loading downloads nothing (online, the first run downloads them)."""
    if not offline():
        return []
    plan = plan_trials(grid)
    problems = []
    for model, revision in sorted(_embedding_models(plan).items()):
        try:
            _model_path(grid, model, revision, _embedding_field(grid, plan, model))
        except EmbeddingModelError as err:
            problems.append(str(err))
    return problems


def _embedding_models(plan: Sequence[PlannedTrial]) -> dict[str, str | None]:
    """The embedding models the planned trials need, each with the revision asked for."""
    return {p.embedding.model: p.embedding.revision for p in plan if p.embedding is not None}


def _embedding_field(grid: Grid, plan: Sequence[PlannedTrial], model: str) -> str:
    """Where embedding model `model` comes from, as an error names it: the grid's
    embedding.model, or, where the grid names none, the models whose own default it is (THETA's
    follows its model_size)."""
    if grid.names_embedding_model:
        return "embedding.model"
    users = sorted({p.model for p in plan if p.embedding is not None
                    and p.embedding.model == model})
    return (f"embedding.model (not set: the default of {' and '.join(users)}, which "
            f"name{'s' * (len(users) == 1)} '{model}')")


def _check_token_windows(grid: Grid, plan: Sequence[PlannedTrial], paths: dict[str, Path]
                         ) -> None:
    """An embedding.max_length above what the model reads failed in the first trial, inside the
    model ("The size of tensor a (4096) must match the size of tensor b (512)")."""
    problems = []
    for model, window in sorted({(p.embedding.model, p.embedding.max_length)
                                 for p in plan if p.embedding is not None}):
        limit = token_limit(paths[model])
        if limit is not None and window > limit:
            problems.append(f"{grid.path}: embedding.max_length: {window} is more than "
                            f"'{model}' reads; allowed: 8 to {limit} tokens for this model")
    if problems:
        raise GridError(problems)


def _largest_cluster_size(sweep: ModelSweep) -> int:
    """The min_cluster_size HDBSCAN is given in the sweep's trials that all fail when over half
    the documents: a list's largest value (trials of its own), a range's smallest (a search
    may stay under its top), a random search's largest draw with HDBSCAN; 0 when none."""
    if sweep.sampled:
        default = sweep.schema.get("clustering")
        return max((int(c.get("min_cluster_size") or 0) for c in sweep.sampled
                    if c.get("clustering", default.default if default else "hdbscan")
                    == "hdbscan"), default=0)
    sizes = [int(v) for v in sweep.values_of("min_cluster_size") if v]
    return (min if isinstance(sweep.space.get("min_cluster_size"), Range) else max)(
        sizes, default=0)


def _check_corpus_size(grid: Grid, documents: int, clustered: int) -> None:
    """Settings that need more documents than the corpus has, refused before any trial: else
    they fail in the trial with scikit-learn's words ("n_samples=12 should be >= n_clusters=30")
    or the trainer's. Read from each model's space, which a TPE search's
    plan (cache probes only) does not show. `clustered`: the documents with text."""
    problems = []
    for sweep in grid.sweeps:
        topics = max((int(v or 0) for v in sweep.values_of("num_topics")), default=0)
        if _may_take(sweep, "clustering", "kmeans") and topics > documents:
            where = param_field(grid, sweep, "num_topics", topics)
            problems.append(f"{grid.path}: {where}: {sweep.model} with k-means makes {topics} "
                            f"clusters of {documents} documents; allowed: up to {documents}")
        size = _largest_cluster_size(sweep)
        if _may_take(sweep, "clustering", "hdbscan") and 2 * size > clustered:
            # HDBSCAN never returns the whole as one cluster: every document an outlier
            where = param_field(grid, sweep, "min_cluster_size", size)
            problems.append(f"{grid.path}: {where}: {sweep.model}'s HDBSCAN finds clusters of "
                            f"{size} documents or more, and needs two of them: the "
                            f"{clustered} documents{' with text' * (clustered < documents)} "
                            "hold one at most, so every document would be an outlier; allowed: "
                            f"up to {clustered // 2}")
        for rule in sweep.values_of("time_slices"):
            if isinstance(rule, str) and rule.startswith("bins:") and int(rule[5:]) > documents:
                where = param_field(grid, sweep, "time_slices", rule)
                problems.append(f"{grid.path}: {where}: '{rule}' makes more slices than the "
                                f"{documents} documents; allowed: bins:2 to bins:{documents}")
    if problems:
        raise GridError(list(dict.fromkeys(problems)))


def _check_document_frequencies(grid: Grid, documents: int) -> None:
    """A word is kept when min_df <= its document frequency <= max_df x documents: with min_df
    above that ceiling no word can be, and every trial would fail on an empty vocabulary."""
    settings = grid.preprocessing
    ceiling = settings.max_df * documents
    if settings.min_df > ceiling:
        raise DataError(f"{grid.path}: preprocessing.min_df: {settings.min_df} documents is more "
                        f"than max_df {settings.max_df:g} of the corpus's {documents} documents "
                        f"allows ({ceiling:g}), so no word can be kept; lower min_df or raise "
                        "max_df")


def _may_take(sweep: ModelSweep, param: str, value: Any) -> bool:
    """Whether some trial of the sweep may have `param` = `value` (the schema's default when
    unset): a random search's drawn values, a range that holds it, a list that names it."""
    found = sweep.schema.get(param)
    default = found.default if found is not None else None
    if sweep.sampled:
        return any(combo.get(param, default) == value for combo in sweep.sampled)
    values = sweep.space.get(param)
    if values is None:
        return default == value
    if isinstance(values, Range):
        return isinstance(value, (int, float)) and values.low <= value <= values.high
    return value in values


def _requirements(grid: Grid) -> dict[str, list[str]]:
    """Need (labels, timestamps, ...) -> the grid's models that have it, as a message names
    them."""
    requirements: dict[str, list[str]] = {}
    for sweep in grid.sweeps:
        trainer = load_trainer(sweep.model)
        for need in trainer.requires:
            requirements.setdefault(need, []).append(sweep.model)
        for need, (param, value) in trainer.requires_when.items():
            if _may_take(sweep, param, value):
                requirements.setdefault(need, []).append(f"{sweep.model} with {param}={value}")
    return requirements


def _refuse_truth_objectives(grid: Grid, truth: GroundTruth | None) -> None:
    """A search or ranking by a metric scored against labels (ARI, F1...) on a dataset without
    any is refused, or every trial runs, the pruner and TPE are told nothing, and the board
    ranks nothing."""
    from tuner.metrics import METRICS

    if truth is not None:
        return
    search = grid.raw.get("search")
    searched = "search.metrics" if isinstance(search, dict) and search.get("metrics") \
        is not None else "search.metric"
    named: dict[str, list[str | None]] = {"leaderboard_metric": [grid.leaderboard_metric],
                                          searched: list(grid.search.metrics)}
    problems = [f"{grid.path}: {field}: {metric} is scored against the documents' labels, and "
                "the dataset has none (dataset.label_field and ground_truth are not set): set "
                "one, or rank by a metric of the topics alone (npmi, diversity)"
                for field, metrics in named.items() for metric in dict.fromkeys(metrics)
                if metric in METRICS and METRICS[metric].needs == "ground_truth"]
    if problems:
        raise GridError(problems)


def refuse_one_class(grid: Grid, truth: GroundTruth | None) -> None:
    """One class against one cluster is a perfect ARI, NMI and F1: collapsed fits would top the
    leaderboard, and a model that found clusters would score 0."""
    if truth is None:
        return
    classes = len(set(truth.labels[truth.covered].tolist()))
    if classes >= 2:
        return
    where = f"{grid.ground_truth}: ground_truth" if grid.ground_truth is not None else \
        f"{grid.dataset.path}: dataset.label_field '{grid.dataset.label_field}'"
    found = "covers no document of the corpus" if classes == 0 else \
        "puts every scored document in one class"
    raise DataError(f"{where}: {found}, and ARI, NMI and F1 need two classes or more to mean "
                    "anything; set \"label_field\": null (or drop ground_truth) to sweep "
                    "without one")


def _ground_truth(grid: Grid, corpus: Corpus, roots: tuple[Path, ...] = ()
                  ) -> GroundTruth | None:
    if grid.ground_truth is not None:
        return load_ground_truth(grid.ground_truth, corpus, roots)
    if corpus.labels is not None:
        if not any(corpus.labels):
            raise DataError(f"{corpus.source}: dataset.label_field '{grid.dataset.label_field}': "
                            "no document has a label (every value is empty or null), so ARI "
                            "and F1 have nothing to score; set \"label_field\": null to sweep "
                            "without a ground truth")
        return ground_truth_from_labels(corpus.labels, f"{corpus.source}#"
                                        f"{grid.dataset.label_field}")
    return None


def _check_requirements(grid: Grid, corpus: Corpus, truth: GroundTruth | None,
                        requirements: Mapping[str, list[str]]) -> None:
    if "timestamps" in requirements and corpus.timestamps is None:
        raise DataError(f"{grid.path}: dataset.timestamp_field: "
                        f"{', '.join(requirements['timestamps'])} needs timestamps (ISO dates "
                        "YYYY-MM-DD or YYYYMMDD, date-times, YYYY-MM or years); name the field "
                        "that holds them, or "
                        "remove the model from the grid")
    if "timestamps" in requirements and corpus.timestamps is not None:
        parse_timestamps(corpus.timestamps, corpus.ids, corpus.source,
                         grid.dataset.timestamp_field)
    if "labels" in requirements and truth is None:
        raise DataError(f"{grid.path}: {', '.join(requirements['labels'])} needs labels; set "
                        "dataset.label_field or ground_truth")
    if "labels" in requirements and truth is not None and not _has_pairs(truth):
        # Supervised contrastive training learns from documents of one class: with none, the
        # adapter stays at its random start and is cached as "supervised".
        raise DataError(f"{grid.path}: {', '.join(requirements['labels'])} needs two labelled "
                        "documents of one class at least; every class here has one")


def _has_pairs(truth: GroundTruth) -> bool:
    """Whether some class holds two or more documents."""
    counts = np.bincount(truth.labels[truth.covered]) if truth.covered.any() else np.zeros(1)
    return bool((counts >= 2).any())


def precompute(grid: Grid, inputs: CheckedInputs, cache_dir: Path, progress: bool = True,
               between_batches: Callable[[], None] | None = None,
               threads: int | None = None) -> PreparedSweep:
    """Build (or reuse) every bag of words, co-occurrence table and embedding, then the trials:
    `threads`, each worker's native threads, joins the keys of the models whose fits move with
    it (see fitting.fit_code; None leaves it out, for trials no pool runs).
    `between_batches` is called between embedding batches, every 1,000 documents tokenised and
    between co-occurrence chunks, and may raise to stop (tuner serve's cancel: a sweep cancelled
    while it embeds would otherwise run its embedding to the end, 80 s);
    nothing half-computed is cached."""
    check_cache_writable(cache_dir)
    grid = with_language(grid, inputs.corpus.language)
    events: dict[str, str] = {}
    advice: list[str] = []
    bags = _bags_of_words(grid, inputs, cache_dir, events, advice, between_batches)
    keys = {spec: _embedding(spec, inputs, cache_dir, events, progress, between_batches)
            for spec in inputs.embeddings}
    factory = TrialFactory(grid, inputs, cache_dir, bags, keys, threads)
    made = [] if grid.search.strategy == "tpe" else \
        [factory.make(p.model, p.combo, seed) for p in inputs.plan for seed in grid.seeds]
    unique: dict[str, TrialSpec] = {}
    for trial in made:
        unique.setdefault(trial.key, trial)  # equivalent combinations run once, as the first
    trials = list(unique.values())
    if len(trials) < len(made):
        events["equivalent_trials_merged"] = str(len(made) - len(trials))
    return PreparedSweep(grid, inputs, trials, list(keys.values()), events, factory, advice)


class TrialFactory:
    """Makes the TrialSpec of any (model, combination, seed) whose caches are built."""

    def __init__(self, grid: Grid, inputs: CheckedInputs, cache_dir: Path, bags: BagsOfWords,
                 keys: dict[EmbeddingSpec, EmbeddingKey], threads: int | None = None) -> None:
        self.grid, self.inputs, self.cache_dir = grid, inputs, cache_dir
        self.bags, self.keys, self.threads = bags, keys, threads
        self.context = sweep_context(grid, inputs)
        self.count = 0

    def make(self, model: str, combo: dict[str, Any], seed: int) -> TrialSpec:
        planned = self._every_word_as_its_count(planned_trial(self.grid, model, combo))
        key = self.keys[planned.embedding] if planned.embedding else None
        encoder = EncoderSource.of(planned.embedding,
                                   self.inputs.model_paths[planned.embedding.model], key) \
            if planned.embedding and key else None
        data = _data_ref(self.grid, self.inputs, self.cache_dir,
                         str(self.bags.paths[planned.bow_choice]), key, encoder, self.context)
        params = _seeded(planned, seed)
        reads = fit_inputs(model, params)
        data = dataclasses.replace(data, inputs={name: digest for name, digest
                                                 in self.inputs.input_digests.items()
                                                 if name in reads})
        metrics = self.grid.metrics
        revision = trainer_revision(model)
        code = fit_code(model, self.threads)
        trainer = load_trainer(model)
        fit = fit_key(model, params, seed if trainer.uses_seed(params) else None, data,
                      revision, code)  # a fit that reads no seed is one trial, as the first seed
        seed_param = trainer.seed_param  # set by the grid or not, it varies by seed
        shared = {k: v for k, v in planned.params.items() if k != seed_param}
        spec = TrialSpec(model, params, seed, data, metrics, self.grid.experiment,
                         score_key(fit, data, metrics), self.count, revision, fit,
                         config_key(model, shared, data, metrics, revision, code), code=code)
        self.count += 1
        return spec

    def _every_word_as_its_count(self, planned: PlannedTrial) -> PlannedTrial:
        """A vocab_size at or above the N words the preprocessing leaves is the trial of
        vocab_size N (run once): its parameters say N."""
        size = self.bags.size_for(*planned.bow_choice)
        if size == planned.vocab_size or "vocab_size" not in planned.params:
            return planned
        return dataclasses.replace(planned, params={**planned.params, "vocab_size": size})


def _seeded(planned: PlannedTrial, seed: int) -> dict[str, Any]:
    """A model's own `random_state` follows the trial seed unless the grid sets it, so a grid's
    seeds really repeat BERTopic with different UMAP seeds (and the run logs the value used)."""
    seed_param = load_trainer(planned.model).seed_param
    if seed_param is not None and seed_param not in planned.combo:
        return {**planned.params, seed_param: seed}
    return planned.params


@dataclass(frozen=True)
class BagsOfWords:
    """Where each (vocabulary size, language) of the plan has its bag of words, and the sizes
    that name the same words: every size at or above the N words the preprocessing leaves keeps
    them all, so such a size stands for N (its trials are vocab_size N's)."""

    paths: dict[tuple[int, str], Path]
    same_as: dict[tuple[int, str], int] = field(default_factory=dict)

    def size_for(self, size: int, language: str) -> int:
        return self.same_as.get((size, language), size)


def _bags_of_words(grid: Grid, inputs: CheckedInputs, cache_dir: Path,
                   events: dict[str, str], advice: list[str],
                   stop_check: Callable[[], None] | None = None) -> BagsOfWords:
    """One bag of words per (vocabulary size, language) the plan needs, and its co-occurrence
    counts; a model whose language parameter differs from dataset.language gets the corpus tokenised
    its way. Every size at or above the N words the preprocessing leaves is the bag of N
    (BowCache.get_or_compute), and its trials say vocab_size N: 10000 and 20000 on 2,702 words are
    one trial, in one sweep or across sweeps (else 19000 after a sweep at 20000 builds the bag again
    and runs the same trial again). `events` gets each bag's figures, `advice` what they say is
    wrong."""
    cache = BowCache(cache_dir)
    tokenised = _Tokenised(grid.preprocessing, stop_check)
    paths: dict[tuple[int, str], Path] = {}
    same_as: dict[tuple[int, str], int] = {}
    built: list[tuple[tuple[int, str], BagOfWords, str]] = []
    for size, language in sorted({p.bow_choice for p in inputs.plan},
                                 key=lambda choice: (choice[1], choice[0])):
        label = f"vocab_size={size}" + ("" if language == inputs.corpus.language
                                        else f",language={language}")
        corpus = inputs.corpus if language == inputs.corpus.language else \
            dataclasses.replace(inputs.corpus, language=language)
        bow, state = _bag(cache, corpus, size, grid.preprocessing, tokenised)
        words = len(bow.vocab)
        paths[(size, language)] = paths[(words, language)] = cache.root / bow.key
        if words < size:
            same_as[(size, language)] = words
        if any(seen.key == bow.key for _, seen, _ in built):  # a smaller size's bag of N
            events[f"bow[{label}]"] = (f"same words as vocab_size={words} (the {words} the "
                                       "preprocessing leaves)")
            continue
        every = f"; every word the preprocessing leaves: vocab_size={words}" \
            if words < size else ""
        events[f"bow[{label}]"] = f"{state} ({bag_figures(bow)}){every}"
        built.append(((size, language), bow, label))
        _count_cooccurrence(cache, bow, grid, functools.partial(tokenised.of, corpus),
                            stop_check)
    for choice, bow, label in built:  # with the sizes merged into each bag
        users = [p for p in inputs.plan if paths[p.bow_choice] == paths[choice]]
        advice += bag_advice(grid, bow, users, choice[1], label)
    return BagsOfWords(paths, same_as)


@dataclass
class _Tokenised:
    """Each language's corpus tokenised once, for every vocabulary size and the co-occurrence
    counts, and only when a cache misses."""

    settings: Preprocessing
    stop_check: Callable[[], None] | None = None
    counts: dict[str, TokenCounts] = field(default_factory=dict)

    def of(self, corpus: Corpus) -> TokenCounts:
        if corpus.language not in self.counts:
            self.counts[corpus.language] = count_tokens(corpus, self.settings, self.stop_check)
        return self.counts[corpus.language]


def _bag(cache: BowCache, corpus: Corpus, size: int, settings: Preprocessing,
         tokenised: _Tokenised) -> tuple[BagOfWords, str]:
    """The bag of words of `corpus` at `size`, and "hit" or what made it computed (why the
    cache missed)."""
    misses: list[str | None] = []

    def missed() -> TokenCounts:
        misses.append(cache.miss_reason(corpus, size, settings))
        return tokenised.of(corpus)

    bow = cache.get_or_compute(corpus, size, settings, missed)
    return bow, _computed(misses[0]) if misses else "hit"


def _count_cooccurrence(cache: BowCache, bow: BagOfWords, grid: Grid,
                        counted: Callable[[], TokenCounts],
                        stop_check: Callable[[], None] | None = None) -> None:
    """The co-occurrence counts NPMI reads, on disk beside `bow`; over every kept token (the
    "preprocessed" reference) they need the corpus tokenised, which a warm cache skips."""
    CooccurrenceCache(cache).get_or_compute(
        bow, grid.metrics.npmi_window, grid.metrics.npmi_reference,
        lambda: counted().kept_stream(bow.vocab, bow.key, grid.preprocessing), stop_check)


def embedding_key(spec: EmbeddingSpec, model_path: Path, corpus: Corpus,
                  cache_dir: Path | None = None) -> EmbeddingKey:
    """What the corpus's embeddings depend on: the model's content (and the Hub revision the
    grid asked for), the encoding settings and the dtype this machine encodes in."""
    content = (snapshot_revision(model_path, cache_dir) if cache_dir else None) \
        or model_revision(model_path, cache_dir / MODEL_HASHES if cache_dir else None)
    revision = f"{spec.revision}@{content}" if spec.revision else content
    model = MINILM_IDS[0] if spec.model in MINILM_IDS else spec.model  # one model, two names
    return EmbeddingKey(model, revision, spec.pooling, spec.max_length, spec.text_variant,
                        corpus.texts_sha256(), encoding_dtype(), spec.batch_size,
                        encoder_libraries(), long_documents(spec, model_path, corpus.texts))


def long_documents(spec: EmbeddingSpec, model_path: Path, texts: Sequence[str]) -> str:
    """`spec.long_documents`, with auto resolved (windows_or_start) on the documents
    validation counts, with the model's own tokenizer."""
    if spec.long_documents != "auto":
        return spec.long_documents
    counts = model_token_counts(model_path, sample_documents(texts))
    lengths = [tokens for tokens, _ in counts] if counts else None
    return windows_or_start("auto", lengths, spec.max_length,
                            unknown_share(counts) if counts else 0.0)


MODEL_HASHES = Path("models") / "file-hashes.json"  # model_revision's memo, in the cache


def _embedding(spec: EmbeddingSpec, inputs: CheckedInputs, cache_dir: Path,
               events: dict[str, str], progress: bool,
               between_batches: Callable[[], None] | None = None) -> EmbeddingKey:
    model_path = inputs.model_paths[spec.model]  # a served sweep's: its snapshot
    key = embedding_key(spec, model_path, inputs.corpus, cache_dir)
    cache = EmbeddingCache(cache_dir)
    texts = inputs.corpus.texts
    missed: list[str | None] = []  # why, once this process computes it under the lock

    def compute() -> NDArray[np.float32]:
        # read under the cache's lock, or a sweep that waited for another to compute the matrix
        # says `computed`
        missed.append(cache.miss_reason(key))
        return encode_texts(model_path, texts, spec.pooling, spec.max_length, spec.batch_size,
                            progress=progress, long_documents=key.long_documents,
                            between_batches=between_batches)

    cache.get_or_compute(key, compute)
    state = _computed(missed[0]) if missed else "hit"
    events[f"embeddings[{spec.model},{spec.pooling},{key.long_documents}]"] = state
    return key


def _computed(change: str | None) -> str:
    """A cache miss's event: with what changed since the nearest cached entry, if any."""
    return "computed" if change is None else f"computed, {change}"


def sweep_context(grid: Grid, inputs: CheckedInputs) -> str:
    """The data the grid's trials are judged on (tuner.trial.data_context)."""
    # The preprocessing as the bags of words are keyed (the stop list resolved), so two grids
    # whose trial keys agree always share a context.
    preprocessing = grid.preprocessing.key(inputs.corpus.sha256, inputs.corpus.language, 0)
    return data_context(inputs.corpus.sha256,
                        inputs.truth.sha256 if inputs.truth is not None else None,
                        preprocessing, grid.metrics)


def _data_ref(grid: Grid, inputs: CheckedInputs, cache_dir: Path, bow_path: str,
              key: EmbeddingKey | None, encoder: EncoderSource | None, context: str) -> DataRef:
    dataset = grid.dataset
    return DataRef(
        corpus_path=str(dataset.path), corpus_sha256=inputs.corpus.sha256,
        language=inputs.corpus.language, bow_path=bow_path,
        embedding_path=str(EmbeddingCache(cache_dir).path_for(key)) if key else None,
        embedding_key=key.digest if key else None,
        ground_truth_path=str(grid.ground_truth) if grid.ground_truth else None,
        label_field=dataset.label_field, cache_dir=str(Path(cache_dir).resolve()),
        truth_sha256=inputs.truth.sha256 if inputs.truth is not None else None,
        dataset={"text_field": dataset.text_field, "id_field": dataset.id_field,
                 "label_field": dataset.label_field, "timestamp_field": dataset.timestamp_field,
                 "language": inputs.corpus.language, "covariates": list(dataset.covariates)},
        encoder=asdict(encoder) if encoder else None, context=context, roots=inputs.roots)
