"""A starter grid for a corpus (`tuner init`): which field holds the text, the ids, a label and
dates, found from the records; the language; and models and topic counts that suit the corpus.
What it found, and what it could not decide, is said beside the grid, never guessed silently."""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.data.corpus import LETTER, detected_language, level_text, read_records
from tuner.data.timestamps import parse_timestamp
from tuner.errors import DataError

# Field names that say what a field holds, most telling first (compared case-insensitively)
ID_NAMES = ("id", "doc_id", "docid", "document_id", "_id", "uuid", "guid", "key", "url")
LABEL_NAMES = ("label", "category", "class", "topic", "section", "newsgroup", "genre", "target",
               "tag", "group", "y")
DATE_NAMES = ("timestamp", "date", "published", "pub_date", "created", "created_at", "time",
              "datetime", "year")
SAMPLE = 2000  # records read to judge a field (an even sample): init stays quick on any corpus
MOST_CLASSES = 200  # a field with more values than this is no class label
SHORT_TOKENS = 30  # a median document of this many tokens or fewer is a short text (a headline,
# a post): BTM, made for short texts, replaces ProdLDA among the suggested models
SEEDS = [42, 43]  # two seeds: the leaderboard can then say when a lead is within seed noise


@dataclass
class Found:
    """The dataset fields found, the notes that explain them, and the figures models follow."""

    text: str
    id: str | None = None
    label: str | None = None
    classes: int = 0
    timestamp: str | None = None
    notes: list[str] = field(default_factory=list)


