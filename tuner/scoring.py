"""`tuner score`: score topics and assignments made elsewhere with the sweep's own metrics.

The topics file is JSON: a list of ranked word lists, or an object topic id -> ranked word list.
The optional assignments file is CSV with a header `id,topic` (or `doc_id,topic`, as a trial's
assignments.csv artifact has it): every document of the dataset by its id field, and the topic id
it belongs to (-1 = outlier). The grid gives the dataset, the
ground truth, the preprocessing, the metric settings and the vocabulary size (its models' first
`vocab_size`), so the scores come from the same cached bag of words and co-occurrence counts as
the sweep's trials. Logged, the scores become a finished trial run of the grid's experiment,
tagged `tuner.model = external:<name>`, so the external model sits on the same leaderboard.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tuner.data.cooccurrence import CooccurrenceCache
from tuner.data.ground_truth import GroundTruth, as_mapping
from tuner.data.store import key_digest
from tuner.data.vocab import BagOfWords, BowCache, Preprocessing, count_tokens, topic_word_token
from tuner.errors import DataError
from tuner.grid import Grid, load_grid
from tuner.metrics import MetricReference, evaluate
from tuner.metrics.coherence import npmi_per_topic
from tuner.output import TopicModelOutput
from tuner.reporting.health import SHORT_TOPICS
from tuner.tracking.tags import CONTEXT_TAG
from tuner.trial import (
    EXTERNAL_SCORING_REVISION,
    DataRef,
    TrialRecord,
    TrialSpec,
    TrialStatus,
    scoring_revision,
)

DEFAULT_VOCAB_SIZE = 5000
OUTLIER = "-1"


@dataclass(frozen=True)
class ExternalTopics:
    """Topics read from a file: their ids as the file names them, and their ranked words."""

    ids: list[str]
    words: list[list[str]]


@dataclass(frozen=True)
class Score:
    """What `score_external` computed, and what logging it needs."""

    metrics: dict[str, float]
    topic_npmi: list[float]
    output: TopicModelOutput
    spec: TrialSpec
    doc_ids: tuple[str, ...]
    unscored: dict[str, list[str]]  # topic id -> its top words NPMI skipped (not in the vocabulary)
    not_computed: dict[str, str]  # metric -> why these topics have no value for it
    earlier_key: str = ""  # the key as tuner wrote it before the context was in it
    merged: tuple[str, ...] = ()  # words of one topic read as one token (as_tokens)
    truth: GroundTruth | None = None  # the labels the assignments were scored against
    npmi_left_out: tuple[str, ...] = ()  # topics with under 2 words NPMI can score, left out


def load_topics(path: Path) -> ExternalTopics:
    """Read and check a topics JSON file. Raises DataError naming the file and the field."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise DataError(f"{path}: topics file not found") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid UTF-8 JSON ({err})") from err
    except RecursionError as err:
        raise DataError(f"{path}: not usable JSON: nested too deeply") from err
    except ValueError as err:  # an integer past Python's 4,300-digit limit
        raise DataError(f"{path}: not usable JSON: a number has too many digits") from err
    if isinstance(raw, list):
        items = [(str(i), words) for i, words in enumerate(raw)]
    elif isinstance(raw, dict):
        items = [(str(key), words) for key, words in raw.items()]
    else:
        raise DataError(f"{path}: expects a list of word lists or an object topic id -> word "
                        f"list; got {type(raw).__name__}")
    if not items:
        raise DataError(f"{path}: expects at least one topic; got none")
    for topic, words in items:
        if (not isinstance(words, list) or not words
                or not all(isinstance(w, str) and w for w in words)):
            raise DataError(f"{path}: topic {topic}: expects a non-empty list of words (strings), "
                            f"best first; got {str(words)[:80]}")
        repeated = sorted({w for w in words if words.count(w) > 1})
        if repeated:  # a word paired with itself scores NPMI 1 and would inflate the topic
            raise DataError(f"{path}: topic {topic}: expects each word once; repeated: "
                            f"{', '.join(repeated[:5])}")
    if OUTLIER in {topic for topic, _ in items}:
        raise DataError(f"{path}: topic id -1 is reserved for outliers; rename that topic")
    return ExternalTopics([t for t, _ in items], [list(w) for _, w in items])


