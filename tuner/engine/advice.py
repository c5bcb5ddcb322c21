"""Advice said before any trial: choices that are valid but likely wrong for this data (the
dataset's language against its script, documents longer than the embedding window, DTM slices,
STM covariates, labels alike but for case), and what the built bags of words say (too few
words for the topics asked, documents left with none)."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trainers import fit_inputs, load_trainer
from tuner.data.cleaning import MENTION, WEB_DEBRIS, mail_headers, quotes_replies
from tuner.data.corpus import DOCUMENT_SUFFIXES, corpus_files, field_names, level_text
from tuner.data.embeddings import (
    MINILM_IDS,
    model_kind,
    trained_length,
    usable_window,
)
from tuner.data.fragments import cut_words
from tuner.data.ground_truth import not_topical
from tuner.data.language import (
    CHINESE_SHARE,
    HAN_CHARACTER,
    LATIN_LETTER,
    chinese_documents,
    chinese_share,
    enough_to_say,
    even_sample,
    not_chinese_documents,
)
from tuner.data.model_tokens import CHARACTERS_COUNTED, model_token_counts
from tuner.data.timestamps import parse_timestamps, precision
from tuner.data.vocab import (
    MAX_TOKEN_LEN,
    Preprocessing,
    unmatchable_stop_words,
    unmatchable_words,
    unsegmentable_words,
)
from tuner.engine.pruning import largest_budget

if TYPE_CHECKING:

    from tuner.data.ground_truth import GroundTruth
    from tuner.data.vocab import BagOfWords
    from tuner.engine.sweep import CheckedInputs, PlannedTrial
    from tuner.grid import Grid


FEW_DOCUMENTS = 100  # fewer: said by init and validate, as a text that should have been split
_CODE = re.compile(r"[+-]?\d+(?:\.\d+)?")  # a class code: not "nan" or "inf", as float() reads
MIXED_SHARE = 0.05  # of labelled documents, each of numbers and names, for mixed_codes_said
MAJORITY_SHARE = 0.95  # of labelled documents in one class: its ARI, NMI and F1 are noise

# What a Chinese corpus's embeddings are better made with: a small multilingual model first, which
# a CPU runs in minutes; Qwen3 (0.6 B parameters) offered alone leaves a CPU no small choice
CHINESE_MODELS = ("for example sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2, "
                  "small enough for a CPU, or Qwen/Qwen3-Embedding-0.6B; or a local copy of one")


def advisories(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Choices that are valid but likely wrong for this data, said before any trial runs: the
    dataset's language against its script, more topics than documents, documents far longer
    than the embedding window, an English embedding model on Chinese text."""
    share = chinese_share(inputs.corpus.texts)
    found = _language_advice(grid, inputs, share)
    documents = len(inputs.corpus)
    topics = max((int(p.params.get("num_topics") or 0) for p in inputs.plan), default=0)
    if topics > documents:
        found.append(f"{grid.path}: params.num_topics: {topics} topics for {documents} "
                     "documents; most topics will be empty")
    counted = {model: model_token_counts(inputs.model_paths[model],
                                         sample_documents(inputs.corpus.texts))
               for model in sorted({p.embedding.model for p in inputs.plan if p.embedding})}
    if few := few_documents_said(documents):  # said here too, not by init alone
        found.append(f"{grid.path}: dataset.path: {few}")
    if few := few_for_networks_said([s.model for s in grid.sweeps], documents):
        found.append(f"{grid.path}: models: {few}")
    found += _past_training_advice(grid, inputs) \
        + _truncation_advice(grid, inputs, counted) + _time_slice_advice(grid, inputs) \
        + _covariate_advice(grid, inputs) + _label_case_advice(grid, inputs) \
        + _untopical_label_advice(grid, inputs) \
        + _label_coverage_advice(grid, inputs) + _unread_field_advice(grid, inputs) \
        + _pruning_advice(grid) + _sampling_budget_advice(grid) + _model_size_advice(grid) \
        + _pooling_advice(grid, inputs) \
        + _supervised_advice(grid, inputs) + _markup_advice(grid, inputs) \
        + _mention_advice(grid, inputs) + _stop_word_advice(grid, inputs) \
        + _quoting_advice(grid, inputs) \
        + _duplicate_advice(grid, inputs) + _outsized_advice(grid, inputs) \
        + _left_out_model_advice(grid) + _pinned_seed_advice(grid, inputs) \
        + _left_out_files_advice(grid)
    unknown = _unknown_tokens_advice(grid, inputs, counted)
    english_model = any(p.embedding is not None and p.embedding.model in MINILM_IDS
                        for p in inputs.plan)
    if unknown is None and english_model and share > CHINESE_SHARE:  # its tokenizer unread
        unknown = [f"{grid.path}: embedding.model: all-MiniLM-L6-v2 was trained on English; "
                   f"for Chinese text name a multilingual or Chinese model ({CHINESE_MODELS})"]
    return found + (unknown or [])


def few_documents_said(documents: int) -> str | None:
    """What `init` and `validate` say of a corpus of fewer than FEW_DOCUMENTS documents."""
    if documents >= FEW_DOCUMENTS:
        return None
    return (f"a topic model needs many documents (hundreds or more) and this corpus has "
            f"{documents}: if one text holds many, split it (a .txt file of one document per "
            "line, or a folder of one file each)")


FRAGMENTS_NAMED = 8  # words jieba cuts in two that `validate` and `init` name


def fragments_said(texts: Sequence[str], settings: Preprocessing) -> str | None:
    """What `validate` and `init` say of words jieba cuts in two in Chinese text (tuner.data.
    fragments): each piece is a token, or is dropped, and user_words keeps the word whole.
    Not said by `tuner run`, whose every start would pay its 0.6 to 1.4 s."""
    found = cut_words(texts, settings)
    if not found:
        return None
    named = ", ".join(f"{f.word} ({f.first} + {f.second}: together in {f.of_first:.0%} and "
                      f"{f.of_second:.0%} of their uses)" for f in found[:FRAGMENTS_NAMED])
    more = f", and {len(found) - FRAGMENTS_NAMED} more" if len(found) > FRAGMENTS_NAMED else ""
    words = json.dumps([f.word for f in found], ensure_ascii=False)
    return (f"jieba cuts {len(found)} word{'s' * (len(found) != 1)} the text keeps together "
            f"into two pieces, names and terms its dictionary lacks: {named}{more}. Each piece "
            "becomes a token of its own, or, one character long, is dropped; to keep them "
            f"whole, add them to preprocessing.user_words: {words}")


def few_for_networks_said(models: Sequence[str], documents: int) -> str | None:
    """What `init` and `validate` say of neural models given fewer documents than they were
    measured to need (Trainer.min_documents): on 150 UN speeches, at their defaults (K=6, seed
    42), ProdLDA's, CTM's and ETM's topics were word salad, unsaid."""
    short = [m for m in models if documents < load_trainer(m).min_documents]
    if not short:
        return None
    one = len(short) == 1
    return (f"{', '.join(short)} learn{'s' * one} a network from the documents and "
            f"need{'s' * one} more of them than LDA: with {documents:,}, expect "
            f"{'it' if one else 'them'} to trail it (ProdLDA on BBC articles, K=5: ARI 0.33 "
            "against LDA's 0.51 at 300 documents, 0.63 against 0.64 at 1,200; on 150 UN "
            "speeches at their defaults, K=6: NPMI -0.30 ProdLDA, -0.28 CTM, -0.21 ETM "
            "against LDA's 0.01). More epochs with patience null narrow the gap (300: -0.16, "
            "-0.11, -0.02)")


