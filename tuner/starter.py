"""A starter grid for a corpus (`tuner init`): which field holds the text, the ids, a label and
dates, found from the records; the language; and models and topic counts that suit the corpus.
What it found, and what it could not decide, is said beside the grid, never guessed silently."""

from __future__ import annotations

import json
import os
import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.data.corpus import (
    is_missing,
    is_nested,
    level_text,
    read_records,
    text_mostly_present,
)
from tuner.data.ground_truth import not_topical
from tuner.data.language import (
    LETTER,
    chinese_documents,
    detected_language,
    enough_to_say,
    even_sample,
)
from tuner.data.timestamps import parse_timestamp, value_shape
from tuner.errors import DataError
from tuner.grid_sections import MAX_TEXT_FIELDS

# Field names that say what a field holds, most telling first (compared case-insensitively)
# (and in Chinese, or a CSV of toutiao headlines headed 编号,标题,类别 gets no id and no label)
ID_NAMES = ("id", "doc_id", "docid", "document_id", "_id", "uuid", "guid", "key", "url", "link",
            "编号", "序号", "文档编号", "新闻编号")
LABEL_NAMES = ("label", "category", "class", "topic", "section", "newsgroup", "genre", "target",
               "tag", "group", "y", "类别", "标签", "分类", "类型", "主题", "栏目", "频道")
DATE_NAMES = ("timestamp", "date", "published", "pub_date", "created", "created_at", "time",
              "datetime", "year", "日期", "时间", "发布时间", "发布日期")
SAMPLE = 2000  # records read to judge a field (an even sample): init stays quick on any corpus
ZH_SAMPLE = 300  # documents segmented by jieba for the median length (about 1 s of articles)
MOST_CLASSES = 200  # a field with more values than this is no class label
SHORT_TOKENS = 30  # a median document of this many tokens or fewer is a short text (a headline,
# a post): BTM, made for short texts, replaces ProdLDA among the suggested models
TEXT_WORDS = 5  # a field of this many words on average, different in most records, is text
FEWEST_WORDS = 3  # fewer on average, beside a field of objects: the text is inside those
SEEDS = [42, 43]  # two seeds: the leaderboard can then say when a lead is within seed noise
GENERIC_NAMES = ("corpus", "data", "dataset", "documents", "docs", "texts", "train", "test",
                 "all")  # a corpus so named is named by its folder


