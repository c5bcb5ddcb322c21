"""`embedding.long_documents`: a document longer than the window embedded whole, in windows."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from tests.conftest import write_jsonl
from tests.tuner.test_cli import make_grid
from tuner.cli import main
from tuner.data.embeddings import (
    MINILM_IDS,
    EmbeddingCache,
    EmbeddingKey,
    encode_texts,
    resolve_model_path,
)
from tuner.data.store import key_digest

MINILM = resolve_model_path(sorted(MINILM_IDS)[0])
WINDOW = 64


def encode(texts: list[str], long_documents: str, batch_size: int = 8) -> np.ndarray:
    return encode_texts(MINILM, texts, "mean", WINDOW, batch_size=batch_size, progress=False,
                        long_documents=long_documents)


def topic_text(records: list[dict], label: str, words: int) -> str:
    """The start of `label`'s posts, `words` words of them."""
    text = " ".join(r["text"] for r in records if r["label"] == label)
    return " ".join(text.split()[:words])


def test_a_key_that_embeds_the_start_keeps_the_digest_it_had_before_the_choice(tmp_path):
    """Matrices cached before `long_documents` existed embedded the start: still found."""
    key = EmbeddingKey("m", "r", "mean", 256, "raw", "corpus")
    before = {f.name: getattr(key, f.name) for f in dataclasses.fields(key)
              if f.name != "long_documents"}
    assert key.digest == key_digest(before)
    chunked = dataclasses.replace(key, long_documents="chunks")
    assert chunked.digest != key.digest
    cache = EmbeddingCache(tmp_path)
    cache.get_or_compute(chunked, lambda: np.ones((2, 3), dtype=np.float32))
    assert cache.load(key) is None
    sidecar = json.loads(cache.path_for(chunked).with_suffix(".json").read_text())
    assert sidecar["key"]["long_documents"] == "chunks"


def test_a_text_within_one_window_is_embedded_as_its_start_is(ng_records):
    short = [" ".join(r["text"].split()[:8]) for r in ng_records[:12]]  # under 64 tokens
    np.testing.assert_array_equal(encode(short, "chunks"), encode(short, "start"))


def test_the_end_of_a_long_document_counts_only_in_chunks(ng_records):
    """A post on hockey then, past the window, a long one on space: its start's embedding
    knows only hockey; the chunks' lies between the two (UN speeches open with greetings to
    the Assembly's president: continent ARI 0.09 from their starts, 0.50 from chunks)."""
    hockey = topic_text(ng_records, "rec.sport.hockey", 60)
    space = topic_text(ng_records, "sci.space", 400)
    document, start_of, end_of = encode([hockey + " " + space, hockey, space], "start")
    chunked = encode([hockey + " " + space], "chunks")[0]
    assert float(document @ end_of) < float(chunked @ end_of)
    assert float(chunked @ end_of) > float(chunked @ start_of)
    assert float(document @ start_of) > 0.99  # the start alone: the space post never read


def test_a_documents_chunk_embedding_does_not_depend_on_its_batch(ng_records):
    texts = [" ".join(r["text"].split()[:300]) for r in ng_records[:10]]
    together = encode(texts, "chunks", batch_size=5)
    alone = np.vstack([encode([t], "chunks", batch_size=1) for t in texts[:3]])
    np.testing.assert_allclose(together[:3], alone, atol=1e-4)


@pytest.fixture
def long_corpus(tmp_path, ng_records):
    rows = [{**r, "text": " ".join([r["text"]] * 40)} for r in ng_records[::50][:40]]
    return write_jsonl(tmp_path / "long.jsonl", rows)


@pytest.mark.parametrize("requested", ["chunks", "auto"])
def test_validate_says_what_the_windows_cost_instead_of_what_the_start_leaves_out(
        tmp_path, long_corpus, capsys, requested):
    path = make_grid(tmp_path, long_corpus, models=["bertopic"], params={"num_topics": 5})
    grid = json.loads(path.read_text())
    grid["embedding"]["long_documents"] = requested
    path.write_text(json.dumps(grid))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "tokens are embedded" not in err
    assert re.search(r"embedding.long_documents: each document is embedded in windows of 128 of "
                     r"[^ ]+'s tokens.*, about \d+ times the work of its start alone", err)
    assert ("(auto: a document's start holds" in err) is (requested == "auto")


