"""`embedding.long_documents`: a document longer than the window embedded whole, in windows."""

from __future__ import annotations

import dataclasses
import json

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


def test_validate_says_what_chunks_cost_instead_of_what_the_start_leaves_out(tmp_path,
                                                                           long_corpus, capsys):
    path = make_grid(tmp_path, long_corpus, models=["bertopic"], params={"num_topics": 5})
    grid = json.loads(path.read_text())
    grid["embedding"]["long_documents"] = "chunks"
    path.write_text(json.dumps(grid))
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "tokens are embedded" not in err
    assert "embedding.long_documents: chunks: a document makes about" in err
    assert "times as long as embedding each document's start" in err


def test_a_value_other_than_start_or_chunks_is_refused_with_both(tmp_path, long_corpus, capsys):
    path = make_grid(tmp_path, long_corpus, models=["bertopic"], params={"num_topics": 5})
    grid = json.loads(path.read_text())
    grid["embedding"]["long_documents"] = "whole"
    path.write_text(json.dumps(grid))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "embedding.long_documents" in err and "start" in err and "chunks" in err


def test_best_reruns_a_sweep_from_before_the_choice_on_the_starts_it_embedded():
    from tuner.reporting.best import _as_embedded

    recorded = {"embedding": {"model": "m", "pooling": "mean", "max_length": 256}}
    assert _as_embedded(recorded)["embedding"]["long_documents"] == "start"
    chunked = {"embedding": {"model": "m", "long_documents": "chunks"}}
    assert _as_embedded(chunked)["embedding"]["long_documents"] == "chunks"


def test_a_sweep_embeds_the_windows_by_default_and_keys_them(tmp_path, ng_records):
    """The default is each document's windows; the matrix is cached under a key that says so,
    apart from the starts' matrix."""
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
                         embedding=embedding | ({"long_documents": mode} if mode == "start"
                                                else {}))
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