@dataclass
class Found:
    """The dataset fields found, the notes that explain them, and the figures models follow."""

    text: str  # the field with the most words
    id: str | None = None
    label: str | None = None
    classes: int = 0
    timestamp: str | None = None
    notes: list[str] = field(default_factory=list)
    folder: bool = False  # a corpus folder, whose labels are the folders its files are in
    joined: list[str] = field(default_factory=list)  # text fields joined, shortest first

    @property
    def text_field(self) -> str | list[str]:
        """The grid's text_field: the fields joined, else the one."""
        return self.joined or self.text

    @property
    def fields_said(self) -> str:
        return json.dumps(self.joined, ensure_ascii=False) if self.joined else f"'{self.text}'"

    def text_of(self, record: Mapping[str, Any]) -> str:
        """A record's text as the grid reads it (texts joined with a blank line, an empty one
        left out)."""
        parts = [_text(record.get(name)) for name in self.joined or [self.text]]
        return "\n\n".join(part for part in parts if part.strip())


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
    found = found_fields(records, str(path), path.is_dir())
    texts = [found.text_of(r) for r in records]
    language = detected_language(texts)
    chinese, mixed = _chinese_note(texts) if language == "en" else ("", False)
    from tuner.data.lengths import LONG_SHARE, LONG_TOKENS, share_in_long

    counts = _token_counts(texts, language)
    median = int(statistics.median(counts))
    in_long = share_in_long(counts)
    short = median <= SHORT_TOKENS and in_long < LONG_SHARE
    chosen = list(models) or suggested_models("zh" if mixed else language, short)
    dtm = _needs_timestamps(chosen)
    mixed_lengths = (f"; documents of over {LONG_TOKENS} tokens hold {in_long:.0%} of the words, "
                     "so models for long texts are chosen (BTM's word pairs grow with each "
                     "long document)" if median <= SHORT_TOKENS and not short and not models
                     else "")
    found.notes.insert(0, f"{_count(len(records), 'document')}, language {language} "
                          f"(detected), {'short' if short else 'long'} texts "
                          f"(median {_count(median, 'token')} before stop words are dropped"
                          f"{mixed_lengths})")
    if chinese:
        found.notes.insert(1, chinese)
    elif language == "en" and (other := _not_english_note(texts)):
        found.notes.insert(1, other)
    empty = sum(not t.strip() for t in texts)
    if empty:  # said by validate too; else init says nothing of 100 empty texts in 300
        found.notes.insert(1, f"{_count(empty, 'document')} of {len(texts):,} "
                              f"({empty / len(texts):.1%}) {'has' if empty == 1 else 'have'} "
                              f"no text in {found.fields_said}: "
                              "they get no topic; drop them, or name the field that holds them")
    from tuner.engine.advice import few_documents_said

    if few := few_documents_said(len(records)):
        found.notes.insert(1, few)
    topics = topic_counts(len(records), found.classes) if _take_num_topics(chosen) else []
    found.notes += _date_note(found, dtm) + _model_notes("zh" if mixed else language, chosen,
                                                         found, topics, len(records))
    settings, why = starter_settings(chosen, len(records), short)
    found.notes += why
    if language == "zh" or mixed:
        from tuner.data.vocab import Preprocessing
        from tuner.engine.advice import fragments_said

        if cut := fragments_said(texts, Preprocessing()):
            found.notes.append(cut)
    grid: dict[str, Any] = {
        "experiment": experiment or _experiment_name(path),
        "dataset": {"path": _path_from(grid_folder, path),
                    "text_field": found.text_field, "id_field": found.id,
                    "label_field": found.label,
                    "timestamp_field": found.timestamp if dtm else None, "language": language},
        "models": chosen,
        "params": ({"num_topics": topics} if topics else {}) | settings,
        "seeds": SEEDS,
    }
    return grid, found.notes


def found_fields(records: Sequence[Mapping[str, Any]], where: str, folder: bool = False
                 ) -> Found:
    names = _every_records_fields(records)
    sample = even_sample(records, SAMPLE)
    # the text may be absent from a few records (their documents are empty, as validate says):
    # with one headline missing of 3,986, the text was chosen among the fields every record
    # has, and the category became the text (new-user audit on headlines)
    candidates = _most_records_fields(records)
    words = _words_by_field(sample, candidates)
    text = _text_field(words, sample, candidates, where)
    found = Found(text, folder=folder, joined=_more_text(records, words, text))
    found.notes.append(_text_note(records, words, found))
    others = [n for n in names if n not in (found.joined or [text])]
    found.id = _id_field(records, others)
    found.notes.append(f"id_field '{found.id}': a unique value per document" if found.id else
                       "id_field null: no field named as ids (id, doc_id, uuid, 编号 ...) holds "
                       "a unique value per document, so the records are numbered 1, 2, ... in "
                       "the file's order; set id_field to a field of unique ids if one is")
    found.timestamp = _date_field(records, [n for n in others if n != found.id], found)
    _label_field(records, [n for n in others if n != found.id and n.lower() not in DATE_NAMES],
                 found)
    found.notes += _partial_label_note(records, names, found.id, folder)
    return found


def _shown_words(records: Sequence[Mapping[str, Any]], name: str,
                 words: Mapping[str, float]) -> float:
    """A field's mean words as the note says them: jieba's words where its values are Chinese.
    Counting each Han character, toutiao's keywords (周杰伦,昆凌,...) read "14 words on average"
    beside headlines of 10 jieba words."""
    sample = [_text(r.get(name)) for r in even_sample(records, ZH_SAMPLE)]
    if detected_language(sample) != "zh":
        return words[name]
    from tuner.data.vocab import chinese_word_count

    return statistics.fmean(chinese_word_count(t) for t in sample)