def load_assignments(path: Path, doc_ids: Sequence[str],
                     topic_ids: Sequence[str]) -> NDArray[np.int64]:
    """Read an `id,topic` CSV into one topic index per document (-1 = outlier)."""
    position = {topic: i for i, topic in enumerate(topic_ids)} | {OUTLIER: -1}
    try:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError as err:
        raise DataError(f"{path}: assignments file not found") from err
    id_column = next((c for c in ("id", "doc_id") if rows and c in rows[0]), None)
    if id_column is None or "topic" not in rows[0]:
        raise DataError(f"{path}: expects a CSV with header columns id,topic and one row per "
                        "document")
    found: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        topic = (row["topic"] or "").strip()
        if topic not in position:
            raise DataError(f"{path}: line {line}: topic: expects -1 or a topic id of the topics "
                            f"file ({', '.join(list(topic_ids)[:10])}...); got {topic!r}")
        doc = (row[id_column] or "").strip()
        if doc in found:
            raise DataError(f"{path}: line {line}: {id_column}: expects every document id once; "
                            f"{doc!r} is listed again")
        found[doc] = position[topic]
    missing = [d for d in doc_ids if d not in found]
    unknown = sorted(set(found) - set(doc_ids))
    if missing or unknown:
        found_problems = [f"{len(ids)} {what} (first: {ids[:3]})"
                          for ids, what in ((missing, "missing"), (unknown, "not in the dataset"))
                          if ids]
        raise DataError(f"{path}: {id_column}: expects every document id of the dataset exactly "
                        f"once; {', '.join(found_problems)}")
    return np.array([found[d] for d in doc_ids], dtype=np.int64)


def grid_vocab_size(grid: Grid) -> int:
    """The first `vocab_size` the grid's models would use (defaults filled in)."""
    for sweep in grid.sweeps:
        for combination in sweep.combinations or [{}]:
            size = sweep.schema.with_defaults(combination).get("vocab_size")
            if isinstance(size, int):
                return size
    return DEFAULT_VOCAB_SIZE