def starter_grid(path: Path, grid_folder: Path, models: Sequence[str] = (),
                 experiment: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The grid for the corpus at `path` (a file or folder any grid may name) as written to
    `grid_folder`, and the notes that say what was found. `models`: the models to sweep
    (default: chosen for the corpus's language and document length).

    Raises:
        DataError: the corpus cannot be read, is empty, or has no field that holds text.
    """
    records = read_records(path)
    if not records:
        raise DataError(f"{path}: the corpus is empty (no records)")
    found = found_fields(records, str(path))
    texts = [_text(r.get(found.text)) for r in records]
    language = detected_language(texts)
    short = _median_tokens(texts) <= SHORT_TOKENS
    chosen = list(models) or suggested_models(language, short)
    found.notes += _model_notes(language, short, chosen, found)
    grid: dict[str, Any] = {
        "experiment": experiment or _experiment_name(path),
        "dataset": {"path": _path_from(grid_folder, path),
                    "text_field": found.text, "id_field": found.id, "label_field": found.label,
                    "timestamp_field": found.timestamp, "language": language},
        "models": chosen,
        "params": {"num_topics": topic_counts(len(records), found.classes)},
        "seeds": SEEDS,
    }
    found.notes.insert(0, f"{len(records):,} documents, language {language} (detected), "
                          f"{'short' if short else 'long'} texts (median "
                          f"{_median_tokens(texts):,} tokens)")
    return grid, found.notes


def found_fields(records: Sequence[Mapping[str, Any]], where: str) -> Found:
    sample = records[::max(1, len(records) // SAMPLE)]
    names = _common_fields(sample)
    text = _text_field(sample, names, where)
    found = Found(text, notes=[f"text_field '{text}': the field with the longest values"])
    others = [n for n in names if n != text]
    found.id = _id_field(records, others)
    found.notes.append(f"id_field '{found.id}': a unique value per document" if found.id else
                       "id_field null: no field holds a unique value per document, so the "
                       "records are numbered 1, 2, ... in the file's order")
    _label_field(records, [n for n in others if n != found.id], found)
    found.timestamp = _date_field(records, [n for n in others if n not in (found.id, found.label)])
    if found.timestamp:
        found.notes.append(f"timestamp_field '{found.timestamp}': every value is a date; add "
                           "\"dtm\" to models to follow the topics over time")
    return found


def _common_fields(sample: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fields present in nine records out of ten or more, in the first record's order."""
    counts: dict[str, int] = {}
    for record in sample:
        for name in record:
            counts[name] = counts.get(name, 0) + 1
    return [name for name, count in counts.items() if 10 * count >= 9 * len(sample)]


def _text_field(sample: Sequence[Mapping[str, Any]], names: Sequence[str], where: str) -> str:
    lengths = {name: statistics.fmean(len(_text(r.get(name))) for r in sample) for name in names
               if sum(LETTER.search(_text(r.get(name))) is not None for r in sample) * 2
               > len(sample)}  # words, not numbers (a CSV's fields are all strings)
    if not lengths or max(lengths.values()) == 0:
        raise DataError(f"{where}: no field holds text in most records (fields: "
                        f"{', '.join(names) or 'none'}); a corpus needs one text per document")
    return max(lengths, key=lambda name: lengths[name])


def _id_field(records: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str | None:
    for name in _by_telling_name(names, ID_NAMES, also=_named_as_id):
        values = [_scalar_text(r.get(name)) for r in records]
        if all(values) and len(set(values)) == len(values):
            return name
    return None


def _named_as_id(name: str) -> bool:
    """doc_key_id, postId, ID: a name that ends in a word "id" (not paid, valid)."""
    return re.search(r"(?:^|[_\-\s.])id$", name, re.IGNORECASE) is not None or \
        name.endswith("Id")


def _label_field(records: Sequence[Mapping[str, Any]], names: Sequence[str],
                 found: Found) -> None:
    """A field named as labels are, holding from 2 to MOST_CLASSES classes, each of more than
    one document on average; fields that look like classes but are not so named are noted, not
    taken (ARI and F1 against a field that is no ground truth mean nothing)."""
    for name in _by_telling_name(names, LABEL_NAMES):
        classes = _classes(records, name)
        if 2 <= classes <= min(MOST_CLASSES, len(records) // 2):
            found.label, found.classes = name, classes
            found.notes.append(f"label_field '{name}': {classes} classes, the ground truth "
                               "that ARI, NMI and F1 score against")
            return
    maybe = [f"'{n}' ({c} values)" for n in names if n not in LABEL_NAMES
             and 2 <= (c := _classes(records, n)) <= min(MOST_CLASSES, len(records) // 2)]
    found.notes.append("label_field null: no field named as a label (label, category, class, "
                       "topic ...) holds from 2 to 200 classes; NPMI and diversity rank the "
                       "trials" + (f". Fields with few values: {', '.join(maybe[:5])}; set "
                                   "label_field to one if it is a ground truth" if maybe else ""))


def _classes(records: Sequence[Mapping[str, Any]], name: str) -> int:
    values = {_scalar_text(r.get(name)) for r in records}
    return 0 if None in values else len(values - {""})


def _date_field(records: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str | None:
    for name in _by_telling_name(names, DATE_NAMES):
        values = [_scalar_text(r.get(name)) for r in records]
        if all(v and parse_timestamp(v) is not None for v in values):
            return name
    return None


def _by_telling_name(names: Sequence[str], telling: Sequence[str],
                     also: Any = None) -> list[str]:
    """`names` that are one of `telling` (in its order, any case), then those `also` accepts."""
    lower = {name.lower(): name for name in names}
    named = [lower[t] for t in telling if t in lower]
    return named + [n for n in names if also is not None and n not in named and also(n)]


def _scalar_text(value: Any) -> str | None:
    """A field's value as text (1, 1.0 and "1" alike); None for a list or an object."""
    if isinstance(value, (dict, list, tuple)) or type(value).__name__ == "ndarray":
        return None
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return ""
    return level_text(value.strip() if isinstance(value, str) else value)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n\n".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _median_tokens(texts: Sequence[str]) -> int:
    from tuner.engine.advice import approximate_tokens

    sample = texts[::max(1, len(texts) // SAMPLE)]
    return int(statistics.median(approximate_tokens(t) for t in sample))


def suggested_models(language: str, short: bool) -> list[str]:
    """LDA (the reference), a neural model (ProdLDA; BTM for short texts, which it is made for)
    and, in English, BERTopic on the offline MiniLM embeddings."""
    models = ["lda", "btm" if short else "prodlda"]
    return models + (["bertopic"] if language == "en" else [])


def _model_notes(language: str, short: bool, chosen: Sequence[str], found: Found) -> list[str]:
    notes = [f"models {', '.join(chosen)}: `tuner params MODEL` lists what else each takes; "
             "THETA, CTM, ETM, NVDM, GSM, HDP, STM and DTM are there too"]
    if language == "zh" and "bertopic" not in chosen:
        notes.append("BERTopic and THETA embed the documents: for Chinese give them a "
                     "multilingual embedding model (embedding.model, e.g. "
                     "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2 or "
                     "Qwen/Qwen3-Embedding-0.6B); the default MiniLM reads English only")
    if found.classes:
        notes.append(f"num_topics around the {found.classes} classes")
    return notes


def topic_counts(documents: int, classes: int) -> list[int]:
    """Topic counts to sweep: around the number of classes when there is a label, else by the
    corpus's size; within 5 to 100, which every model takes."""
    if classes:
        wanted = [classes, 2 * classes]
    elif documents < 1000:
        wanted = [5, 10]
    elif documents < 20000:
        wanted = [10, 20]
    else:
        wanted = [20, 50]
    return sorted({min(100, max(5, k)) for k in wanted})


def _path_from(grid_folder: Path, path: Path) -> str:
    """The corpus's path as the grid names it: relative to the grid's folder when the two share
    a folder below the file system's root (the grid and its data move together), else
    absolute."""
    target, folder = path.resolve(), grid_folder.resolve()
    if Path(os.path.commonpath([target, folder])) == Path(target.anchor):
        return str(target)
    return os.path.relpath(target, folder)


GENERIC_STEMS = ("corpus", "data", "dataset", "documents", "docs", "texts", "train", "test", "all")


def _experiment_name(path: Path) -> str:
    """The corpus's file or folder name; a file with a generic name (corpus.jsonl, as in the
    bundled datasets) is named by its folder."""
    resolved = path.resolve()
    name = resolved.stem if resolved.is_file() else resolved.name
    if resolved.is_file() and name.lower() in GENERIC_STEMS and resolved.parent.name:
        name = resolved.parent.name
    return re.sub(r"[^\w.-]+", "-", name).strip("-")[:200] or "corpus"