def _language_advice(grid: Grid, inputs: CheckedInputs, share: float) -> list[str]:
    """Each language the trials tokenise in (dataset.language, or a model's own language
    parameter) against the text's script: as a whole, and document by document for English (a
    corpus 11% Chinese passes as a whole, and 92% of its Chinese documents get no topic); a
    model's own parameter (THETA's `language: en` on Chinese) is checked as the dataset's is. A
    mixed corpus is better tokenised as zh: 700 toutiao and 700 HuffPost headlines keep no word
    in 43% of the documents as en, 4.9% as zh."""
    detected = "" if _language_set(grid) else " (not set: detected from the text)"
    languages = {inputs.corpus.language: f"{grid.path}: dataset.language{detected}"}
    for planned in inputs.plan:
        param = load_trainer(planned.model).language_param
        if planned.language not in languages and param is not None:
            languages[planned.language] = f"{grid.path}: params.{param} of {planned.model}"
    chinese, bilingual, sampled = chinese_documents(inputs.corpus.texts)
    found = []
    if not _language_set(grid) and inputs.corpus.language == "zh":
        found.append(f"{grid.path}: dataset.language is not set; {share:.0%} of the letters are "
                     "Chinese, so the texts are tokenised as zh (jieba); set it to choose")
    for language, where in languages.items():
        if language == "en" and share > CHINESE_SHARE:
            found.append(f"{where} is 'en' but {share:.0%} of the letters are Chinese: they are "
                         "not segmented into words; set \"language\": \"zh\"")
        elif language == "en" and enough_to_say(chinese, sampled):
            found.append(f"{where} is 'en' but "
                         f"{mostly_chinese_said(chinese, sampled, len(inputs.corpus))}")
        elif language == "en" and enough_to_say(bilingual, sampled):
            # an English post with a Chinese headline beside it: its Chinese half is lost (60 of
            # 1,340 social posts; 129 clause-long "words", all but one dropped by min_df)
            found.append(f"{where} is 'en' but "
                         f"{bilingual_said(bilingual, sampled, len(inputs.corpus))}")
        if language == "zh" and share < 0.05:
            found.append(f"{where} is 'zh' but {share:.0%} of the letters are Chinese; set "
                         "\"language\": \"en\" for English text")
        elif language == "zh":
            found += _not_chinese_advice(where, inputs.corpus.texts)
    other = not_english_said(inputs.corpus.texts) \
        if "en" in languages and share <= CHINESE_SHARE else None
    if other:
        found.append(f"{languages['en']} is 'en' but {other}")
    return found


def _not_chinese_advice(where: str, texts: Sequence[str]) -> list[str]:
    """English documents among Chinese ones: 30 English articles in 630 form a topic of their own
    (said year new mr world), and the report finds their 4 labels leading no topic."""
    latin, sampled = not_chinese_documents(texts)
    if not enough_to_say(latin, sampled):
        return []
    return [f"{where} is 'zh', and {latin} of {sampled} documents sampled ({latin / sampled:.0%}) "
            "are written in Latin letters (English, or another language), not Chinese: jieba "
            "keeps their words whole, but they share few words with the Chinese documents, so "
            "they form topics of their own; model them apart if the languages' topics should "
            "not split by language"]


# Words of English that French, Spanish, German and Italian text rarely holds (German has "was"
# and "an", French "or"; not "a", "de", "un", "on" or "die", which scikit-learn's English list
# has too).
ENGLISH_FUNCTION_WORDS = frozenset(
    "the and of to is that for with was it this are be at by from have has but not they were "
    "which their been would will its an or".split())
# Their share of a text's words, below which it is said not to read as English. Measured on 500
# documents each: English articles 20% (HuffPost) to 34% (UN speeches), English headlines 7%
# (BBC News) to 14%; French, Spanish and German sentences 0% (unsaid, a French corpus runs as en
# and its topics fill with une, des, par).
ENGLISH_SHARE = 0.02
# Function words of French, Spanish, German, Italian, Portuguese and Dutch that English text all
# but never holds: a corpus read as English is said to be in another language only when they are
# OTHER_SHARE of its words, not for English whose stop words are dropped already (which holds few
# English function words too). Measured on 500 documents each: 0.1% (BBC News) to 0.4% (20
# Newsgroups) of English corpora's words, 28% of a French sample's.
OTHER_FUNCTION_WORDS = frozenset(
    "le la les des une et est dans pour qui sur au aux du pas sont avec cette nous vous "
    "el los las del por para con una es se su sus al lo como pero "
    "der das und ist nicht ein eine mit von zu dem auf für sich auch "
    "il della che di per non sono gli delle nel "
    "os não com mais dos em "
    "het een niet voor zijn".split())
OTHER_SHARE = 0.05
LATIN_WORD = re.compile(f"[{LATIN_LETTER}]+")
WORDS_COUNTED = 200  # the fewest words a share is judged on
LANGUAGE_CHARACTERS = 2000  # of each sampled document read for it (all of them: 27 ms)


def not_english_said(texts: Sequence[str]) -> str | None:
    """What `validate` and `init` say of texts that do not read as English, else None."""
    words = [w.lower() for text in sample_documents(texts)
             for w in LATIN_WORD.findall(text[:LANGUAGE_CHARACTERS])]
    if len(words) < WORDS_COUNTED:
        return None
    share = sum(w in ENGLISH_FUNCTION_WORDS for w in words) / len(words)
    foreign = sum(w in OTHER_FUNCTION_WORDS for w in words) / len(words)
    if share >= ENGLISH_SHARE or foreign < OTHER_SHARE:  # English with its stop words dropped
        return None
    return (f"the documents do not read as English: {share:.1%} of their words are English "
            "function words (the, and, of), against 7% in English headlines and 20% or more in "
            "English articles; tuner tokenises English and Chinese, and another language's "
            "function words (le, und, que) stay and lead topics: add them to "
            "preprocessing.extra_stopwords, or translate the corpus")


ZH_REMEDY = ("set \"language\": \"zh\" (jieba keeps English words whole, and the Chinese stop "
             "list holds English stop words)")


def mostly_chinese_said(chinese: int, sampled: int, documents: int) -> str:
    """What `validate` and `init` say of `chinese` of `sampled` documents (of `documents`)
    that are mostly Chinese in an English corpus."""
    return (f"{chinese} of {sampled} documents{' sampled' if sampled < documents else ''} are "
            "mostly Chinese: they are not segmented into words, and most will get no topic; "
            f"{ZH_REMEDY} or sweep each language's documents as a dataset of its own")


def bilingual_said(bilingual: int, sampled: int, documents: int) -> str:
    """What `validate` and `init` say of `bilingual` of `sampled` documents that hold Chinese
    text beside English in an English corpus."""
    return (f"{bilingual} of {sampled} documents{' sampled' if sampled < documents else ''} "
            "hold Chinese text: it is not segmented into words, so each run of it is one word, "
            f"which min_df drops; {ZH_REMEDY}")


def _language_set(grid: Grid) -> bool:
    """Whether the grid file sets dataset.language (the grid may carry the detected one)."""
    dataset = grid.raw.get("dataset")
    return isinstance(dataset, dict) and dataset.get("language") is not None




def _past_training_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """An embedding.max_length past the tokens a sentence-embedding model was trained to embed
    (trained_length): it runs, and `validate` had recommended it ("up to 512" for MiniLM), but
    the embeddings were worse and slower (windows of 512 on 300 UN speeches: BERTopic k-means
    ARI 0.341 against 0.429 at 256, 281 s of embedding against 182 s; audit of 2026-12-05)."""
    said = []
    for model, window in sorted({(p.embedding.model, p.embedding.max_length)
                                 for p in inputs.plan if p.embedding is not None}):
        trained = trained_length(inputs.model_paths[model])
        if trained is not None and window > trained:
            said.append(f"{grid.path}: embedding.max_length: {window} is past the {trained} "
                        f"tokens {model} was trained to embed (its sentence_bert_config.json): "
                        "it runs, untrained there (windows of 512 against 256 on 300 UN "
                        "speeches: BERTopic ARI 0.341 against 0.429, and 1.5 times the "
                        f"embedding time); set max_length {trained}, and for long documents "
                        'long_documents "chunks"')
    return said