def score_external(grid_path: Path, topics_path: Path, assignments_path: Path | None,
                   cache_dir: Path, name: str, vocab_size: int | None = None) -> Score:
    """Score external topics (and assignments) against the grid's dataset."""
    from tuner.engine.sweep import check_inputs, refuse_one_class, sweep_context

    grid = load_grid(grid_path)
    inputs = check_inputs(grid, for_trials=False)
    if assignments_path is not None:  # ARI, NMI and F1 are scored
        refuse_one_class(grid, inputs.truth)
    topics, merged = as_tokens(load_topics(topics_path), grid.preprocessing,
                               inputs.corpus.language)
    size = vocab_size or grid_vocab_size(grid)
    bow_cache = BowCache(cache_dir)
    bow = bow_cache.get_or_compute(inputs.corpus, size, grid.preprocessing)
    counts = CooccurrenceCache(bow_cache).get_or_compute(
        bow, grid.metrics.npmi_window, grid.metrics.npmi_reference,
        lambda: count_tokens(inputs.corpus, grid.preprocessing).kept_stream(
            bow.vocab, bow.key, grid.preprocessing))
    doc_ids = tuple(str(d) for d in inputs.corpus.ids)
    if assignments_path is None:
        assignments = np.full(len(doc_ids), -1, dtype=np.int64)
    else:
        assignments = load_assignments(assignments_path, doc_ids, topics.ids)
    truth = inputs.truth.labels if inputs.truth is not None and assignments_path else None
    output = TopicModelOutput(topics.words, None, assignments)
    reference = MetricReference(counts, {w: i for i, w in enumerate(bow.vocab)}, truth,
                                grid.metrics)
    evaluation = evaluate(output, reference)
    metrics, not_computed = evaluation.metrics, dict(evaluation.not_computed)
    unscored = unscored_words(topics, reference.vocab_index, grid.metrics.topn)
    left_out = unscorable_topics(topics, unscored, grid.metrics.topn)
    if left_out and len(left_out) < len(topics.ids):
        _npmi_without(left_out, topics, reference, metrics, not_computed)
    if assignments_path is None:
        metrics.pop("outlier_share", None)  # no assignments: every document would count
        metrics.pop("topics_used", None)
        metrics.pop("effective_topics", None)
    metrics["num_topics_found"] = float(output.num_topics)
    short = sum(len(words) < grid.metrics.diversity_topn for words in output.topic_words)
    if short:  # marked on the leaderboard (tuner.reporting.health)
        metrics[SHORT_TOPICS] = float(short)
    truth_sha = inputs.truth.sha256 if truth is not None and inputs.truth is not None else None
    spec, earlier_key = _spec(grid, bow, bow_cache, inputs.corpus, name, topics, assignments,
                              truth_sha, sweep_context(grid, inputs))
    per_topic = [] if "npmi" in not_computed or left_out else \
        [float(x) for x in npmi_per_topic(output, reference)]
    return Score(metrics, per_topic, output, spec, doc_ids,
                 unscored, not_computed, earlier_key, merged,
                 inputs.truth if truth is not None else None, left_out)


def unscorable_topics(topics: ExternalTopics, unscored: Mapping[str, list[str]], topn: int
                      ) -> tuple[str, ...]:
    """The topics NPMI cannot score: fewer than 2 of their top `topn` words left once the
    `unscored` ones (unscored_words) are out, so no pair to score."""
    return tuple(topic for topic, words in zip(topics.ids, topics.words, strict=True)
                 if len(words[:topn]) - len(unscored.get(topic, [])) < 2)


def _npmi_without(left_out: tuple[str, ...], topics: ExternalTopics,
                  reference: MetricReference, metrics: dict[str, float],
                  not_computed: dict[str, str]) -> None:
    """NPMI, and TQ from it, over the topics it can score: otherwise one topic of stop words
    takes NPMI from every other, where the other topics are scored on the rest of their words.
    The topics left out are said (Score.npmi_left_out)."""
    from tuner.errors import MetricError
    from tuner.metrics.coherence import npmi_coherence

    kept = [words for topic, words in zip(topics.ids, topics.words, strict=True)
            if topic not in left_out]
    scorable = TopicModelOutput(kept, None, np.full(1, -1, dtype=np.int64))
    try:
        metrics["npmi"] = npmi_coherence(scorable, reference)
    except MetricError as err:  # another reason it cannot score them: said as before
        not_computed["npmi"] = str(err)
        return
    not_computed.pop("npmi", None)
    if "diversity" in metrics and "tq" in not_computed:
        metrics["tq"] = metrics["npmi"] * metrics["diversity"]
        not_computed.pop("tq")


def as_tokens(topics: ExternalTopics, settings: Preprocessing, language: str
              ) -> tuple[ExternalTopics, tuple[str, ...]]:
    """The topics' words as the grid's tokeniser writes its words (lower-cased where it
    lower-cases, without a hashtag's #), each once, in the file's order: otherwise another
    tool's "NBA", "iPhone" and "Trump" are left out of NPMI as words the vocabulary lacks. And
    `topic 3: '#科技#' and '科技'` for each group of a topic's words read as one word and
    counted once: said, so that the merge is not silent."""
    kept, merged = [], []
    for topic, words in zip(topics.ids, topics.words, strict=True):
        groups: dict[str, list[str]] = {}
        for word in words:
            groups.setdefault(topic_word_token(word, settings, language), []).append(word)
        kept.append(list(groups))
        merged += [f"topic {topic}: {' and '.join(repr(w) for w in group)}"
                   for group in groups.values() if len(group) > 1]
    return ExternalTopics(topics.ids, kept), tuple(merged)


