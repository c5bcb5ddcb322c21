"""Turn a validated grid into trials: check the data, then precompute every cache they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainers import load_trainer
from tuner.data.corpus import Corpus, load_corpus
from tuner.data.embeddings import EmbeddingCache, EmbeddingKey, encode_texts, model_revision, \
    resolve_model_path
from tuner.data.ground_truth import GroundTruth, ground_truth_from_labels, load_ground_truth
from tuner.data.vocab import BowCache, CooccurrenceCache, check_cache_writable, tokenize_corpus
from tuner.errors import DataError, GridError
from tuner.grid import Grid
from tuner.params import VOCAB_SIZE, ParamSchema

SEED_PARAM = "random_state"
from tuner.trial import DataRef, TrialSpec, trial_key


@dataclass(frozen=True)
class CheckedInputs:
    """Everything validated before any computation: corpus, truth and embedding model."""

    corpus: Corpus
    truth: GroundTruth | None
    embedding_path: Path | None
    needs_embeddings: bool


@dataclass(frozen=True)
class PreparedSweep:
    grid: Grid
    inputs: CheckedInputs
    trials: list[TrialSpec]
    embedding_key: EmbeddingKey | None
    cache_events: dict[str, str] = field(default_factory=dict)  # what was computed vs reused


def check_inputs(grid: Grid, max_trials: int | None = None) -> CheckedInputs:
    """Validate the dataset, ground truth, embedding model and trial count; compute nothing."""
    if grid.trial_count == 0:
        raise GridError([f"{grid.path}: the grid expands to zero trials"])
    if max_trials is not None and grid.trial_count > max_trials:
        raise GridError([f"{grid.path}: the grid expands to {grid.trial_count} trials, more than "
                         f"--max-trials {max_trials}; narrow the grid or raise --max-trials"])
    corpus = load_corpus(grid.dataset)
    truth = _ground_truth(grid, corpus)
    requirements = {r for s in grid.sweeps for r in load_trainer(s.model).requires}
    _check_requirements(grid, corpus, truth, requirements)
    needs_embeddings = "embeddings" in requirements
    embedding_path = resolve_model_path(grid.embedding.model) if needs_embeddings else None
    return CheckedInputs(corpus, truth, embedding_path, needs_embeddings)


def _ground_truth(grid: Grid, corpus: Corpus) -> GroundTruth | None:
    if grid.ground_truth is not None:
        return load_ground_truth(grid.ground_truth, corpus)
    if corpus.labels is not None:
        return ground_truth_from_labels(corpus.labels, f"{corpus.source}#"
                                        f"{grid.dataset.label_field}")
    return None


def _check_requirements(grid: Grid, corpus: Corpus, truth: GroundTruth | None,
                        requirements: set[str]) -> None:
    if "timestamps" in requirements and corpus.timestamps is None:
        raise DataError(f"{grid.path}: dataset.timestamp_field: a model in this grid needs "
                        "timestamps; name the field that holds them")
    if "labels" in requirements and truth is None:
        raise DataError(f"{grid.path}: a model in this grid needs labels; set "
                        "dataset.label_field or ground_truth")


def precompute(grid: Grid, inputs: CheckedInputs, cache_dir: Path,
               progress: bool = True) -> PreparedSweep:
    """Build (or reuse) every bag of words, co-occurrence table and embedding, then the trials."""
    check_cache_writable(cache_dir)
    events: dict[str, str] = {}
    bow_paths = _bags_of_words(grid, inputs.corpus, cache_dir, events)
    embedding_key = _embeddings(grid, inputs, cache_dir, events, progress)
    embedding_path = str(EmbeddingCache(cache_dir).path_for(embedding_key)) \
        if embedding_key else None
    trials = []
    for sweep in grid.sweeps:
        for combo in sweep.combinations:
            params = sweep.schema.with_defaults(combo)
            vocab_size = params.get("vocab_size", VOCAB_SIZE.default)
            data = _data_ref(grid, inputs, str(bow_paths[vocab_size]), embedding_path,
                             embedding_key)
            for seed in grid.seeds:
                seeded = _seeded(sweep.schema, combo, params, seed)
                key = trial_key(sweep.model, seeded, seed, data, grid.metrics)
                trials.append(TrialSpec(sweep.model, seeded, seed, data, grid.metrics,
                                        grid.experiment, key, len(trials)))
    return PreparedSweep(grid, inputs, trials, embedding_key, events)


def _seeded(schema: ParamSchema, combo: dict[str, object], params: dict[str, object],
            seed: int) -> dict[str, object]:
    """A model's own `random_state` follows the trial seed unless the grid sets it, so a grid's
    seeds really repeat BERTopic with different UMAP seeds (and the run logs the value used)."""
    if schema.get(SEED_PARAM) is not None and SEED_PARAM not in combo:
        return {**params, SEED_PARAM: seed}
    return params


def _vocab_sizes(grid: Grid) -> set[int]:
    sizes = set()
    for sweep in grid.sweeps:
        for combo in sweep.combinations:
            sizes.add(sweep.schema.with_defaults(combo).get("vocab_size", VOCAB_SIZE.default))
    return sizes


def _bags_of_words(grid: Grid, corpus: Corpus, cache_dir: Path,
                   events: dict[str, str]) -> dict[int, Path]:
    cache = BowCache(cache_dir)
    tokenized = None
    paths = {}
    for size in sorted(_vocab_sizes(grid)):
        folder = cache.path_for(corpus, size, grid.preprocessing)
        hit = cache.load(folder) is not None
        if not hit and tokenized is None:
            tokenized = tokenize_corpus(corpus, grid.preprocessing)
        bow = cache.get_or_compute(corpus, size, grid.preprocessing, tokenized)
        CooccurrenceCache(cache).get_or_compute(bow, grid.metrics.npmi_window)
        events[f"bow[vocab_size={size}]"] = "hit" if hit else "computed"
        paths[size] = folder
    return paths


def _embeddings(grid: Grid, inputs: CheckedInputs, cache_dir: Path, events: dict[str, str],
                progress: bool) -> EmbeddingKey | None:
    if not inputs.needs_embeddings or inputs.embedding_path is None:
        return None
    spec = grid.embedding
    key = EmbeddingKey(spec.model, spec.revision or model_revision(inputs.embedding_path),
                       spec.pooling, spec.max_length, spec.text_variant, inputs.corpus.sha256)
    cache = EmbeddingCache(cache_dir)
    hit = cache.load(key, verify=True) is not None
    model_path, texts = inputs.embedding_path, inputs.corpus.texts
    cache.get_or_compute(key, lambda: encode_texts(model_path, texts, spec.pooling,
                                                   spec.max_length, spec.batch_size,
                                                   progress=progress))
    events["embeddings"] = "hit" if hit else "computed"
    return key


def _data_ref(grid: Grid, inputs: CheckedInputs, bow_path: str, embedding_path: str | None,
              embedding_key: EmbeddingKey | None) -> DataRef:
    dataset = grid.dataset
    return DataRef(
        corpus_path=str(dataset.path), corpus_sha256=inputs.corpus.sha256,
        language=dataset.language, bow_path=bow_path, embedding_path=embedding_path,
        embedding_key=embedding_key.digest if embedding_key else None,
        ground_truth_path=str(grid.ground_truth) if grid.ground_truth else None,
        label_field=dataset.label_field,
        dataset={"text_field": dataset.text_field, "id_field": dataset.id_field,
                 "label_field": dataset.label_field, "timestamp_field": dataset.timestamp_field,
                 "language": dataset.language, "covariates": list(dataset.covariates)})
