"""A starter grid for a corpus (`tuner init`): which field holds the text, the ids, a label and
dates, found from the records; the language; and models and topic counts that suit the corpus.
What it found, and what it could not decide, is said beside the grid, never guessed silently."""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
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
FEWEST_WORDS = 3  # fewer on average, beside a field of objects: the text is inside those
SEEDS = [42, 43]  # two seeds: the leaderboard can then say when a lead is within seed noise
GENERIC_NAMES = ("corpus", "data", "dataset", "documents", "docs", "texts", "train", "test",
                 "all")  # a corpus so named is named by its folder


@dataclass
class Found:
    """The dataset fields found, the notes that explain them, and the figures models follow."""

    text: str
    id: str | None = None
    label: str | None = None
    classes: int = 0
    timestamp: str | None = None
    notes: list[str] = field(default_factory=list)


def starter_grid(path: Path, grid_folder: Path | None, models: Sequence[str] = (),
                 experiment: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The grid for the corpus at `path` (a file or folder any grid may name) and the notes
    that say what was found. The grid names the corpus relative to `grid_folder`, where it is
    written (None: absolutely, for a grid printed to go anywhere). `models`: the models to
    sweep (default: chosen for the corpus's language and document length).

    Raises:
        DataError: the corpus cannot be read, is empty, or has no field that holds text.
    """
    records = read_records(path)
    if not records:
        raise DataError(f"{path}: the corpus is empty (no records)")
    found = found_fields(records, str(path))
    texts = [_text(r.get(found.text)) for r in records]
    language = detected_language(texts)
    median = _median_tokens(texts)
    chosen = list(models) or suggested_models(language, median <= SHORT_TOKENS)
    dtm = any(m.lower() == "dtm" for m in chosen)
    found.notes.insert(0, f"{len(records):,} documents, language {language} (detected), "
                          f"{'short' if median <= SHORT_TOKENS else 'long'} texts (median "
                          f"{median:,} tokens)")
    found.notes += _date_note(found, dtm) + _model_notes(language, chosen, found)
    grid: dict[str, Any] = {
        "experiment": experiment or _experiment_name(path),
        "dataset": {"path": _path_from(grid_folder, path),
                    "text_field": found.text, "id_field": found.id, "label_field": found.label,
                    "timestamp_field": found.timestamp if dtm else None, "language": language},
        "models": chosen,
        "params": {"num_topics": topic_counts(len(records), found.classes)},
        "seeds": SEEDS,
    }
    return grid, found.notes


def found_fields(records: Sequence[Mapping[str, Any]], where: str) -> Found:
    names = _every_records_fields(records)
    sample = records[::max(1, len(records) // SAMPLE)]
    text = _text_field(sample, names, where)
    found = Found(text, notes=[f"text_field '{text}': the field with the most words"])
    others = [n for n in names if n != text]
    found.id = _id_field(records, others)
    found.notes.append(f"id_field '{found.id}': a unique value per document" if found.id else
                       "id_field null: no field holds a unique value per document, so the "
                       "records are numbered 1, 2, ... in the file's order")
    found.timestamp = _date_field(records, [n for n in others if n != found.id])
    _label_field(records, [n for n in others if n not in (found.id, found.timestamp)], found)
    found.notes += _partial_label_note(records, names)
    return found


def _every_records_fields(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fields every record has (a grid's fields must be in each), in the first record's order."""
    shared = set(records[0])
    for record in records[1:]:
        shared.intersection_update(record)
    return [name for name in records[0] if name in shared]


def _text_field(sample: Sequence[Mapping[str, Any]], names: Sequence[str], where: str) -> str:
    """The field whose values hold the most words (a URL or a file name is one; a CSV's fields
    are all strings, so numbers are passed over by holding no letter)."""
    words = {name: statistics.fmean(_words(_text(r.get(name))) for r in sample) for name in names
             if sum(LETTER.search(_text(r.get(name))) is not None for r in sample) * 2
             > len(sample)}
    best = max(words, key=lambda name: words[name]) if words else None
    nested = _nested_hint(sample, names)
    if best is None or words[best] == 0 or (nested and words[best] < FEWEST_WORDS):
        raise DataError(f"{where}: no field holds text in most records (fields: "
                        f"{', '.join(names) or 'none'}); a corpus needs one text per document"
                        f"{nested}")
    return best


def _nested_hint(sample: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str:
    nested = [n for n in names if any(isinstance(r.get(n), dict) for r in sample)]
    if not nested:
        return ""
    return (f"; {', '.join(repr(n) for n in nested)} hold{'s' * (len(nested) == 1)} objects, "
            "whose fields a grid cannot name: put the text in a field of its own")


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
        if _could_be_classes(records, _classes(records, name)):
            found.label, found.classes = name, _classes(records, name)
            found.notes.append(f"label_field '{name}': {found.classes} classes, the ground "
                               "truth that ARI, NMI and F1 score against")
            return
    maybe = [f"'{n}' ({c} values)" for n in names if n.lower() not in LABEL_NAMES
             and _could_be_classes(records, c := _classes(records, n))]
    found.notes.append("label_field null: no field named as a label (label, category, class, "
                       f"topic ...) holds from 2 to {MOST_CLASSES} classes; NPMI and diversity "
                       "rank the trials" + (f". Fields with few values: {', '.join(maybe[:5])}; "
                                            "set label_field to one if it is a ground truth"
                                            if maybe else ""))


def _could_be_classes(records: Sequence[Mapping[str, Any]], classes: int) -> bool:
    return 2 <= classes <= min(MOST_CLASSES, len(records) // 2)


def _partial_label_note(records: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """A label-named field that some records lack (in a corpus folder: the files directly in
    it, outside any subfolder) cannot be the grid's label field."""
    partial = [n for n in {k for r in records for k in r}
               if n not in names and n.lower() in LABEL_NAMES]
    return [f"'{n}' is missing from {sum(n not in r for r in records):,} records, so it is not "
            "the label field; give every record one (in a corpus folder, a file's label is its "
            "subfolder: move the files directly in the folder into one)" for n in partial]


def _classes(records: Sequence[Mapping[str, Any]], name: str) -> int:
    values = {_scalar_text(r.get(name)) for r in records}
    return 0 if None in values else len(values - {""})


def _date_field(records: Sequence[Mapping[str, Any]], names: Sequence[str]) -> str | None:
    for name in _by_telling_name(names, DATE_NAMES):
        values = [_scalar_text(r.get(name)) for r in records]
        if all(v and parse_timestamp(v) is not None for v in values):
            return name
    return None


def _date_note(found: Found, dtm: bool) -> list[str]:
    if found.timestamp is None:
        return []
    if dtm:
        return [f"timestamp_field '{found.timestamp}': every value is a date, DTM's time"]
    return [f"'{found.timestamp}' holds a date for every document: add \"dtm\" to models and "
            f"set timestamp_field to '{found.timestamp}' to follow the topics over time"]


def _by_telling_name(names: Sequence[str], telling: Sequence[str],
                     also: Callable[[str], bool] | None = None) -> list[str]:
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
    """A text field's value as the corpus reads it: a list of texts (a JSONL list, a Parquet
    list column) is one document of paragraphs."""
    if type(value).__name__ == "ndarray":
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return "\n\n".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _words(text: str) -> int:
    from tuner.engine.advice import approximate_tokens

    return approximate_tokens(text)


def _median_tokens(texts: Sequence[str]) -> int:
    sample = texts[::max(1, len(texts) // SAMPLE)]
    return int(statistics.median(_words(t) for t in sample))


def suggested_models(language: str, short: bool) -> list[str]:
    """LDA (the reference), a neural model (ProdLDA; BTM for short texts, which it is made for)
    and, in English, BERTopic on the offline MiniLM embeddings."""
    models = ["lda", "btm" if short else "prodlda"]
    return models + (["bertopic"] if language == "en" else [])


def _model_notes(language: str, chosen: Sequence[str], found: Found) -> list[str]:
    notes = [f"models {', '.join(chosen)}: `tuner params MODEL` lists what else each takes; "
             "THETA, CTM, ETM, NVDM, GSM, HDP, STM and DTM are there too"]
    if language == "zh" and not any(m.lower() in ("bertopic", "theta") for m in chosen):
        notes.append("BERTopic and THETA embed the documents: for Chinese give them a "
                     "multilingual embedding model (embedding.model, e.g. "
                     "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2 or "
                     "Qwen/Qwen3-Embedding-0.6B); the default MiniLM reads English only")
    if found.classes:
        notes.append(f"num_topics around the {found.classes} classes")
    return notes


def topic_counts(documents: int, classes: int) -> list[int]:
    """Topic counts to sweep: the number of classes and twice it when there is a label, else by
    the corpus's size; two values within 5 to 100, which every model takes."""
    if classes:
        low, high = classes, 2 * classes
    elif documents < 1000:
        low, high = 5, 10
    elif documents < 20000:
        low, high = 10, 20
    else:
        low, high = 20, 50
    low = min(95, max(5, low))
    return [low, min(100, max(low + 5, high))]


def _path_from(grid_folder: Path | None, path: Path) -> str:
    """The corpus's path as the grid names it: relative to the grid's folder when the two share
    a folder below the file system's root (the grid and its data move together), else
    absolute."""
    target = path.resolve()
    if grid_folder is None:
        return str(target)
    folder = grid_folder.resolve()
    if Path(os.path.commonpath([target, folder])) == Path(target.anchor):
        return str(target)
    return os.path.relpath(target, folder)


def _experiment_name(path: Path) -> str:
    """The corpus's file or folder name; one with a generic name (corpus.jsonl, as in the
    bundled datasets, or a folder named data) is named by its folder."""
    resolved = path.resolve()
    name = resolved.stem if resolved.is_file() else resolved.name
    if name.lower() in GENERIC_NAMES and resolved.parent.name:
        name = resolved.parent.name
    return re.sub(r"[^\w.-]+", "-", name).strip("-")[:200] or "corpus"