def unscored_words(topics: ExternalTopics, vocab_index: dict[str, int], topn: int
                   ) -> dict[str, list[str]]:
    """Each topic's top `topn` words that NPMI cannot score: not in the grid's vocabulary
    (another tokenizer, a stop word, a word cut by vocab_size or max_df)."""
    missing = {topic: [w for w in words[:topn] if w not in vocab_index]
               for topic, words in zip(topics.ids, topics.words, strict=True)}
    return {topic: words for topic, words in missing.items() if words}


def _spec(grid: Grid, bow: BagOfWords, cache: BowCache, corpus: Any, name: str,
          topics: ExternalTopics, assignments: NDArray[np.int64],
          truth_sha256: str | None, context: str) -> tuple[TrialSpec, str]:
    """The spec of a scored set of topics, whose key holds all the scores depend on, the truth's
    partition and the scoring code's revision included (as a trial key does); and the key
    without the context, as it was before the context was in it."""
    data = DataRef(str(grid.dataset.path), corpus.sha256, corpus.language,
                   str(cache.root / bow.key), None, None,
                   str(grid.ground_truth) if grid.ground_truth else None,
                   grid.dataset.label_field, truth_sha256=truth_sha256, context=context)
    scored = {"external": name, "topics": topics.words, "ids": topics.ids,
              "assignments": assignments.tolist(), "corpus": corpus.sha256, "bow": bow.key,
              "metrics": asdict(grid.metrics), "truth": truth_sha256,
              "scoring": scoring_revision(truth_sha256),
              "external_scoring": EXTERNAL_SCORING_REVISION}
    # The context holds the labels too: without assignments truth_sha256 is None, and a scored
    # model would stay "already logged" under labels that have changed since.
    key = key_digest({**scored, "context": context})
    return TrialSpec(f"external:{name}", {"vocab_size": len(bow.vocab)}, 0, data, grid.metrics,
                     grid.experiment, key, config_key=key), key_digest(scored)


def log_score(score: Score, tracking_uri: str) -> tuple[str, bool]:
    """Log the score as a finished trial run (in a sweep run of its own); returns its run id and
    whether it is new. The same files scored on the same data are logged once: a second copy
    counted as a second seed of the configuration, with a standard deviation of 0."""
    from tuner.tracking.records import SCORED
    from tuner.tracking.tags import SOURCE_TAG
    from tuner.tracking.tracker import GROUND_TRUTH_FILE, MlflowTracker

    tracker = MlflowTracker(tracking_uri)
    experiment_id = tracker.experiment_id(score.spec.experiment)
    assert experiment_id is not None
    keys = [key for key in dict.fromkeys((score.spec.key, score.earlier_key)) if key]
    logged = tracker.finished_run_of(experiment_id, keys, score.spec.data.context)
    if logged is not None:
        return logged, False
    sweep = tracker.start_sweep(score.spec.experiment, {SOURCE_TAG: SCORED,
                                                        CONTEXT_TAG: score.spec.data.context},
                                {"model": score.spec.model}, score.doc_ids)
    if score.truth is not None:
        tracker.log_json(sweep.run_id, GROUND_TRUTH_FILE, as_mapping(score.truth, score.doc_ids))
    record = TrialRecord(score.spec, TrialStatus.COMPLETE, score.metrics,
                         score.output.topic_words, score.topic_npmi,
                         np.asarray(score.output.assignments).tolist(),
                         extras={"metrics_not_computed": score.not_computed}
                         if score.not_computed else {}, worker="tuner score")
    run_id = tracker.log_trial(sweep, record)
    tracker.end_sweep(sweep, "FINISHED", {})
    return run_id, True