def resolved(texts: list[str], requested: str = "auto", max_length: int = WINDOW) -> str:
    from tuner.data.embeddings import EmbeddingSpec
    from tuner.engine.sweep import long_documents

    return long_documents(EmbeddingSpec(max_length=max_length, long_documents=requested),
                          MINILM, texts)


def test_auto_embeds_the_windows_where_the_starts_hold_less_than_half_the_text(ng_records):
    """On 20ng-mini the starts of 256 tokens hold 75% of the text (windows: k-means ARI 0.442 →
    0.455 for 6 times the demo's embedding); on UN speeches 10% (0.090 → 0.499)."""
    texts = [r["text"] for r in ng_records]
    assert resolved(texts, max_length=256) == "start"
    assert resolved([" ".join([t] * 10) for t in texts], max_length=256) == "chunks"
    assert resolved(texts[:5], "chunks") == "chunks" and resolved(texts[:5], "start") == "start"


def test_auto_embeds_the_start_of_text_the_model_cannot_read(tmp_path):
    """MiniLM makes most Chinese tokens [UNK]: auto embedded THUCNews articles in windows, about 5
    times the work, and 11 minutes projected against 90 s for the whole sweep with the starts
    (Chinese audit of 2026-12-05); validate's window advice is not given for it either."""
    from tests.conftest import dataset_path, make_grid, read_jsonl
    from tuner.engine.advice import advisories
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid

    articles = [r["text"] for r in read_jsonl(dataset_path("thucnews-mini"))]
    assert resolved(articles, max_length=128) == "start"
    assert resolved(articles, "chunks", max_length=128) == "chunks"  # as asked
    grid = load_grid(make_grid(tmp_path, dataset_path("thucnews-mini"), models=["bertopic"],
                               params={"num_topics": 5},
                               embedding={"model": "sentence-transformers/all-MiniLM-L6-v2",
                                          "max_length": 128}))
    said = advisories(grid, check_inputs(grid))
    assert any("does not know" in a and "[UNK]" in a for a in said)
    assert not any("embedding.long_documents" in a or "embedding.max_length" in a for a in said)


def test_auto_on_short_texts_keeps_the_key_the_starts_had(tmp_path, ng_records):
    """Headlines fit one window: auto is "start", whose key predates the choice, so an upgrade
    recomputes nothing (a review found "chunks" re-keyed every matrix and trial)."""
    from tuner.data.corpus import DatasetSpec, load_corpus
    from tuner.data.embeddings import EmbeddingSpec
    from tuner.engine.sweep import embedding_key

    short = [{**r, "text": " ".join(r["text"].split()[:8])} for r in ng_records[::20]]
    corpus = load_corpus(DatasetSpec(path=write_jsonl(tmp_path / "short.jsonl", short)))
    auto = embedding_key(EmbeddingSpec(), MINILM, corpus)
    start = embedding_key(EmbeddingSpec(long_documents="start"), MINILM, corpus)
    assert auto == start and auto.long_documents == "start"


def test_a_value_other_than_start_or_chunks_is_refused_with_both(tmp_path, long_corpus, capsys):
    path = make_grid(tmp_path, long_corpus, models=["bertopic"], params={"num_topics": 5})
    grid = json.loads(path.read_text())
    grid["embedding"]["long_documents"] = "whole"
    path.write_text(json.dumps(grid))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "embedding.long_documents" in err and "start" in err and "chunks" in err


def test_best_reruns_a_sweep_on_what_it_embedded():
    """A sweep from before the choice embedded the starts; auto is written as what it chose
    (logged on the sweep run), so a later rule for auto cannot change the re-run (audit)."""
    from tuner.reporting.best import _as_embedded

    minilm = "sentence-transformers/all-MiniLM-L6-v2"
    recorded = {"embedding": {"model": minilm, "pooling": "mean", "max_length": 256}}
    assert _as_embedded(recorded, {})["embedding"]["long_documents"] == "start"
    logged = {"embedding_model": "m", "long_documents": "start",
              "embedding_model_1": minilm, "long_documents_1": "chunks"}
    for written, expected in (("auto", "chunks"), ("start", "start"), ("chunks", "chunks")):
        grid = {"embedding": {"model": "all-MiniLM-L6-v2", "long_documents": written}}
        assert _as_embedded(grid, logged)["embedding"]["long_documents"] == expected
    unlogged = {"embedding": {"model": minilm, "long_documents": "auto"}}
    assert _as_embedded(unlogged, {})["embedding"]["long_documents"] == "auto"