def _truncation_advice(grid: Grid, inputs: CheckedInputs,
                       counted: dict[str, list[tuple[int, int]] | None]) -> list[str]:
    """Documents longer than the embedding's token window: embedded by their start, or, with
    `long_documents` chunks, in windows whose number is the embedding's cost. Counted with the
    model's own tokenizer where its folder has one (`counted`), else roughly."""
    windows = sorted({(p.embedding.max_length, p.embedding.model, p.embedding.long_documents)
                      for p in inputs.plan if p.embedding is not None})
    if not windows:  # no model embeds: the documents' lengths (18 ms on 20ng-mini) are not read
        return []
    window, model, requested = windows[0]
    counts = counted.get(model)
    if counts is None:
        return [] if requested == "chunks" else \
            _rough_truncation_advice(grid, inputs, window, model)
    if requested != "chunks" and unknown_share(counts) > UNKNOWN_SHARE:
        return []  # no window helps (_unknown_tokens_advice); asked windows still say their cost
    lengths = [tokens for tokens, _ in counts]
    if windows_or_start(requested, lengths, window) == "chunks":
        return _chunk_cost_advice(grid, lengths, window, model, requested)
    over = sum(n > window for n in lengths) / len(lengths)
    if over < 0.5:
        return []
    limit = usable_window(inputs.model_paths[model])
    longer = f" (then {embedded_share(lengths, limit):.0%} of the text)" \
        if limit and limit > window else ""
    return [f"{grid.path}: embedding.max_length: {over:.0%} of the documents are longer than "
            f"{window} of {model}'s tokens, and only a document's first {window} tokens are "
            f"embedded: {embedded_share(lengths, window):.0%} of the text on average; if "
            f"topics live past the start, {_longer_window(limit, window)}{longer}"
            f"{_CHUNKS_HINT}"]


_CHUNKS_HINT = ', or set embedding.long_documents to "chunks" to embed every window of the ' \
    "text and average them"


def _longer_window(limit: int | None, window: int) -> str:
    if limit is None:
        return "raise max_length, up to the model's limit"
    return f"raise max_length, up to {limit} for this model" if limit > window \
        else "use a model with a longer window"


WINDOWS_FROM_SHARE = 0.5  # auto: the windows when the starts embed less of the text than this


def windows_or_start(requested: str, lengths: Sequence[int] | None, window: int,
                     unknown: float = 0.0) -> str:
    """`embedding.long_documents` with auto resolved from the sampled documents' token counts:
    "chunks" when a document's start embeds less than half of its text on average, else
    "start" (also when the model's tokenizer cannot be read here). Measured with
    bench/long_documents.py (k-means ARI on MiniLM's embeddings, start → chunks): UN speeches,
    10% of the text in the start, 0.090 → 0.499 at 7 times the encoding time; 20ng-mini, 75%,
    0.442 → 0.455, where the windows cost the demo 346 s of embedding against 55 s (a 160 kB
    post alone makes 546 windows). A model that does not know more than UNKNOWN_SHARE of the
    tokens (`unknown`: MiniLM on Chinese, 63% of THUCNews's) embeds the start: its windows are
    [UNK] alike, and cost 1,000 THUCNews articles about 5 times the work (Chinese audit of
    2026-12-05: 11 minutes projected against 90 s for the whole sweep with the start)."""
    if requested != "auto":
        return requested
    if not lengths or unknown > UNKNOWN_SHARE:
        return "start"
    return "chunks" if embedded_share(lengths, window) < WINDOWS_FROM_SHARE else "start"


def unknown_share(counts: Sequence[tuple[int, int]]) -> float:
    """The share of the counted tokens (model_token_counts) the model makes [UNK]."""
    return sum(u for _, u in counts) / max(1, sum(n for n, _ in counts))


CHUNK_COST_NOTED = 3.0  # times the starts' work from which the windows' cost is said


def _chunk_cost_advice(grid: Grid, lengths: Sequence[int], window: int, model: str,
                       requested: str) -> list[str]:
    """The windows' cost against the starts', counted in tokens the model runs (a window is
    padded to the batch's longest): said when a user would want to know it before the sweep."""
    work = sum(max(1, math.ceil(n / window)) * window for n in lengths)
    cost = work / max(1, sum(min(max(n, 1), window) for n in lengths))
    if cost < CHUNK_COST_NOTED:
        return []
    why = f" (auto: a document's start holds {embedded_share(lengths, window):.0%} of its " \
        "text on average)" if requested == "auto" else ""
    return [f"{grid.path}: embedding.long_documents: each document is embedded in windows of "
            f"{window} of {model}'s tokens{why}, about {cost:.0f} times the work of its "
            "start alone (once per corpus and model, then cached; THETA's LoRA re-encodes in "
            'each trial); set it to "start" to embed the starts']


def _rough_truncation_advice(grid: Grid, inputs: CheckedInputs, window: int, model: str
                             ) -> list[str]:
    """For a model whose tokenizer cannot be read here: the median document's length in words
    and Han characters against twice the window."""
    lengths = sorted(approximate_tokens(t) for t in sample_documents(inputs.corpus.texts))
    median = lengths[len(lengths) // 2] if lengths else 0
    if median <= 2 * window:
        return []
    limit = usable_window(inputs.model_paths[model])
    return [f"{grid.path}: embedding.max_length: the median document has about {median} "
            f"tokens (a word, or a Chinese character, each), and only its first {window} "
            f"tokens are embedded; if topics live past the start, "
            f"{_longer_window(limit, window)}{_CHUNKS_HINT}"]


def embedded_share(lengths: Sequence[int], window: int) -> float:
    """The mean share of a document's tokens that a window of `window` tokens embeds."""
    return sum(min(1.0, window / n) if n else 1.0 for n in lengths) / len(lengths)


ADVICE_SAMPLE = 200  # documents whose tokens are counted: about 0.2 s for long ones


def sample_documents(texts: Sequence[str], size: int = ADVICE_SAMPLE) -> Sequence[str]:
    return even_sample(texts, size)  # validation stays quick


UNKNOWN_SHARE = 0.1  # of a corpus's tokens an embedding model cannot read: then say so


def _unknown_tokens_advice(grid: Grid, inputs: CheckedInputs,
                           counted: dict[str, list[tuple[int, int]] | None]) -> list[str] | None:
    """Each embedding model that makes many of the corpus's tokens [UNK] (MiniLM: 60% of
    THUCNews-mini's, whose headlines it then clusters by the few characters it knows, 星 or
    南); None where no model's tokenizer could be read."""
    found: list[str] = []
    measured = False
    for model, counts in counted.items():
        if counts is None:
            continue
        measured = True
        share = unknown_share(counts)
        if share > UNKNOWN_SHARE:
            users = sorted({p.model for p in inputs.plan if p.embedding is not None
                            and p.embedding.model == model})
            found.append(f"{grid.path}: embedding.model: '{model}' does not know {share:.0%} of "
                         "this corpus's tokens (its tokenizer makes them [UNK]), so documents "
                         f"are embedded by the few words it knows, and {', '.join(users)} "
                         f"work{'s' * (len(users) == 1)} from those embeddings: name a model "
                         f"trained on this language (for Chinese, {CHINESE_MODELS})")
    return found if measured else None


def _time_slice_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """DTM's "year" slices on a corpus of one year: one slice, nothing evolves. "bins:N" on
    fewer than N distinct dates: slices of one date, which split its documents by file order."""
    rules = {str(p.params["time_slices"]): p.model for p in inputs.plan
             if p.params.get("time_slices")}
    if not rules or inputs.corpus.timestamps is None:
        return []
    dates = parse_timestamps(inputs.corpus.timestamps, inputs.corpus.ids, inputs.corpus.source,
                             grid.dataset.timestamp_field)
    years, days, found = {d.year for d in dates}, len(set(dates)), []
    if "year" in rules and len(years) == 1:
        found.append(f"{grid.path}: params.time_slices: every document is dated {min(years)}, "
                     f"so 'year' gives {rules['year']} one time slice and its topics cannot "
                     "evolve; use 'bins:N' (N slices of equal document count)")
    for rule in sorted(r for r in rules if r.startswith("bins:") and int(r[5:]) > days):
        found.append(f"{grid.path}: params.time_slices: '{rule}' on documents of {days} "
                     "distinct dates: some slices hold one date, whose documents are split "
                     f"between slices by their order in the file; use at most 'bins:{days}'")
    swept = {str(v) for sweep in grid.sweeps for v in sweep.values_of("time_slices")}
    if any(r.startswith("bins:") for r in set(rules) | swept):  # a TPE plan shows defaults
        found += _mixed_precision_advice(grid, inputs.corpus.timestamps)
    return found


def _mixed_precision_advice(grid: Grid, timestamps: Sequence[str]) -> list[str]:
    """Years alone beside full dates: a year reads as its 1 January, so 'bins:N' orders those
    documents before the rest of their year, and a slice's edge can split one year's
    documents by how their dates were written (1985 and 1985-06-01)."""
    counts = Counter(precision(value) for value in timestamps)
    if len(counts) < 2:
        return []
    kinds = {"year": "a year alone", "month": "a year and month", "day": "a full date"}
    said = ", ".join(f"{n} {kinds[kind]}" for kind, n in counts.most_common())
    alone = "a year alone reads as its 1 January" if "month" not in counts else \
        "a year or a month alone reads as its first day"
    return [f"{grid.path}: dataset.timestamp_field: the documents' dates differ in precision "
            f"({said}); {alone}, so 'bins:N' slices may split a year's documents by how their "
            "dates were written; give every document the same precision, or use time_slices "
            "'year'"]


# Encoders whose positions count from the first token: left padding (last-token pooling pads
# on the left) moves them, so a document's vector depends on its batch (cosine down to 0.52
# between batch sizes 32 and 1 with MiniLM). RoBERTa's kind counts its positions past the
# padding, and is not moved.
ABSOLUTE_POSITION_KINDS = frozenset({"bert", "distilbert", "electra", "albert", "mobilebert"})


def _pooling_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """last_token pooling is for decoder-style embedding models (Qwen3-Embedding)."""
    found = []
    for spec in sorted({p.embedding for p in inputs.plan if p.embedding is not None},
                       key=lambda e: (e.model, e.pooling)):
        kind = model_kind(inputs.model_paths[spec.model])
        if spec.pooling == "last_token" and kind in ABSOLUTE_POSITION_KINDS:
            found.append(f"{grid.path}: embedding.pooling: last_token on '{spec.model}' "
                         f"({kind}): it pads on the left, which moves this model's positions, "
                         "so a document's vector depends on its batch; use mean or cls")
    return found


DUPLICATE_SHARE = 0.01  # of the documents repeating an earlier one's text: then say so
# distinct texts per document at or under which the text field is likely the wrong one: a label
# field read as the text (5 texts for 600 BBC articles) would otherwise be warned of only as
# copies
FEW_TEXTS = 0.05
OUTSIZED = 20  # times the median document's characters (and OUTSIZED_CHARACTERS at least)
OUTSIZED_CHARACTERS = 10_000


# zero-width spaces and joiners, and the byte order mark: no text, though no whitespace either
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), " ")