def _every_records_fields(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fields every record has (a grid's fields must be in each), in the first record's order."""
    shared = set(records[0])
    for record in records[1:]:
        shared.intersection_update(record)
    return [name for name in records[0] if name in shared]


def _most_records_fields(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Fields that nearly every record has (as `tuner validate` takes a text field: corpus.
    text_mostly_present), in the order they first appear."""
    counts = Counter(name for record in records for name in record)
    return [name for name in counts if text_mostly_present(counts[name], len(records))]


def _words_by_field(sample: Sequence[Mapping[str, Any]], names: Sequence[str]
                    ) -> dict[str, float]:
    """The mean words of each field that holds letters in most records (a CSV's fields are all
    strings, so numbers are passed over; a URL or a file name is one word)."""
    return {name: statistics.fmean(_words(_text(r.get(name))) for r in sample) for name in names
            if sum(LETTER.search(_text(r.get(name))) is not None for r in sample) * 2
            > len(sample)}


def _text_field(words: Mapping[str, float], sample: Sequence[Mapping[str, Any]],
                names: Sequence[str], where: str) -> str:
    """The field whose values hold the most words."""
    best = max(words, key=lambda name: words[name]) if words else None
    nested = _nested_hint(sample, names)
    if best is None or words[best] == 0 or (nested and words[best] < FEWEST_WORDS):
        raise DataError(f"{where}: no field holds text in most records (fields: "
                        f"{', '.join(names) or 'none'}); a corpus needs one text per document"
                        f"{nested}")
    return best


def _more_text(records: Sequence[Mapping[str, Any]], words: Mapping[str, float],
               text: str) -> list[str]:
    """`text` and the other fields that hold running text, a different one in most records (a
    headline beside its description, a title beside its abstract), shortest first (a title
    before its body); [] when there is no other."""
    more = [n for n, w in words.items() if n != text and w >= TEXT_WORDS
            and 2 * len({_scalar_text(r.get(n)) for r in records}) > len(records)
            and not _mostly_inside(records, n, text)]
    longest = sorted([text, *more], key=lambda n: -words[n])[:MAX_TEXT_FIELDS]  # a grid's most
    return sorted(longest, key=lambda n: words[n]) if more else []


def _mostly_inside(records: Sequence[Mapping[str, Any]], name: str, text: str) -> bool:
    """Whether `name`'s value is found in `text`'s in most records (a subject line the body
    starts with): joined, its words would count twice."""
    pairs = [(_text(r.get(name)).strip(), _text(r.get(text))) for r in records]
    return 2 * sum(bool(part) and part in whole for part, whole in pairs) > len(records)


def _text_note(records: Sequence[Mapping[str, Any]], words: Mapping[str, float],
               found: Found) -> str:
    if not found.joined:
        return f"text_field '{found.text}': the field with the most words"
    more = [n for n in found.joined if n != found.text]
    shown = ", ".join(f"'{n}' ({_shown_words(records, n, words):.0f} words on average)"
                      for n in more)
    return (f"text_field {json.dumps(found.joined, ensure_ascii=False)}: '{found.text}', the "
            f"field with the most words, and {shown}, which also hold{'s' * (len(more) == 1)} "
            "text, joined (LDA's ARI: 0.030 on HuffPost descriptions alone, 0.064 with their "
            "headlines; 0.123 on toutiao headlines, 0.245 with their keywords); set text_field to "
            f"\"{found.text}\" to model it alone, as a comparison with figures published on that "
            "field alone must")


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
    classes = {name: _classes(records, name) for name in names}
    named = _by_telling_name(names, LABEL_NAMES)
    untopical = {n: kind for n in named if (kind := not_topical(
        _scalar_text(r.get(n)) or "" for r in records)) is not None}
    for name, kind in untopical.items():
        found.notes.append(f"'{name}' is named as labels are, but every value is one of {kind}, "
                           "not a class of topics, so it is not the label field"
                           + (": a file's label is the folder it is in, so put each file in a "
                              "folder of its class (train/sport/001.txt) to score against "
                              "classes" if name == "label" and found.folder else ""))
    named = [n for n in named if n not in untopical]
    taken = next((n for n in named if _could_be_classes(records, classes[n])), None)
    if taken is not None:
        found.label, found.classes = taken, classes[taken]
        found.notes.append(f"label_field '{taken}': {classes[taken]} classes, the ground truth "
                           "that ARI, NMI and F1 score against")
        from tuner.engine.advice import case_alike_said, mixed_codes_said

        labels = Counter(str(_scalar_text(r.get(taken)) or "").strip() for r in records)
        for said in (case_alike_said(labels), mixed_codes_said(labels)):
            if said:  # else only validate says it, after init has chosen num_topics
                found.notes.append(f"label_field '{taken}': {said}")
    else:
        too_many = [f"'{n}' has {classes[n]:,} values" for n in named
                    if classes[n] > min(MOST_CLASSES, len(records) // 2)]
        found.notes.append("label_field null: no field named as a label (label, category, "
                           f"class, topic ...) is in every record and holds from 2 to "
                           f"{MOST_CLASSES} classes, each of two documents or more on average"
                           + (f" ({', '.join(too_many)})" if too_many else "")
                           + "; NPMI and diversity rank the trials")
    # a split or a year is no class of topics, whatever its name (else 'split' of 20ng-mini is
    # offered as a possible ground truth)
    others = [f"'{n}' ({classes[n]} values, {_per_value(len(records), classes[n])} documents a "
              "value on average)" for n in names
              if n != taken and n not in untopical and _could_be_classes(records, classes[n])
              and not_topical(_scalar_text(r.get(n)) or "" for r in records) is None
              and not (taken and _renames(records, n, taken))]
    if others:  # said with documents a value, not as "few values": 164 in 330 records are not few
        found.notes.append(f"{'other ' if taken else ''}fields that could be classes: "
                           f"{', '.join(others[:5])}; set label_field to the one that is the "
                           "ground truth" + (", if not this one" if taken else ""))


def _renames(records: Sequence[Mapping[str, Any]], field: str, label: str) -> bool:
    """Whether `field` holds the label's classes under other names, one value for each class
    and one class for each value: else toutiao's category_code beside its label is offered as
    other classes to score against."""
    pairs = {(_scalar_text(r.get(field)), _scalar_text(r.get(label))) for r in records}
    return len(pairs) == len({value for value, _ in pairs}) == len({c for _, c in pairs})


def _per_value(documents: int, values: int) -> str:
    mean = documents / values
    return f"{mean:.1f}" if mean < 10 else f"{mean:,.0f}"


def _could_be_classes(records: Sequence[Mapping[str, Any]], classes: int) -> bool:
    return 2 <= classes <= min(MOST_CLASSES, len(records) // 2)


def _partial_label_note(records: Sequence[Mapping[str, Any]], names: Sequence[str],
                        id_field: str | None, folder: bool) -> list[str]:
    """A label-named field that some records lack (in a corpus folder: the files directly in
    it, outside any subfolder) cannot be the grid's label field."""
    partial = sorted(n for n in {k for r in records for k in r}
                     if n not in names and n.lower() in LABEL_NAMES)
    notes = []
    for name in partial:
        lacking = [(n, r) for n, r in enumerate(records, start=1) if name not in r]
        first = ", ".join(str(r[id_field]) if id_field else f"record {n}"
                          for n, r in lacking[:3])
        where = f"{first}{' ...' if len(lacking) > 3 else ''}"
        notes.append(f"'{name}' is missing from {_count(len(lacking), 'record')}, so it is not "
                     "the label field; " + (
                         "a file's label is the folder it is in, and the files directly in the "
                         f"corpus folder ({where}) have none: move a README or notes out of "
                         "it, documents into a folder of their class" if folder else
                         f"give every record one (the first without: {where}); null leaves a "
                         "document unscored"))
    return notes


def _classes(records: Sequence[Mapping[str, Any]], name: str) -> int:
    values = {_scalar_text(r.get(name)) for r in records}
    return 0 if None in values else len(values - {""})


def _date_field(records: Sequence[Mapping[str, Any]], names: Sequence[str],
                found: Found) -> str | None:
    """A field named as dates are whose every value is one tuner reads; of a field so named
    whose values are not, the note says what they look like (never what they hold)."""
    for name in _by_telling_name(names, DATE_NAMES):
        values = [_scalar_text(r.get(name)) or "" for r in records]
        bad = [v for v in values if parse_timestamp(v) is None]
        if not bad:
            return name
        blank = sum(not v.strip() for v in bad)
        shaped = next((value_shape(v) for v in bad if v.strip()), "")
        found.notes.append(
            f"'{name}' is named as dates are, but {len(bad):,} of its {len(values):,} values "
            f"{'are not dates' if len(bad) != 1 else 'is not a date'} tuner reads"
            + (f" ({blank:,} blank)" if blank else "") + (f", e.g. {shaped}" if shaped else "")
            + ": DTM needs an ISO date (YYYY-MM-DD, YYYY-MM or YYYY) for every document; "
            "convert them to use it")
    return None


def _needs_timestamps(models: Sequence[str]) -> bool:
    """Whether a chosen model fits topics over time (DTM), so the grid names a timestamp field."""
    from trainers import canonical_name, load_trainer

    return any("timestamps" in load_trainer(str(canonical_name(m))).requires for m in models)


def _date_note(found: Found, dtm: bool) -> list[str]:
    if found.timestamp is None:
        return ["DTM needs a field of dates for every document, and none was found: set "
                "timestamp_field once the corpus has one"] if dtm else []
    if dtm:
        return [f"timestamp_field '{found.timestamp}': every value is a date, DTM's time"]
    return [f"'{found.timestamp}' holds a date for every document: add DTM to models and set "
            f"timestamp_field to it to follow the topics over time"]


def _by_telling_name(names: Sequence[str], telling: Sequence[str],
                     also: Callable[[str], bool] | None = None) -> list[str]:
    """`names` that are one of `telling` (in its order, any case, spaces around it dropped, or a
    spreadsheet's 'Category ' is passed over), then those `also` accepts."""
    lower = {name.strip().lower(): name for name in names}
    named = [lower[t] for t in telling if t in lower]
    return named + [n for n in names if also is not None and n not in named and also(n)]


def _scalar_text(value: Any) -> str | None:
    """A field's value as text (1, 1.0 and "1" alike); None for a list or an object."""
    if is_nested(value):
        return None
    if is_missing(value):
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


def _token_counts(texts: Sequence[str], language: str) -> list[int]:
    """An even sample's words per document: jieba's words in Chinese, as counting each Han
    character as one makes THUCNews leads of 45 characters (21 words) read as long texts and get
    ProdLDA, not BTM."""
    if language == "zh":
        from tuner.data.vocab import chinese_word_count

        return [chinese_word_count(t) for t in even_sample(texts, ZH_SAMPLE)]
    return [_words(t) for t in even_sample(texts, SAMPLE)]


def _chinese_note(texts: Sequence[str]) -> tuple[str, bool]:
    """What an English-detected corpus holding Chinese is told, in `validate`'s words
    (advice._language_advice), and whether its documents are mostly Chinese in 2% or more of a
    sample (its models are then chosen as for zh). Without it, `init` calls 1,000 toutiao and
    1,000 HuffPost headlines "language en" and suggests the English MiniLM for BERTopic, and the
    next command tells the user to set zh; of English posts with a Chinese headline beside them
    it says nothing."""
    from tuner.engine.advice import bilingual_said, mostly_chinese_said

    chinese, bilingual, sampled = chinese_documents(texts)
    if enough_to_say(chinese, sampled):
        return mostly_chinese_said(chinese, sampled, len(texts)), True
    if enough_to_say(bilingual, sampled):
        return bilingual_said(bilingual, sampled, len(texts)), False
    return "", False


def _not_english_note(texts: Sequence[str]) -> str | None:
    from tuner.engine.advice import not_english_said

    said = not_english_said(texts)
    return f"language en is a guess: {said}" if said else None


def suggested_models(language: str, short: bool) -> list[str]:
    """LDA (the reference), a neural model (ProdLDA; BTM for short texts, which it is made for)
    and, in English, BERTopic on the offline MiniLM embeddings."""
    models = ["lda", "btm" if short else "prodlda"]
    return models + (["bertopic"] if language == "en" else [])


# Epochs a neural model is given, without early stopping, on fewer documents than it was
# measured to need (Trainer.min_documents): ProdLDA on 300 UN speeches (K=6 and 12, seeds 42
# and 43, new-user audit of 2026-12-05) stopped early at epochs 27 and 28 with 77% to 88% of its
# top words still new, NPMI -0.257; with these, -0.059. On 150 speeches (K=6): NPMI -0.30,
# -0.28 and -0.21 (ProdLDA, CTM, ETM) at the defaults, -0.16, -0.11 and -0.02 with these.
FEW_DOCUMENTS_EPOCHS = 300
# Short texts below this many documents get them too. What trains a network is its steps: 100
# epochs of 4,000 headlines (90% trained on, 10% held out) in batches of 64 are about 5,600
# steps, of 10,000 about 14,100. ProdLDA on
# 3,986 HuffPost headlines (8 categories, K=8, seeds 42 and 43, new-user audit of 2026-12-05):
# ARI 0.079 ± 0.011 at its defaults, 0.107 ± 0.014 at 300 epochs without early stopping, NPMI
# -0.233 and -0.224; GSM 0.094 and 0.099. Measured on those two; CTM, ETM, NVDM and THETA share
# their VAE loop and its early stopping on the held-out loss, and get the same.
SHORT_TEXTS_FULL_EPOCHS_BELOW = 10_000


def starter_settings(models: Sequence[str], documents: int, short: bool = False
                     ) -> tuple[dict[str, Any], list[str]]:
    """The settings beyond their defaults that each of `models` is given in a starter grid, as
    grid keys ({"lda.max_iter": 500}), and the notes that say why: the budget of a model whose
    default was measured to stop it short (`Trainer.budget_advice`), what it declares
    (`Trainer.starter_settings`), and on fewer `documents` than a neural model was measured to
    need (or, for `short` texts, below SHORT_TEXTS_FULL_EPOCHS_BELOW), FEW_DOCUMENTS_EPOCHS
    epochs without early stopping."""
    from trainers import canonical_name, load_trainer

    budgets: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    why = []
    few = _short_of_documents(models, documents, short)
    for model in models:
        name = str(canonical_name(model))
        trainer = load_trainer(name)
        if name not in few and trainer.budget_advice is not None \
                and trainer.budget_param is not None:  # else FEW_DOCUMENTS_EPOCHS, below
            budgets[f"{name.lower()}.{trainer.budget_param}"] = trainer.budget_advice.suggested
        keys = {f"{name.lower()}.{k}": v for k, v in trainer.starter_settings.items()}
        if keys:
            settings |= keys
            shown = ", ".join(f"{k} {json.dumps(v) if isinstance(v, list) else v}"
                              for k, v in keys.items())
            why.append(f"{shown}: {trainer.starter_why}")
    if budgets:
        why.append(f"{' and '.join(f'{k} {v}' for k, v in budgets.items())}: "
                   f"{'the default stops' if len(budgets) == 1 else 'their defaults stop'} "
                   f"{'its' if len(budgets) == 1 else 'their'} training short (`tuner validate` "
                   f"of a grid without "
                   f"{'it' if len(budgets) == 1 else 'them'} gives the figures)")
    for name in few:
        settings |= {f"{name.lower()}.epochs": FEW_DOCUMENTS_EPOCHS,
                     f"{name.lower()}.patience": None}
    if few:
        models_said = ", ".join(few[:-1]) + (" and " if len(few) > 1 else "") + few[-1]
        why.append(f"epochs {FEW_DOCUMENTS_EPOCHS} and patience null for {models_said}: on "
                   + (f"{documents:,} short documents, the default 100 epochs are few training "
                      "steps (ProdLDA on 3,986 HuffPost headlines, K=8: ARI 0.079 at its "
                      "defaults, 0.107 with these)"
                      if short and documents >= _fewest_needed(few) else
                      f"{documents:,} documents, early stopping on the held-out loss ended such "
                      "fits before their topics formed (ProdLDA on 300 UN speeches: NPMI -0.257 "
                      "at its defaults, stopped at epoch 27 with 88% of its top words still new; "
                      "-0.059 with these)"))
    return budgets | settings, why


def _short_of_documents(models: Sequence[str], documents: int, short: bool = False
                        ) -> list[str]:
    """Those of `models` (canonical names) that learn a network with early stopping and were
    measured to need more than `documents` (Trainer.min_documents; for short texts, at least
    SHORT_TEXTS_FULL_EPOCHS_BELOW)."""
    from trainers import canonical_name, load_trainer

    trainers = {str(canonical_name(m)): load_trainer(str(canonical_name(m))) for m in models}
    return [name for name, trainer in trainers.items()
            if documents < max(trainer.min_documents,
                               SHORT_TEXTS_FULL_EPOCHS_BELOW if short else 0)
            and {"epochs", "patience"} <= set(trainer.params.names)]


def _fewest_needed(models: Sequence[str]) -> int:
    """The fewest documents any of `models` was measured to need (Trainer.min_documents)."""
    from trainers import load_trainer

    return min(load_trainer(m).min_documents for m in models)


def _embeds_with_the_grids_model(model: str) -> bool:
    """Whether `model` embeds the documents with the grid's embedding model (MiniLM unless the
    grid names one); THETA names its own default (Qwen3, which reads Chinese)."""
    from trainers import load_trainer
    from trainers.base import Trainer

    trainer = load_trainer(model)
    return "embeddings" in trainer.requires and \
        trainer.default_embedding is Trainer.default_embedding


def _take_num_topics(models: Sequence[str]) -> bool:
    """Whether any of `models` takes num_topics (HDP finds its number: max_topics caps it)."""
    from trainers import canonical_name, load_trainer

    return any(load_trainer(str(canonical_name(m))).params.get("num_topics") is not None
               for m in models)


def _model_notes(language: str, chosen: Sequence[str], found: Found,
                 topics: Sequence[int], documents: int) -> list[str]:
    from trainers import canonical_name, registry

    taken = {canonical_name(m) for m in chosen}
    rest = [name for name in registry() if name not in taken]
    notes = [f"models {', '.join(chosen)}: `tuner params MODEL` lists what else each takes"
             + (f"; {', '.join(rest)} are there too" if rest else "")]
    from tuner.engine.advice import few_for_networks_said

    if few := few_for_networks_said([str(canonical_name(m)) for m in chosen], documents):
        notes.append(few)
    if language == "zh":
        embedding = [str(canonical_name(m)) for m in chosen
                     if _embeds_with_the_grids_model(str(canonical_name(m)))]
        notes.append((f"{' and '.join(embedding)} in this grid embed"
                      f"{'s' * (len(embedding) == 1)} the documents: give "
                      f"{'it' if len(embedding) == 1 else 'them'} a " if embedding else
                      "to add BERTopic or CTM, which embed the documents, give them a ")
                     + "multilingual embedding model for Chinese (embedding.model, e.g. "
                     "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2 or "
                     "Qwen/Qwen3-Embedding-0.6B; the first run downloads it, and a machine "
                     "without the network needs a local folder holding it, named by its path); "
                     "the default MiniLM reads English only")
    asked = " and ".join(map(str, topics))
    if found.classes and list(topics) == [found.classes, 2 * found.classes]:
        notes.append(f"num_topics {asked}: the {found.classes} classes and twice them")
    elif found.classes and topics:
        notes.append(f"num_topics {asked}: near the {found.classes} classes, within 5 to 100")
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


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' * (n != 1)}"