def test_a_sweep_embeds_the_windows_and_keys_them(tmp_path, ng_records):
    """The windows' matrix is cached under a key that says so, apart from the starts'."""
    from tuner.data.embeddings import EmbeddingCache
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.grid import load_grid

    short = [{**r, "text": " ".join(r["text"].split()[:8])} for r in ng_records[::100]]
    long = [r for r in ng_records[1::37] if len(r["text"].split()) > 200][:20]
    corpus = write_jsonl(tmp_path / "mixed.jsonl", short + long)
    keys = {}
    for mode in ("chunks", "start"):
        embedding = {"model": "sentence-transformers/all-MiniLM-L6-v2", "max_length": 64}
        path = make_grid(tmp_path / mode, corpus, models=["bertopic"], params={"num_topics": 5},
                         embedding=embedding | {"long_documents": mode})
        grid = load_grid(path)
        assert grid.embedding.long_documents == mode
        prepared = precompute(grid, check_inputs(grid), tmp_path / "cache", progress=False)
        keys[mode] = prepared.embedding_keys[0]
    assert keys["chunks"].long_documents == "chunks" and keys["start"].long_documents == "start"
    cache = EmbeddingCache(tmp_path / "cache")
    chunked, started = cache.load(keys["chunks"]), cache.load(keys["start"])
    assert chunked is not None and started is not None
    differ = np.abs(chunked - started).max(axis=1) > 1e-4
    assert not differ[:20].any() and differ[20:].all()  # the long posts differ, the short do not


def test_chunks_on_a_slow_tokenizer_says_to_embed_the_starts():
    """A slow (Python) tokenizer cuts no windows: it failed with KeyError
    'overflow_to_sample_mapping' (review of 2026-12-02)."""
    from transformers import AutoModel
    from transformers.models.bert_japanese.tokenization_bert_japanese import (
        BertJapaneseTokenizer,
    )

    from tuner.data.embeddings import encode_with
    from tuner.errors import EmbeddingModelError

    tokenizer = BertJapaneseTokenizer(str(MINILM / "vocab.txt"), word_tokenizer_type="basic",
                                      subword_tokenizer_type="wordpiece")
    assert not tokenizer.is_fast
    model = AutoModel.from_pretrained(MINILM, local_files_only=True).eval()
    texts = ["short one", "hello world " * 100]
    assert encode_with(model, tokenizer, texts, "mean", 32, long_documents="start").shape[0] == 2
    with pytest.raises(EmbeddingModelError, match='needs the model\'s fast tokenizer.*"start"'):
        encode_with(model, tokenizer, texts, "mean", 32, long_documents="chunks")


def test_the_windows_cost_is_said_when_a_few_long_posts_make_most_of_the_work(
        tmp_path, ng_records, capsys):
    """190 headlines and 10 posts of about 1,500 words average 2 windows a document, which
    said nothing, while the windows took 5 times as long as the starts (review of 2026-12-02):
    the cost is counted in tokens run."""
    headlines = [{**r, "text": " ".join(r["text"].split()[:8])} for r in ng_records[:190]]
    long = [{**r, "text": " ".join(r["text"].split() * 20)[:9000]} for r in ng_records[190:200]]
    corpus = write_jsonl(tmp_path / "few-long.jsonl", headlines + long)
    path = make_grid(tmp_path, corpus, models=["bertopic"], params={"num_topics": 5},
                     embedding={"model": "sentence-transformers/all-MiniLM-L6-v2",
                                "max_length": 128, "long_documents": "chunks"})
    assert main(["validate", str(path)]) == 0
    assert re.search(r"embedding.long_documents: each document is embedded in windows of 128 "
                     r".*about \d+ times the work of its start alone", capsys.readouterr().err)


def test_the_windows_key_holds_how_they_are_cut(monkeypatch):
    """A change to how windows are cut or weighed must not find the old matrices (review)."""
    from tuner.data import embeddings

    key = EmbeddingKey("m", "r", "mean", 256, "raw", "corpus", long_documents="chunks")
    before = key.digest
    monkeypatch.setattr(embeddings, "CHUNKING_REVISION", embeddings.CHUNKING_REVISION + 1)
    assert key.digest != before
    start = dataclasses.replace(key, long_documents="start")
    assert "chunking" not in start.record()