def _duplicate_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Texts repeated exactly (spaces aside, and @handles where strip_mentions drops them: with
    their handles compared, 80 retweets of 1,340 social posts go uncounted) weigh once per copy
    in every model: three copies of one headline make a whole BTM topic of toutiao headlines,
    6.8% of whose 20,000 repeat one."""
    seen: dict[bytes, str] = {}  # digest -> first id: a second copy of the texts is not kept
    repeats = blank = 0
    blank_ids: list[str] = []  # the first few, so a user can find them:
    repeat_ids: list[str] = []  # "drop them" alone names none
    handles = grid.preprocessing.strip_mentions  # "RT @user: <a post>" is the post again
    for doc_id, text in zip(inputs.corpus.ids, inputs.corpus.texts, strict=True):
        words = " ".join(text.translate(_INVISIBLE).split())
        if not words:  # no text is no copy (else null texts count as repeats of each other)
            blank += 1
            blank_ids += [doc_id] if len(blank_ids) < SHOWN_IDS else []
            continue
        if handles:  # the repost mark's colon stays behind its handle
            words = " ".join(MENTION.sub(" ", words).lstrip(" :：").split())
            if not words:  # a post of handles alone copies nothing
                continue
        digest = hashlib.blake2b(words.encode(), digest_size=16).digest()
        if digest in seen:
            repeats += 1
            repeat_ids += [f"{doc_id} (as {seen[digest]})"] if len(repeat_ids) < SHOWN_IDS else []
        else:
            seen[digest] = doc_id
    documents, found = len(inputs.corpus.texts), []
    if blank:
        found.append(f"{grid.path}: dataset.text_field {field_names(grid.dataset.text_field)}: "
                     f"{blank} of {documents} documents ({blank / documents:.1%}) "
                     f"{'has' if blank == 1 else 'have'} no text (null, blank or absent; ids "
                     f"{_ids_said(blank_ids, blank)}); they are in no topic and count in no "
                     "word: drop them")
    if documents >= 20 and len(seen) <= FEW_TEXTS * documents:
        found.append(f"{grid.path}: dataset.text_field {field_names(grid.dataset.text_field)}: the "
                     f"{documents} documents hold only {len(seen)} distinct texts: is it the "
                     "field that holds each document's text?")
    elif repeats >= 3 and repeats >= DUPLICATE_SHARE * documents:
        aside = " (its @handles aside, as strip_mentions drops them)" if handles else ""
        found.append(f"{grid.path}: dataset.path: {repeats} of {documents} documents "
                     f"({repeats / documents:.1%}) repeat an earlier document's text exactly"
                     f"{aside} (ids {_ids_said(repeat_ids, repeats)}); "
                     "each copy weighs in every model, and a few copies can make a topic of "
                     "their own: remove the copies unless the repetition is meant")
    return found


SHOWN_IDS = 3  # document ids a warning names


def _ids_said(ids: Sequence[str], count: int) -> str:
    return ", ".join(ids) + (f" and {count - len(ids):,} more" if count > len(ids) else "")


def _left_out_files_advice(grid: Grid) -> list[str]:
    """What a corpus folder holds that is not a document, counted by suffix (never named: a
    served sweep's warnings show no data), so that nothing is left out unsaid."""
    if not grid.dataset.path.is_dir():
        return []
    _, left_out = corpus_files(grid.dataset.path)
    others = [path for path in left_out if path.is_file()  # a FIFO, a device, a link to nothing:
              and path.resolve() != grid.path.resolve()]  # counted apart; the grid's own file,
    odd = [path for path in left_out if not path.is_file()]  # written there, is no news
    found = []
    if others:
        suffixes = Counter(path.suffix.lower() for path in others)
        counted = ", ".join(f"{n} {suffix}" for suffix, n in suffixes.most_common(5))
        many = len(others) != 1
        found.append(f"{grid.path}: dataset.path: {len(others)} file{'s' * many} of the corpus "
                     f"folder {'are not documents and are' if many else 'is not a document and is'}"
                     f" left out ({counted}{', ...' if len(suffixes) > 5 else ''}): its documents "
                     f"are the files with no suffix or {', '.join(DOCUMENT_SUFFIXES)}; convert "
                     "the others to text to include them")
    if odd:  # not counted in `others`, so said here, lest they be passed over unsaid
        found.append(f"{grid.path}: dataset.path: {len(odd)} "
                     f"{'entries' if len(odd) != 1 else 'entry'} of the corpus folder "
                     f"{'are' if len(odd) != 1 else 'is'} no regular file (a FIFO, a device, a "
                     "socket or a link to nothing) and left out")
    return found


def _outsized_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """A document many times the typical length (a uuencoded attachment of 160,000 characters
    in 20ng-mini) weighs in the word counts as many documents do: LDA's and ProdLDA's topics
    "max pl ms mm m3" come from one post."""
    lengths = sorted(len(text) for text in inputs.corpus.texts)
    if not lengths:
        return []
    median = lengths[len(lengths) // 2]
    limit = max(OUTSIZED * median, OUTSIZED_CHARACTERS)
    outsized = [n for n in lengths if n > limit]
    if not outsized:
        return []
    many = len(outsized)
    return [f"{grid.path}: dataset.path: {many} document{'s' * (many != 1)} over {OUTSIZED} "
            f"times the median document's {median:,} characters (the longest {outsized[-1]:,}) "
            "weigh in the word counts as many documents do, and can make topics of their own "
            "(an attachment, a concatenated file): look at them, and drop any that is not text"]


MARKUP_SHARE = 0.05  # of the documents holding web debris: then suggest strip_markup


def _markup_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Web text's tags, entities and addresses come apart into words (&amp; is amp, a link is
    https, www and com) that then head topics."""
    if grid.preprocessing.strip_markup:
        return []
    sample = sample_documents(inputs.corpus.texts, 2000)  # a regular expression's search: cheap
    share = sum(WEB_DEBRIS.search(text) is not None for text in sample) / max(1, len(sample))
    if share < MARKUP_SHARE:
        return []
    return [f"{grid.path}: preprocessing.strip_markup: {share:.0%} of the documents hold HTML "
            "tags or entities, or web addresses, whose pieces become words (amp, quot, nbsp, "
            "https, www, com); set it to true to drop them"]


QUOTING_SHARE = 0.2  # of the documents holding quoted replies or mail headers: then say so


def _quoting_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Mail and forum posts whose quoted replies and headers lead topics with writes, article
    and edu: this points at the strips made for them, where naming those words as shared
    points at extra_stopwords alone (half of 1,500 20NG posts quote)."""
    settings = grid.preprocessing
    if settings.strip_quotes and settings.strip_headers:
        return []
    sample = [text[:CHARACTERS_COUNTED] for text in sample_documents(inputs.corpus.texts, 500)]
    least = QUOTING_SHARE * max(1, len(sample))
    quoting = sum(map(quotes_replies, sample)) >= least
    headers = sum(len(mail_headers(text)) >= 2 for text in sample) >= least
    asked = [name for name, found, on in (("strip_quotes", quoting, settings.strip_quotes),
                                          ("strip_headers", headers, settings.strip_headers))
             if found and not on]
    if not asked:
        return []
    return [f"{grid.path}: preprocessing: {QUOTING_SHARE:.0%} or more of the documents hold "
            f"{' and '.join(WHAT_IT_DROPS[a] for a in asked)}, whose words (writes, article, edu, "
            f"organization) lead topics; set {' and '.join(asked)} to true (with stopwords "
            "\"mallet\": on 20ng-mini boilerplate words fell from 35.5% of LDA's top-10 words to "
            "3.5%, bench/boilerplate_share.py)"]


WHAT_IT_DROPS = {"strip_quotes": "quoted replies (\"... writes:\", \"> ...\")",
                 "strip_headers": "mail or news headers (From:, Subject:, Organization:)"}


def _mention_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Social posts' @handles are words to a tokeniser, and a few busy accounts head topics of
    tweets."""
    embedded = sorted({p.model for p in inputs.plan if p.embedding is not None})
    if grid.preprocessing.strip_mentions:
        return [f"{grid.path}: preprocessing.strip_mentions: it changes the bags of words "
                f"only; {', '.join(embedded)} read{'s' * (len(embedded) == 1)} document "
                "embeddings of the raw text, handles included (an audit's BERTopic grouped "
                "retweets of one account)"] if embedded else []
    sample = sample_documents(inputs.corpus.texts, 2000)
    share = sum(MENTION.search(text) is not None for text in sample) / max(1, len(sample))
    if share < MARKUP_SHARE:
        return []
    return [f"{grid.path}: preprocessing.strip_mentions: {share:.0%} of the documents hold "
            "@handles or repost marks (RT:, 转发微博), which become words that can head topics; "
            "set it to true to drop them"]


def _supervised_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """THETA's supervised mode trains on the labels ARI, NMI and F1 then compare it with (BBC:
    ARI 0.94 against LDA's 0.84, with the worst NPMI)."""
    if inputs.truth is None or not any(p.model.upper() == "THETA"
                                       and p.params.get("mode") == "supervised"
                                       for p in inputs.plan):
        return []
    return [f"{grid.path}: params.mode: THETA's supervised trials train on the labels that ARI, "
            "NMI and F1 compare them with, so those scores flatter them beside unsupervised "
            "models (the leaderboard notes them 'trained on the labels'); compare by npmi and "
            "diversity, or score them against labels the fit did not see"]


def _model_size_advice(grid: Grid) -> list[str]:
    """THETA's model_size picks a Qwen3 model only when the grid's embedding section names none:
    three sizes beside an explicit embedding.model run three identical trials."""
    return [f"{grid.path}: params.model_size: {sweep.model} embeds with embedding.model, which "
            "the grid names, so model_size changes nothing here; remove one of them"
            for sweep in grid.sweeps if grid.names_embedding_model and "model_size" in sweep.space]


def _stop_word_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """An English stop list on text tokenised as Chinese (its LDA topics begin 为什么 哪些 and
    什么 我们 一起 没有), and an extra stop word no token can equal drops nothing."""
    settings = grid.preprocessing
    found = []
    if inputs.corpus.language == "zh" and settings.stopwords in ("english", "mallet"):
        found.append(f"{grid.path}: preprocessing.stopwords: '{settings.stopwords}' is an "
                     "English list, and the text is tokenised as Chinese, so no Chinese stop "
                     "word (的, 我们, 什么) is dropped; use \"auto\" or \"chinese\" (which holds "
                     "the English stop words too)")
    found += _user_word_advice(grid, inputs)
    never = unmatchable_stop_words(settings, inputs.corpus.language)
    if not never:
        return found
    letter = "with a letter in it (5g, 4s店)" if inputs.corpus.language == "zh" \
        else "starting with a letter"
    return found + [
        f"{grid.path}: preprocessing.extra_stopwords: {_listed(never)} can never be a token (a "
        f"token is one word of {settings.min_token_len} to {MAX_TOKEN_LEN} characters, "
        f"{letter}, with no space, dot or other mark inside), so "
        f"{'it drops' if len(never) == 1 else 'they drop'} nothing"]


def _user_word_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """`user_words` where no trial segments Chinese, and user words jieba cannot keep whole
    (a character it does not segment) or keeps whole as no token can be (a mark inside), which
    drops the words inside them."""
    settings = grid.preprocessing
    if not settings.user_words:
        return []
    where = f"{grid.path}: preprocessing.user_words"
    if all(p.language != "zh" for p in inputs.plan):
        return [f"{where}: the text is tokenised as English, which splits words at spaces and "
                "marks, so these words (for jieba, which segments Chinese) change nothing"]
    split = unsegmentable_words(settings.user_words)
    found = [f"{where}: {_listed(split)} {_holds(split)} a character jieba does not segment "
             "(it cuts text at anything but Chinese, Latin letters, digits and + # & . _ % -), "
             "so it is never kept whole"] if split else []
    whole = tuple(w for w in settings.user_words if w not in split)
    never = unmatchable_words(whole, settings, "zh")
    if never:
        found.append(f"{where}: {_listed(never)} can never be a token (a token is one word of "
                     f"{settings.min_token_len} to {MAX_TOKEN_LEN} characters with a letter in "
                     "it and no mark inside), and jieba keeps it whole, so the words inside it "
                     "are dropped with it: leave it out, or list its parts")
    return found


def _listed(words: Sequence[str]) -> str:
    return ", ".join(repr(w) for w in words[:5]) + (f" and {len(words) - 5} more"
                                                    if len(words) > 5 else "")


def _holds(words: Sequence[str]) -> str:
    return "holds" if len(words) == 1 else "hold"


def _left_out_model_advice(grid: Grid) -> list[str]:
    """Settings of a model the grid's `models` leave out: kept and checked, not used."""
    from tuner.grid import left_out_settings

    params = grid.raw.get("params")
    if not isinstance(params, dict):
        return []
    unused = [key for _, key in left_out_settings(params, {s.model for s in grid.sweeps})]
    if not unused:
        return []
    shown = ", ".join(f"params.{key}" for key in unused[:5]) + \
        (f" and {len(unused) - 5} more" if len(unused) > 5 else "")
    return [f"{grid.path}: {shown}: {'its model is' if len(unused) == 1 else 'their models are'} "
            "not in this grid's models, so no trial uses "
            f"{'it' if len(unused) == 1 else 'them'}"]


def _pinned_seed_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """A model's own seed parameter set by the grid holds for every seed: BERTopic with
    `random_state` 7 and seeds [42, 43] fits one model twice, and its row reads ARI 0.1009 ±
    0.0000 over 2 seeds, as if it did not vary with the seed."""
    if len(grid.seeds) < 2:
        return []
    found = []
    for model in sorted({p.model for p in inputs.plan}):
        seed_param = load_trainer(model).seed_param
        if not seed_param:
            continue
        pinned = sorted({str(p.combo[seed_param]) for p in inputs.plan
                         if p.model == model and seed_param in p.combo})
        if pinned:
            found.append(f"{grid.path}: params.{model.lower()}.{seed_param}: {model}'s "
                         f"{seed_param} {', '.join(pinned)} holds for each of the grid's "
                         f"{len(grid.seeds)} seeds, so what it seeds is alike in every seed's "
                         "fit (BERTopic: its UMAP reduction, and under HDBSCAN clustering the "
                         "whole fit, whose spread over seeds then reads 0); leave "
                         f"{seed_param} out to let each seed set it")
    return found


def _pruning_advice(grid: Grid) -> list[str]:
    """A pruned model whose largest budget is not above the pruner's first checkpoint is never
    judged: LDA's default max_iter 100 at its min_budget 100 prunes nothing, and nothing else
    says so. Nor is a model that trains in one step (BERTopic)."""
    pruner = grid.search.pruner
    if pruner is None or not grid.search.prunes:
        return []
    found = []
    for sweep in grid.sweeps:
        trainer = load_trainer(sweep.model)
        if trainer.budget_param is None:
            found.append(f"{grid.path}: search.pruner: {sweep.model} trains in one step, with "
                         "no epochs or iterations to check, so the pruner stops none of its "
                         "trials")
            continue
        largest = largest_budget(sweep.model, sweep.space)
        low = pruner.min_resource or trainer.min_budget
        if largest <= low:
            found.append(f"{grid.path}: search.pruner: {sweep.model}'s {trainer.budget_param} "
                         f"is at most {largest}, not above the first checkpoint at {low} "
                         f"(min_resource): none of its trials is judged or pruned; set "
                         f"min_resource below {largest}, or raise {trainer.budget_param}")
    return found


def _sampling_budget_advice(grid: Grid) -> list[str]:
    """A model whose every trial runs below the budget its fits were measured to need
    (`Trainer.budget_advice`): LDA at its default 100 iterations is level with BTM on toutiao
    headlines, where at 500 it is well ahead (bench/sampling_budget.py)."""
    found = []
    for sweep in grid.sweeps:
        trainer = load_trainer(sweep.model)
        advice, param = trainer.budget_advice, trainer.budget_param
        if advice is None or param is None:
            continue
        values = [int(v) for v in sweep.values_of(param) if v is not None]
        if not values or max(values) >= advice.below:
            continue
        shown = (f"drawn up to {max(values)}" if sweep.sampled else f"at most {max(values)}") \
            if len(set(values)) > 1 else str(values[0])
        default = "" if param in sweep.space else " (its default)"
        declared = trainer.params.get(param)
        most = declared.constraint.bounds[1] if declared is not None else None
        key = f"{sweep.model.lower()}.{param}" if len(grid.sweeps) > 1 else param
        upward = " (its most)" if most == advice.suggested else " or more"
        found.append(f"{grid.path}: params: {sweep.model}'s {param} is {shown}{default}, too "
                     f"few for its fits to settle: {advice.measured}; set {key} to "
                     f"{advice.suggested}{upward}")
    return found


LABEL_COVERAGE = 0.9  # of the documents with a label, below which the scores are said to be
# on the labelled ones only


def _label_coverage_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Labels on few documents (two thirds null: else said only by the gt_coverage metric), or
    a class per document (the text field as the label field), which ARI, NMI and F1 cannot read
    as topics."""
    truth = inputs.truth
    if truth is None or not len(truth.labels):
        return []
    source = (f"dataset.label_field '{grid.dataset.label_field}'" if grid.ground_truth is None
              else "ground_truth")
    where = f"{grid.path}: {source}"
    found = []
    covered = int(truth.covered.sum())
    documents = len(truth.labels)
    if truth.outside:
        ids = "1 document id of the file is" if truth.outside == 1 else \
            f"{truth.outside:,} document ids of the file are"
        found.append(f"{where}: {ids} not in the corpus (e.g. "
                     f"{', '.join(i[:40] for i in truth.outside_examples)}); left out, "
                     f"as for a sample of a labelled dataset")
    found += _label_mix_advice(where, truth)
    if covered <= LABEL_COVERAGE * documents:
        found.append(f"{where}: {documents - covered} of {documents} documents "
                     f"({1 - covered / documents:.0%}) have no label; ARI, NMI and F1 are "
                     f"computed on the {covered} labelled ones (metric gt_coverage)")
    classes = len(set(truth.labels[truth.covered].tolist()))
    if covered >= 4 and classes > covered / 2:
        found.append(f"{where}: {classes} classes for {covered} labelled documents, nearly one "
                     "per document, so ARI, NMI and F1 against them say little of topics; name "
                     "the field that holds a category")
    # the sweeps' values, not the plan's: a TPE search plans only cache probes at defaults
    asked = [int(k) for sweep in grid.sweeps for k in sweep.values_of("num_topics")
             if isinstance(k, (int, float)) and not isinstance(k, bool)]  # a range's: floats
    if asked and max(asked) < classes <= covered / 2:
        # ARI puts K=10 above K=20 on 29 HuffPost classes for three models, NMI the opposite,
        # and F1 is 0.054 at K=10
        most = max(asked)
        found.append(f"{grid.path}: params.num_topics: at most {most} topics for the {classes} "
                     f"classes of {source}: at least {classes - most} classes "
                     f"are left unmatched, so F1 (macro over the classes) cannot exceed "
                     f"{most / classes:.2f}, and ARI and NMI may rank such K apart; "
                     + _more_topics_remedy(grid, most, classes))
    return found


def _label_mix_advice(where: str, truth: GroundTruth) -> list[str]:
    """Classes that ARI, NMI and F1 read wrongly: codes beside names (a CSV whose category is
    "0" to "4" in 30% of its rows and the five names in the rest scores LDA's ARI 0.55, against
    0.82 with the names alone), and one class that holds nearly every document (499 of 500: ARI
    0.0003 against -0.0005 ranks the sweep)."""
    counts = np.bincount(truth.labels[truth.covered], minlength=len(truth.names))
    sizes = {name: int(n) for name, n in zip(truth.names, counts.tolist(), strict=True) if n}
    found = []
    mixed = mixed_codes_said(sizes)
    if mixed:
        found.append(f"{where}: {mixed}")
    covered = sum(sizes.values())
    largest = max(sizes, key=sizes.__getitem__, default=None)
    if largest is not None and len(sizes) > 1 and sizes[largest] >= MAJORITY_SHARE * covered:
        found.append(f"{where}: one class, {largest[:40]!r}, holds "
                     f"{sizes[largest] / covered:.0%} of the {covered} labelled documents, so "
                     "ARI, NMI and F1 are near 0 for any fit and rank the sweep by noise; rank "
                     "by NPMI (`--metric npmi`), or set \"label_field\": null")
    return found


def mixed_codes_said(sizes: Mapping[str, int]) -> str | None:
    """What `validate` and `init` say of labels that are numbers beside names ("0" to "4" beside
    "sport", "tech" ...), each on MIXED_SHARE of the labelled documents or more, else None."""
    numbers = {label: n for label, n in sizes.items() if _CODE.fullmatch(label.strip())}
    names = {label: n for label, n in sizes.items() if label not in numbers and label}
    total = sum(n for label, n in sizes.items() if label)
    if len(numbers) < 2 or len(names) < 2 or not total or min(
            sum(numbers.values()), sum(names.values())) < MIXED_SHARE * total:
        return None

    def some(group: Mapping[str, int]) -> str:
        first = sorted(group, key=lambda label: (-group[label], label))[:3]
        more = ", ..." if len(group) > 3 else ""
        return f"{len(group)} ({', '.join(repr(label[:40]) for label in first)}{more}) " \
            f"on {sum(group.values()) / total:.0%} of the labelled documents"

    return (f"labels mix numbers and names: {some(numbers)}, and {some(names)}; if the numbers "
            "code the names, write each class one way, or ARI, NMI and F1 count them as classes "
            "of their own")


def _more_topics_remedy(grid: Grid, most: int, classes: int) -> str:
    """What to sweep for more classes than topics, within what the models take: "sweep up to
    139" for 139 classes would be refused, as LDA takes at most 100."""
    limits = [p.constraint.bounds[1] for s in grid.sweeps
              if (p := s.schema.get("num_topics")) is not None and p.constraint.bounds[1]]
    limit = int(min(limits)) if limits else classes
    if classes <= limit:
        return f"sweep num_topics up to {classes} to compare fits with the labels"
    if most < limit:
        return f"sweep num_topics up to {limit}, the most these models take"
    return (f"these models take at most {limit} topics: compare fits by ARI and NMI rather than "
            "F1, or group the classes into broader ones")


def _untopical_label_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Labels that are splits or years: ARI and F1 against them rank a sweep by noise."""
    if inputs.truth is None or inputs.corpus.labels is None or grid.ground_truth is not None:
        return []
    kind = not_topical(inputs.corpus.labels)
    if kind is None:
        return []
    folder = (": a corpus folder's labels are the folders its files are in, so put each file "
              "in a folder of its class (train/sport/001.txt)" if grid.dataset.path.is_dir()
              else "")
    return [f"{grid.path}: dataset.label_field '{grid.dataset.label_field}': every label is "
            f"one of {kind}, not a class of topics, so ARI, NMI and F1 against them say "
            f"nothing of topics{folder}; or set \"label_field\": null to rank by NPMI"]


def _label_case_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """Labels that differ only in case are two classes ("Sports" and "sports")."""
    if inputs.truth is None or inputs.corpus.labels is None or grid.ground_truth is not None:
        return []
    said = case_alike_said(inputs.corpus.labels)
    return [f"{grid.path}: dataset.label_field '{grid.dataset.label_field}': {said}"] \
        if said else []


def case_alike_said(labels: Iterable[str]) -> str | None:
    """What `validate` and `init` say of labels that differ only in case, else None."""
    by_fold: dict[str, set[str]] = {}
    for label in set(labels) - {""}:
        by_fold.setdefault(label.casefold(), set()).add(label)
    alike = sorted(sorted(group) for group in by_fold.values() if len(group) > 1)
    if not alike:
        return None
    shown = ", ".join(" and ".join(repr(label[:40]) for label in group) for group in alike[:3])
    more = f" and {len(alike) - 3} more" if len(alike) > 3 else ""
    return (f"labels that differ only in case are classes of their own ({shown}{more}); write "
            "each class one way if they are one")


def _unread_field_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """A dataset field that no model of the grid reads is not checked either (bad timestamps
    pass until a model that reads them, DTM, is added)."""
    read = {need for p in inputs.plan for need in fit_inputs(p.model)}
    found = []
    if grid.dataset.covariates and "covariates" not in read:
        found.append(f"{grid.path}: dataset.covariates: no model of this grid reads them "
                     "(STM does): their values are checked, and not used")
    if grid.dataset.timestamp_field and "timestamps" not in read:
        found.append(f"{grid.path}: dataset.timestamp_field: no model of this grid reads it "
                     "(DTM does), so its dates are not used, nor checked beyond the field's "
                     "presence")
    if grid.ground_truth is not None and grid.dataset.label_field:
        # else a file of random labels beside a topical label field is scored against, with
        # no word that the field is passed over
        found.append(f"{grid.path}: dataset.label_field: '{grid.dataset.label_field}' is not "
                     "used: ARI, NMI and F1 score against ground_truth "
                     f"({Path(grid.ground_truth).name}) when both are set; remove the one you "
                     "do not mean")
    return found


def _covariate_advice(grid: Grid, inputs: CheckedInputs) -> list[str]:
    """STM fits a column per level of a categorical covariate: a field with a level for nearly
    every document (an id, a URL, a date) gives it as many columns as documents, and numbers
    written as strings are levels, not a number."""
    if not any("covariates" in fit_inputs(p.model) for p in inputs.plan):
        return []
    found = []
    documents = len(inputs.corpus)
    for field_name, values in inputs.corpus.covariates.items():
        where = f"{grid.path}: dataset.covariates '{field_name}'"
        found += _covariate_value_advice(where, values, inputs.truth)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            continue
        levels = len({level_text(v) for v in values})
        if levels > max(10, documents // 10):
            found.append(f"{where}: {levels} distinct values for {documents} documents; as a "
                         "category STM fits a column per value (fewer than 10 documents a value on "
                         "average)")
        numbers = sum(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if 0 < numbers < len(values):
            rest = "true or false" if all(isinstance(v, (int, float)) for v in values) \
                else "text" if not any(isinstance(v, bool) for v in values) \
                else "text or true/false"
            found.append(f"{where}: {numbers} of {len(values)} values are numbers and the rest "
                         f"{rest}, so the field is a category; give every value as a number to "
                         "use it as one")
        elif all(_number_like(v) for v in values):
            suffix = grid.dataset.path.suffix.lower()
            source = f"a {suffix[1:].upper()} file holds only text: give it as JSONL or Parquet" \
                if suffix in (".csv", ".tsv") else "write them as JSON numbers"
            # no value quoted: warnings are logged to the sweep's run, which shows no data
            found.append(f"{where}: numbers written as strings (\"1970\" rather than 1970) "
                         f"are categories; to use them as a number, {source}")
    return found


# Measured (300 headlines, year x 10^e / 2000): the effects scale exactly to 1e150, and at
# 1e200 the regression's squares overflow into NaN topics
HUGE_COVARIATE = 1e150


def _covariate_value_advice(where: str, values: Sequence[Any], truth: GroundTruth | None
                            ) -> list[str]:
    """A covariate with one value (STM fits no effect for it: its column is the intercept's),
    and one the labels determine: STM then fits topic prevalence on what ARI, NMI and F1 score
    (the label field as a covariate: ARI 0.79 against 0.07 with a constant one)."""
    numbers = [abs(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers and len(numbers) == len(values) and max(numbers) > HUGE_COVARIATE:
        return [f"{where}: values reach {max(numbers):.0e}; beyond {HUGE_COVARIATE:.0e} their "
                "squares overflow in STM's regression (its trials fail with NaN topics): "
                "rescale it"]
    levels = {level_text(v) for v in values}
    if len(levels) == 1:
        return [f"{where}: every document has the same value, so STM fits no effect for it; "
                "drop it, or name a field that varies"]
    if truth is None:
        return []
    covered = truth.labels[truth.covered]
    classes = len(set(covered.tolist()))
    if classes < 2 or classes > len(covered) / 2:  # one class, or a class a document: said of
        return []  # the labels, and every covariate would "determine" them
    texts, labels = [level_text(v) for v in values], truth.labels.tolist()
    leak = ("so STM fits topic prevalence on the labels that ARI, NMI and F1 compare its topics "
            "with, and those scores flatter it; compare by npmi and diversity, or drop the "
            "covariate")
    if _determined_by(texts, labels):
        return [f"{where}: the labels determine it (each label has one value of it), {leak}"]
    if _determined_by(labels, texts) and _pure_by_chance(texts, labels) < PURE_BY_CHANCE:
        return [f"{where}: it determines the labels (each of its values has one label: a "
                f"subcategory or a source), {leak}"]
    return []


# How unlikely it must be that each level's documents share one label by chance before that
# counts: a level of one document always does, and a rule of 10 documents a level on average
# misses 64 countries' speeches, 1.7 a country, each under its continent.
PURE_BY_CHANCE = 1e-3


def _pure_by_chance(levels: Sequence[str], labels: Sequence[int]) -> float:
    """The chance that every level's labelled documents would share one label if labels fell on
    documents independently of the levels: the product over levels of sum_c p_c^n (n the
    level's labelled documents, p_c each label's share of them all)."""
    sizes = Counter(level for level, label in zip(levels, labels, strict=True) if label != -1)
    labelled = [label for label in labels if label != -1]
    shares = np.bincount(labelled) / len(labelled) if labelled else np.ones(1)
    chance = 1.0
    for size, levels_of_size in Counter(sizes.values()).items():  # one power per level size
        chance *= float(np.sum(shares ** size)) ** levels_of_size
        if chance < PURE_BY_CHANCE:
            break  # low enough: said
    return chance


def _determined_by(values: Sequence[Any], by: Sequence[Any]) -> bool:
    """Whether each key of `by` (a label, a level; -1, a document without a label, aside) goes
    with one value of `values`, over two keys or more."""
    seen: dict[Any, Any] = {}
    for value, key in zip(values, by, strict=True):
        if key == -1 or value == -1:
            continue
        if seen.setdefault(key, value) != value:
            return False
    return len(seen) > 1


def _number_like(value: Any) -> bool:
    """A string that spells a number ("1970", "2.5")."""
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def approximate_tokens(text: str) -> int:
    """About how many tokens an embedding model's tokeniser makes of `text`: a word per run of
    non-space letters, and one per Han character (BERT's WordPiece splits Chinese into single
    characters; Qwen's BPE fewer). Counted by spaces alone, a Chinese article of any length
    is one or a few "words", and never warned of."""
    han = len(HAN_CHARACTER.findall(text))
    return han + len(HAN_CHARACTER.sub(" ", text).split())


def bag_figures(bow: BagOfWords) -> str:
    """What a user should know of a bag of words: its words, and how many each document keeps."""
    mean, empty = _kept_per_document(bow)
    return (f"{len(bow.vocab)} words, {mean:.1f} per document once stop words and words outside "
            f"the vocabulary are dropped, {empty:.1%} of documents with none")


def _more_words(grid: Grid, capped: bool) -> str:
    """The settings that would keep more words, as the grid has them now (a stop list only
    where one is in use)."""
    settings = grid.preprocessing
    ways = ["a larger vocab_size"] if capped else []  # the cap cut words
    ways += [f"preprocessing.min_df below {settings.min_df}"] if settings.min_df > 1 else []
    if settings.stopwords != "none" or settings.extra_stopwords:  # a list to shorten
        ways.append("a shorter stop list")
    return f", or keep more words ({', '.join(ways)})" if ways else ""


def _fewer_empty(grid: Grid, capped: bool, words: int, language: str) -> str:
    """What would leave fewer documents without a word, from the settings the grid has now (not
    min_token_len 1 to a grid that has it; the vocab_size where it cuts the words: 6% empty at
    vocab_size 1,000, 2.6% at 5,000)."""
    settings = grid.preprocessing
    ways = [f"a vocab_size above {words} (the most frequent words it keeps)"] if capped else []
    if language == "zh" and settings.min_token_len > 1:
        ways.append("preprocessing.min_token_len 1 (one-character Chinese words)")
    if settings.min_df > 1:
        ways.append("preprocessing.min_df 1")
    if "BTM" not in {s.model for s in grid.sweeps}:
        ways.append("BTM, made for short texts")
    return f"Try {_either(ways)}" if ways else "The preprocessing keeps every word it can here"


def _either(ways: Sequence[str]) -> str:
    return ways[0] if len(ways) == 1 else ", ".join(ways[:-1]) + " or " + ways[-1]


def _kept_per_document(bow: BagOfWords) -> tuple[float, float]:
    """The mean number of words a document keeps, and the share of documents that keep none."""
    if bow.n_docs == 0:
        return 0.0, 0.0
    empty = float(np.mean(np.diff(bow.offsets) == 0))
    return len(bow.flat) / bow.n_docs, empty


def _models_bag_advice(where: str, bow: BagOfWords, users: Sequence[PlannedTrial]
                       ) -> list[str]:
    """What each model of these trials says of this bag of words (Trainer.bag_advice)."""
    lengths = np.diff(np.asarray(bow.offsets)).astype(np.int64)
    return [f"{where}: {text}" for model in sorted({p.model for p in users})
            for text in load_trainer(model).bag_advice(lengths)]


def bag_advice(grid: Grid, bow: BagOfWords, users: Sequence[PlannedTrial], language: str,
                label: str) -> list[str]:
    """Short texts leave few words: a diversity bounded by the vocabulary rather than by the
    model, and documents with no word, which no topic can have (300 toutiao headlines keep 180
    words, 1.6 a document, a quarter with none: every model's diversity is 180 / (100 x 25))."""
    where, found = f"{grid.path}: {label}", []
    words, topn = len(bow.vocab), grid.metrics.diversity_topn
    topics = max((int(p.params.get("num_topics") or 0) for p in users), default=0)
    capped = any(p.params.get("vocab_size") == words for p in users)  # the cap cut words
    listed = min(topn, words)  # a topic lists at most every word (8 texts, 5 words: a
    # bound of 5 / (10 x 25) = 0.02 is wrong where every trial scores 5 / (10 x 5))
    if topics and topics * listed > words:
        each = f" (a topic lists at most the {words} there are)" if listed < topn else ""
        found.append(f"{where}: the preprocessing leaves {words} words for {topics} topics x "
                     f"metrics.diversity_topn {topn}{each}, so diversity cannot exceed "
                     f"{words / (topics * listed):.2f} whatever the model; use fewer topics or "
                     f"a smaller diversity_topn{_more_words(grid, capped)}")
    mean, empty = _kept_per_document(bow)
    if empty >= 0.05:
        found.append(f"{where}: {empty:.0%} of the documents keep no word after preprocessing "
                     f"({mean:.1f} per document on average); no topic can have them (they count "
                     f"as outliers). {_fewer_empty(grid, capped, words, language)}")
    return found + _thin_npmi_advice(where, bow, mean) + _models_bag_advice(where, bow, users)


# Below both, NPMI's pair counts are too few to rank models by: on 1,200 toutiao headlines (3.3
# words each, 4,000 in all) NVDM's NPMI leads LDA's, -0.316 to -0.345, and its topics read as
# word salad; the same topics scored against all 20,000 headlines put LDA ahead, -0.233 to -0.283.
# The topics too: LDA at K=15 (100 iterations, seeds 42 and 43) on random toutiao headlines:
# ARI 0.054 and NPMI -0.317 on 2,000 (3.9 words each), 0.075 and -0.279 on 5,000, 0.193 and
# -0.088 on 20,000 (`tuner run`).
THIN_NPMI_WORDS = 10.0  # mean words a document keeps
THIN_NPMI_TOKENS = 50_000  # words the corpus keeps in all
THIN_NPMI_SAID = "NPMI counts its word pairs in these"  # how `tuner best` finds it said


def _thin_npmi_advice(where: str, bow: BagOfWords, mean: float) -> list[str]:
    tokens = len(bow.flat)
    if mean >= THIN_NPMI_WORDS or tokens >= THIN_NPMI_TOKENS:
        return []
    return [f"{where}: {THIN_NPMI_SAID} {bow.n_docs:,} documents alone, "
            f"{mean:.1f} words each ({tokens:,} in all): most pairs of a topic's words never "
            "share a window, so NPMI is a noisy estimate that can rank models otherwise than a "
            "larger corpus would; rank by ari or nmi where there are labels, or score the best "
            "trials' topics (their topics.json) against a larger corpus of such texts with "
            "`tuner score`, given a grid whose dataset is that corpus. The models learn their "
            "topics from these few words too: more documents of this kind, or a longer text "
            "field beside this one, help them more than any setting (LDA on toutiao headlines, "
            "K=15: ARI 0.054 on 2,000, 0.075 on 5,000, 0.193 on 20,000)"]
