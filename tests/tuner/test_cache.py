"""Embedding and bag-of-words caches: keys, hits, atomic writes, damaged files."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tuner.data.cooccurrence import count_cooccurrence
from tuner.data.corpus import DatasetSpec, load_corpus
from tuner.data.embeddings import EmbeddingCache, EmbeddingKey
from tuner.data.vocab import (
    BowCache,
    Preprocessing,
    build_vocabulary,
    count_tokens,
    make_bow,
    tokenize_corpus,
)

KEY = EmbeddingKey("sentence-transformers/all-MiniLM-L6-v2", "rev1", "mean", 256, "raw", "abc")


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(EmbeddingKey)])
def test_embedding_key_changes_when_any_part_changes(field):
    changed = dataclasses.replace(KEY, **{field: 512 if field == "max_length" else "other"})
    assert changed.digest != KEY.digest
    assert EmbeddingCache("/c").path_for(changed) != EmbeddingCache("/c").path_for(KEY)


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return np.arange(12, dtype=np.float32).reshape(4, 3)


def test_hit_computes_nothing_and_is_memory_mapped(tmp_path):
    cache, compute = EmbeddingCache(tmp_path), Counter()
    first, hit_first = cache.get_or_compute(KEY, compute)
    second, hit_second = cache.get_or_compute(KEY, compute)
    assert compute.calls == 1 and (hit_first, hit_second) == (False, True)
    assert isinstance(second, np.memmap)
    np.testing.assert_array_equal(first, second)
    sidecar = json.loads(cache.path_for(KEY).with_suffix(".json").read_text())
    assert sidecar["key"]["model"] == KEY.model and sidecar["shape"] == [4, 3]


def test_embeddings_read_from_the_cache_are_not_counted_as_reused_work(tmp_path):
    """Embeddings are computed before any trial, and in no trial's seconds: once EmbeddingCache
    was built on ArrayCache, each read of a fine-tuned encoder's added their compute seconds to
    the trial's shared_seconds (review of 2026-12-05). A UMAP reduction's read counts."""
    from tuner.data.store import ArrayCache, cached_work_seconds

    cache, compute = EmbeddingCache(tmp_path), Counter()
    cache.get_or_compute(KEY, compute)
    arrays = ArrayCache(tmp_path / "umap", "umap")
    arrays.get_or_compute({"k": 1}, compute)
    with cached_work_seconds() as ledger:
        assert cache.get_or_compute(KEY, compute)[1]
        assert ledger == []
        arrays.get_or_compute({"k": 1}, compute)
        assert len(ledger) == 1
    assert compute.calls == 2


def test_truncated_file_is_recomputed(tmp_path):
    cache, compute = EmbeddingCache(tmp_path), Counter()
    cache.get_or_compute(KEY, compute)
    path = cache.path_for(KEY)
    path.write_bytes(path.read_bytes()[:-8])
    assert cache.load(KEY) is None
    cache.get_or_compute(KEY, compute)
    assert compute.calls == 2


def test_same_size_corruption_is_caught_by_checksum(tmp_path):
    cache, compute = EmbeddingCache(tmp_path), Counter()
    cache.get_or_compute(KEY, compute)
    path = cache.path_for(KEY)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cache.load(KEY, verify=True) is None
    cache.get_or_compute(KEY, compute)
    assert compute.calls == 2


def test_sidecar_for_another_key_is_not_used(tmp_path):
    cache, compute = EmbeddingCache(tmp_path), Counter()
    cache.get_or_compute(KEY, compute)
    sidecar = cache.path_for(KEY).with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    meta["key"]["pooling"] = "cls"
    sidecar.write_text(json.dumps(meta))
    assert cache.load(KEY) is None


def test_failed_compute_leaves_no_file(tmp_path):
    cache = EmbeddingCache(tmp_path)

    def broken() -> np.ndarray:
        raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_compute(KEY, broken)
    assert not any(p.suffix in (".npy", ".tmp") for p in tmp_path.iterdir())


@pytest.fixture(scope="module")
def corpus(small_corpus):
    return load_corpus(DatasetSpec(small_corpus))


@pytest.mark.parametrize("change", [
    {"vocab_size": 2000}, {"settings": Preprocessing(min_df=3)},
    {"settings": Preprocessing(stopwords="none")}, {"language": "zh"},
])
def test_bow_key_changes_with_size_settings_and_language(tmp_path, corpus, change):
    cache = BowCache(tmp_path)
    base = cache.path_for(corpus, 1000, Preprocessing())
    other_corpus = dataclasses.replace(corpus, language=change.get("language", "en"))
    other = cache.path_for(other_corpus, change.get("vocab_size", 1000),
                           change.get("settings", Preprocessing()))
    assert other != base


def test_bow_cache_hit_returns_the_same_bag(tmp_path, corpus):
    cache = BowCache(tmp_path)
    first = cache.get_or_compute(corpus, 1000, Preprocessing())
    folder = cache.path_for(corpus, 1000, Preprocessing())
    mtime = (folder / "flat.npy").stat().st_mtime_ns
    second = cache.get_or_compute(corpus, 1000, Preprocessing())
    assert (folder / "flat.npy").stat().st_mtime_ns == mtime
    assert first.vocab == second.vocab and len(first.vocab) == 1000
    np.testing.assert_array_equal(first.flat, second.flat)


def test_vocabulary_respects_document_frequency_filters(tmp_path, corpus):
    settings = Preprocessing(min_df=5, max_df=0.3)
    bow = BowCache(tmp_path).get_or_compute(corpus, 20000, settings)
    df = (bow.matrix() > 0).sum(axis=0).A1
    assert df.min() >= 5 and df.max() <= 0.3 * len(corpus)
    assert "the" not in bow.vocab  # English stop word


@pytest.mark.parametrize("vocab_size", [1000, 20000])
def test_token_counts_build_the_bag_the_token_lists_build(corpus, vocab_size):
    settings = Preprocessing()
    docs = tokenize_corpus(corpus, settings)
    counts = count_tokens(corpus, settings)
    vocab = counts.vocabulary(vocab_size, settings)
    assert vocab == build_vocabulary(docs, vocab_size, settings)
    expected, bow = make_bow(docs, vocab, "k"), counts.bag_of_words(vocab, "k")
    np.testing.assert_array_equal(bow.flat, expected.flat)
    np.testing.assert_array_equal(bow.offsets, expected.offsets)


def test_bow_cache_returns_a_memory_mapped_bag(tmp_path, corpus):
    bow = BowCache(tmp_path).get_or_compute(corpus, 1000, Preprocessing())
    assert isinstance(bow.flat, np.memmap)


def test_cooccurrence_counted_in_chunks_equals_counted_at_once(corpus):
    counts = count_tokens(corpus, Preprocessing())
    bow = counts.bag_of_words(counts.vocabulary(1000, Preprocessing()), "k")
    whole = count_cooccurrence(bow, 10, chunk_tokens=len(bow.flat))
    chunked = count_cooccurrence(bow, 10, chunk_tokens=3000)  # many chunks
    assert chunked.n_windows == whole.n_windows
    assert (chunked.pairs != whole.pairs).nnz == 0 and whole.pairs.nnz > 0


def test_kept_token_counts_in_chunks_equal_counted_at_once(corpus):
    settings = Preprocessing()
    counts = count_tokens(corpus, settings)
    stream = counts.kept_stream(counts.vocabulary(1000, settings), "k", settings)
    assert (stream.flat == -1).any()  # kept words outside the vocabulary hold window places
    whole = count_cooccurrence(stream, 10, chunk_tokens=len(stream.flat))
    chunked = count_cooccurrence(stream, 10, chunk_tokens=3000)
    assert chunked.n_windows == whole.n_windows
    assert (chunked.pairs != whole.pairs).nnz == 0 and whole.pairs.nnz > 0


def test_missing_kept_token_counts_are_named_not_counted_from_the_vocabulary(tmp_path, corpus):
    """A worker has no corpus to count every kept token from: it must not fall back to the
    vocabulary's windows, which score the same topics differently."""
    from tuner.data.cooccurrence import CooccurrenceCache
    from tuner.errors import CacheError

    bow = BowCache(tmp_path).get_or_compute(corpus, 1000, Preprocessing())
    with pytest.raises(CacheError, match=r"cooc-kept-w10\.npz: the co-occurrence counts over "
                                         r"the preprocessed corpus are missing"):
        CooccurrenceCache(BowCache(tmp_path)).get_or_compute(bow, 10, "preprocessed")


def test_array_cache_catches_same_size_damage(tmp_path):
    """UMAP reductions and word vectors were checked by size alone: bytes zeroed in place were
    read as a hit and changed a trial's ARI (audit of 2026-12-01)."""
    from tuner.data.store import ArrayCache

    cache, compute, key = ArrayCache(tmp_path, "umap"), Counter(), {"n_neighbors": 15}
    cache.get_or_compute(key, compute)
    path = cache.path_for(key)
    data = bytearray(path.read_bytes())
    data[-4:] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    assert cache.load(key) is None
    _, hit = cache.get_or_compute(key, compute)
    assert not hit and compute.calls == 2


def test_bow_cache_catches_same_size_damage(tmp_path, corpus):
    cache = BowCache(tmp_path)
    expected = np.array(cache.get_or_compute(corpus, 1000, Preprocessing()).flat)  # a copy
    folder = cache.path_for(corpus, 1000, Preprocessing())
    flat = np.load(folder / "flat.npy")
    flat[:10] = flat[:10] + 1
    np.save(folder / "flat.npy", flat)
    assert cache.load(folder) is None
    again = cache.get_or_compute(corpus, 1000, Preprocessing())
    np.testing.assert_array_equal(again.flat, expected)


def _flip_header_byte(path):
    """One bit of the .npy header's dict ("{" at byte 10) flipped: numpy parses the header as a
    Python literal, and raised SyntaxError, which no cache caught (audit of 2026-12-01)."""
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["flat.npy", "offsets.npy"])
def test_a_bag_of_words_with_a_damaged_header_is_recomputed(tmp_path, corpus, name):
    cache = BowCache(tmp_path)
    expected = np.array(cache.get_or_compute(corpus, 1000, Preprocessing()).flat)
    folder = cache.path_for(corpus, 1000, Preprocessing())
    _flip_header_byte(folder / name)
    assert cache.load(folder) is None  # every later run raised SyntaxError here
    np.testing.assert_array_equal(cache.get_or_compute(corpus, 1000, Preprocessing()).flat,
                                  expected)


def test_arrays_with_a_damaged_header_are_not_read(tmp_path):
    from tuner.data.store import ArrayCache, load_npy

    cache, compute, key = ArrayCache(tmp_path, "umap"), Counter(), {"n_neighbors": 15}
    cache.get_or_compute(key, compute)
    _flip_header_byte(cache.path_for(key))
    assert load_npy(cache.path_for(key)) is None
    assert cache.load(key) is None
    embeddings, counter = EmbeddingCache(tmp_path), Counter()
    embeddings.get_or_compute(KEY, counter)
    _flip_header_byte(embeddings.path_for(KEY))
    assert embeddings.load(KEY) is None  # unverified: the parse itself fails, and is caught


def test_bow_cache_catches_a_word_changed_in_its_metadata(tmp_path, corpus):
    """meta.json holds the vocabulary: two words swapped there were served as a hit, and the
    trials' topics named the wrong words (audit of 2026-12-01)."""
    cache = BowCache(tmp_path)
    vocab = list(cache.get_or_compute(corpus, 1000, Preprocessing()).vocab)
    folder = cache.path_for(corpus, 1000, Preprocessing())
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta["vocab"][0], meta["vocab"][1] = meta["vocab"][1], meta["vocab"][0]
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    assert cache.load(folder) is None
    assert cache.get_or_compute(corpus, 1000, Preprocessing()).vocab == vocab


def test_bow_key_holds_the_stop_lists_file(corpus, monkeypatch, tmp_path):
    """An edited list (Mallet's file, or scikit-learn's in a release that changes it) is
    another bag of words; keying it imports no stop list (see the test below)."""
    from tuner.data import vocab

    english = Preprocessing().key(corpus.sha256, "en", 1000)
    mallet = Preprocessing(stopwords="mallet").key(corpus.sha256, "en", 1000)
    edited_mallet, edited_english = tmp_path / "mallet.txt", tmp_path / "_stop_words.py"
    edited_mallet.write_text(vocab.MALLET_LIST.read_text(encoding="utf-8") + "zqxword\n")
    shipped = vocab._package_file("sklearn", "feature_extraction", "_stop_words.py")
    edited_english.write_text(shipped.read_text(encoding="utf-8") + "# edited\n")
    monkeypatch.setattr(vocab, "MALLET_LIST", edited_mallet)
    monkeypatch.setattr(vocab, "_package_file", lambda package, *parts: edited_english)
    assert Preprocessing().key(corpus.sha256, "en", 1000) != english
    assert Preprocessing(stopwords="mallet").key(corpus.sha256, "en", 1000) != mallet


def test_bow_key_holds_another_pythons_unicode_version(corpus, monkeypatch):
    """Python's Unicode tables decide which characters are letters (a CJK Extension H character
    is one on 3.12, nothing on 3.11): a bag of words made with others is keyed apart, and one
    made with the tables keys were first made with keeps its key."""
    import unicodedata

    from tuner.data import vocab

    here = Preprocessing().key(corpus.sha256, "zh", 1000)
    assert ("unicode" in here) is (unicodedata.unidata_version != vocab.KEYED_UNICODE)
    monkeypatch.setattr(unicodedata, "unidata_version", "15.1.0")
    python_313 = Preprocessing().key(corpus.sha256, "zh", 1000)
    assert python_313["unicode"] == "15.1.0" and python_313 != here
    monkeypatch.setattr(unicodedata, "unidata_version", vocab.KEYED_UNICODE)
    assert "unicode" not in Preprocessing().key(corpus.sha256, "zh", 1000)


def test_keying_a_bag_of_words_imports_no_stop_list():
    import subprocess
    import sys

    code = ("import sys; from tuner.data.vocab import Preprocessing; "
            "Preprocessing().key('c', 'en', 10); Preprocessing().key('c', 'zh', 10); "
            "print('sklearn' in sys.modules, 'stopwordsiso' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).parents[2]).stdout
    assert shown.split() == ["False", "False"]


def _model_folder(root):
    folder = root / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(bytes(64))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    return folder


def test_a_model_whose_weights_change_in_place_gets_another_revision(tmp_path):
    """Sizes and config.json alone were hashed: weights re-trained in place kept the key and the
    old embeddings were reused (audit of 2026-12-01)."""
    from tuner.data.embeddings import model_revision

    folder, memo = _model_folder(tmp_path), tmp_path / "cache" / "hashes.json"
    before = model_revision(folder, memo)
    assert model_revision(folder, memo) == before and json.loads(memo.read_text())
    (folder / "model.safetensors").write_bytes(bytes(63) + b"\1")  # same size, same config
    assert model_revision(folder, memo) != before
    weights = [k for k in json.loads(memo.read_text()) if "model.safetensors" in k]
    assert len(weights) == 1  # the old stamp of a changed file leaves the memo


def test_a_hugging_face_snapshot_is_known_by_its_blob_names(tmp_path):
    from tuner.data.embeddings import model_revision

    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / "abc"
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    for name, blob in (("config.json", "1" * 40), ("model.safetensors", "2" * 64)):
        (blobs / blob).write_bytes(b"x")
        (snapshot / name).symlink_to(blobs / blob)
    before = model_revision(snapshot)
    (blobs / ("3" * 64)).write_bytes(b"x")
    (snapshot / "model.safetensors").unlink()
    (snapshot / "model.safetensors").symlink_to(blobs / ("3" * 64))
    assert model_revision(snapshot) != before


def test_a_blob_written_in_place_through_its_snapshot_link_gets_another_revision(tmp_path):
    """Weights written through the snapshot's link kept the blob's name, so the old embeddings
    were reused (audit of 2026-12-01). A blob whose stamp changed with its content unchanged
    (touched, copied back) keeps its revision."""
    import hashlib
    import os

    from tuner.data.embeddings import model_revision

    blobs, snapshot = tmp_path / "blobs", tmp_path / "snapshots" / "abc"
    blobs.mkdir()
    snapshot.mkdir(parents=True)
    config, weights = b'{"model_type": "bert"}', bytes(64)
    git_name = hashlib.sha1(b"blob %d\0" % len(config) + config).hexdigest()
    weights_name = hashlib.sha256(weights).hexdigest()
    for name, content, blob in (("config.json", config, git_name),
                                ("model.safetensors", weights, weights_name)):
        (blobs / blob).write_bytes(content)
        (snapshot / name).symlink_to(blobs / blob)
    memo = tmp_path / "cache" / "hashes.json"
    before = model_revision(snapshot, memo)
    for name in ("config.json", "model.safetensors"):
        os.utime(snapshot / name, ns=(1, 1))  # a new stamp, the same content
    assert model_revision(snapshot, memo) == before
    with (snapshot / "model.safetensors").open("r+b") as handle:  # same size, through the link
        handle.write(b"\1")
    changed = model_revision(snapshot, memo)
    assert changed != before
    assert model_revision(snapshot, memo) == changed


@pytest.mark.parametrize(("config", "limit"), [
    ({"model_type": "bert", "max_position_embeddings": 512}, 512),
    ({"model_type": "xlm-roberta", "max_position_embeddings": 8194}, 8192),  # bge-m3
    ({"model_type": "t5"}, None),  # relative positions: no limit the config states
])
def test_a_models_token_limit_is_its_positions_not_its_tokenizers_default(tmp_path, config,
                                                                           limit):
    """A tokenizer's model_max_length is a default (some exports write 128 there while the
    model reads 512): refusing above it refused grids that ran (review of 2026-12-01)."""
    from tuner.data.embeddings import token_limit

    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 128}))
    assert token_limit(tmp_path) == limit


def test_a_local_model_folder_must_hold_a_model_and_take_no_revision(tmp_path):
    from tuner.data.embeddings import resolve_model_path
    from tuner.errors import EmbeddingModelError

    folder = _model_folder(tmp_path)
    assert resolve_model_path(str(folder)) == folder.resolve()
    with pytest.raises(EmbeddingModelError, match="applies to a Hugging Face model id"):
        resolve_model_path(str(folder), "v2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbeddingModelError, match="holds no transformers model"):
        resolve_model_path(str(tmp_path / "empty"))
    (folder / "vocab.txt").unlink()  # no tokenizer: every word was [UNK] (audit of 2026-12-01)
    with pytest.raises(EmbeddingModelError, match="and its tokenizer"):
        resolve_model_path(str(folder))


def test_embedding_progress_in_a_log_is_lines_not_a_redrawn_bar(capsys):
    """Without a terminal, tqdm's carriage-return redraws filled a cron job's log with about 47
    updates of one line (new-user audit of 2026-12-02): a line per 30 s and one at the end."""
    from tuner.data.embeddings import MINILM_IDS, encode_texts, resolve_model_path

    folder = resolve_model_path(sorted(MINILM_IDS)[0])
    vectors = encode_texts(folder, [f"document number {i}" for i in range(40)], "mean", 32,
                           batch_size=16, progress=True)
    assert vectors.shape[0] == 40
    err = capsys.readouterr().err
    assert "\r" not in err
    assert re.fullmatch(r"embedding: 3/3 batches, \d+ s\n", err)


def test_embedding_progress_in_a_log_says_the_time_left(capsys, monkeypatch):
    """Chinese audit of 2026-12-05: "embedding: 5/32 batches, 107 s" said nothing of an 11-minute
    wait. The time left weighs the batches by their text, longest first."""
    from tuner.data import embeddings
    from tuner.data.embeddings import MINILM_IDS, encode_texts, resolve_model_path

    monkeypatch.setattr(embeddings, "LOG_EVERY_S", 0.0)
    folder = resolve_model_path(sorted(MINILM_IDS)[0])
    encode_texts(folder, ["a long document " * 50] * 16 + ["short"] * 16, "mean", 32,
                 batch_size=16, progress=True)
    first, last = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"embedding: 1/2 batches, \d+ s, about \d+s left", first), first
    assert re.fullmatch(r"embedding: 2/2 batches, \d+ s", last), last


def test_the_time_left_reads_how_far_a_token_takes_a_text_without_saying_more(capsys):
    """About 4 characters a token in English, 1 to 1.5 in Chinese; counting 2,000 characters of
    Chinese printed transformers' "sequence length is longer than the specified maximum",
    false where the embedding cuts its windows (review of 2026-12-05)."""
    from tests.conftest import dataset_path, read_jsonl
    from tuner.data.embeddings import (
        MINILM_IDS,
        _characters_per_token,
        encode_texts,
        load_encoder,
        resolve_model_path,
    )

    folder = resolve_model_path(sorted(MINILM_IDS)[0])
    tokenizer = load_encoder(folder, "mean", "cpu")[0]
    english = [r["text"] for r in read_jsonl(dataset_path("20ng-mini"))[:20]]
    chinese = [r["text"] for r in read_jsonl(dataset_path("thucnews-mini"))[:20]]
    assert 3.0 <= _characters_per_token(tokenizer, english) <= 6.0
    assert 0.8 <= _characters_per_token(tokenizer, chinese) <= 1.6
    capsys.readouterr()
    encode_texts(folder, chinese, "mean", 128, batch_size=16, progress=True)
    assert all(line.startswith("embedding: ") for line in capsys.readouterr().err.splitlines())


def test_an_embedding_miss_names_what_changed_since_the_nearest_cached_matrix(tmp_path):
    """A re-run that recomputed after an edited grid or an upgrade said a bare "computed"
    (fourteenth session's audit, after CHUNKING_REVISION landed): it names the fields now."""
    cache = EmbeddingCache(tmp_path)
    assert cache.miss_reason(KEY) is None  # nothing cached: a first computation, no reason
    cache.get_or_compute(KEY, Counter())
    cache.get_or_compute(dataclasses.replace(KEY, max_length=128, pooling="cls"), Counter())
    windows = dataclasses.replace(KEY, long_documents="chunks")
    assert cache.miss_reason(windows) == \
        "the cache's nearest differs in chunking: (unset) -> 1; long_documents: start -> chunks"
    assert cache.miss_reason(dataclasses.replace(KEY, max_length=128)) in (
        "the cache's nearest differs in max_length: 256 -> 128",
        "the cache's nearest differs in pooling: cls -> mean")
    versions = "torch=2.13.0+cpu;transformers=5.24.0;tokenizers={};torch_cpu=avx512"
    cache.get_or_compute(dataclasses.replace(KEY, libraries=versions.format("0.22.1")), Counter())
    assert cache.miss_reason(dataclasses.replace(KEY, libraries=versions.format("0.23.0"))) == \
        "the cache's nearest differs in libraries: ...tokenizers=0.22.1... -> " \
        "...tokenizers=0.23.0..."
    cache.path_for(KEY).write_bytes(b"damaged")
    assert cache.miss_reason(KEY) == "the entry cached under this key was missing or damaged"
    assert cache.miss_reason(dataclasses.replace(KEY, corpus_sha256="other")) is None
    assert cache.miss_reason(dataclasses.replace(KEY, model="another/model")) is None


def test_a_bag_of_words_miss_names_the_changed_setting(tmp_path, corpus):
    cache = BowCache(tmp_path)
    assert cache.miss_reason(corpus, 1000, Preprocessing()) is None
    cache.get_or_compute(corpus, 1000, Preprocessing())
    assert cache.miss_reason(corpus, 1000, Preprocessing(min_df=3)) == \
        "the cache's nearest differs in min_df: 2 -> 3"
    assert cache.miss_reason(corpus, 1000, Preprocessing(extra_stopwords=("delegation",))) == \
        'the cache\'s nearest differs in extra_stopwords: (unset) -> ["delegation"]'
    assert cache.miss_reason(dataclasses.replace(corpus, sha256="0" * 64), 1000,
                             Preprocessing()) is None


def test_a_bag_of_words_miss_says_a_strip_setting_as_the_user_set_it(tmp_path, corpus):
    """"strip_mentions: (unset) -> (?:(?<![A-Za-z0-9_])RT\\s*|回复|..." showed the key's regular
    expression where the grid had set the option on (new-user audit of 2026-12-04)."""
    cache = BowCache(tmp_path)
    cache.get_or_compute(corpus, 1000, Preprocessing())
    assert cache.miss_reason(corpus, 1000, Preprocessing(strip_mentions=True,
                                                         strip_markup=True)) == \
        "the cache's nearest differs in strip_markup: false -> true; strip_mentions: false -> true"
    from tuner.data.vocab import _settings_as_set

    older = {**Preprocessing(strip_quotes=True).key(corpus.sha256, "en", 1000),
             "strip_quotes": "an earlier pattern"}  # as the bag of an older tuner holds it
    assert _settings_as_set(older)["strip_quotes"] == "true (an earlier tuner's pattern)"


def test_a_bag_of_every_word_is_no_size_change_and_a_chinese_word_reads_as_itself(tmp_path,
                                                                                   corpus):
    """A bag that holds every word its preprocessing leaves is keyed by that count: a grid that
    asked 5,000 words both times read "vocab_size: 1943 -> 5000" beside the stop word it had
    added, and the word read "\\u4e2d\\u56fd" (new-user audit of 2026-12-04)."""
    cache = BowCache(tmp_path)
    every = cache.get_or_compute(corpus, 10**6, Preprocessing())
    assert len(every.vocab) < 10**6
    assert cache.miss_reason(corpus, 10**6, Preprocessing(extra_stopwords=("中国",))) == \
        'the cache\'s nearest differs in extra_stopwords: (unset) -> ["中国"]'
    many = ("nuclear", "global", "south", "weapons")  # cut after a whole word, not "weapo...
    assert cache.miss_reason(corpus, 10**6, Preprocessing(extra_stopwords=many)).endswith(
        '(unset) -> ["global", "nuclear", "south", ...')  # sorted
    from tuner.data.store import _change

    assert _change("k", None, ["a\u009b31mb", "\u202ex"]) == \
        'k: (unset) -> ["a\\x9b31mb", "\\u202ex"]'  # nothing that drives a terminal
    capped = BowCache(tmp_path / "capped")
    capped.get_or_compute(corpus, 10, Preprocessing())
    assert capped.miss_reason(corpus, 20, Preprocessing()) == \
        "the cache's nearest differs in vocab_size: 10 -> 20"  # a size the user changed


def test_a_wait_on_another_process_s_cache_lock_is_said(tmp_path, caplog, monkeypatch):
    """A sweep that waited for another (hung) sweep's cache entry printed nothing until it was
    killed (concurrency audit of 2026-12-03)."""
    import subprocess
    import sys
    import time

    from tuner.data import store

    monkeypatch.setattr(store, "WAIT_SAID_AFTER_S", 0.5)
    entry = tmp_path / "bow"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         f"lock = FileLock({str(entry) + '.lock'!r}); lock.acquire(); print('held', flush=True); "
         "time.sleep(3)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with caplog.at_level("WARNING", logger="tuner.data.store"), store.locked(entry):
            waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert waited > 1.0  # it did wait for the other process
    assert [r.getMessage() for r in caplog.records] == [
        f"waiting for {entry}.lock: another sweep holds it while it computes that cache "
        "entry; this one goes on when it is done"]


def test_embeddings_read_after_another_sweep_computed_them_are_said_a_hit(tmp_path,
                                                                          small_corpus):
    """Two `tuner precompute` at once on an empty cache: one computes the matrix, the other
    waits for it and reads it; both said "computed" (concurrency audit of 2026-12-03)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO, make_grid

    grid = make_grid(tmp_path, small_corpus, models=["bertopic"])
    command = [sys.executable, "-m", "tuner.cli", "precompute", str(grid), "--cache-dir",
               str(tmp_path / "cache"), "--quiet"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
            for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    said = sorted(line.split(": ", 1)[1] for out, _ in outputs for line in out.splitlines()
                  if line.startswith("embeddings["))
    assert said == ["computed", "hit"]


def test_a_bag_of_words_whose_description_was_truncated_is_said_damaged(tmp_path, corpus):
    cache = BowCache(tmp_path)
    cache.get_or_compute(corpus, 1000, Preprocessing())
    meta = cache.path_for(corpus, 1000, Preprocessing()) / "meta.json"
    meta.write_text(meta.read_text()[:40])  # a kill -9 or a full disk mid-write, say
    assert cache.miss_reason(corpus, 1000, Preprocessing()) == \
        "the entry cached under this key was missing or damaged"


def test_a_write_a_killed_process_left_is_removed_by_the_next_holder_of_its_lock(tmp_path):
    """A SIGKILL during precompute left an 11.5 MB `.cooc-kept-w10.npz.<id>.tmp` that no later
    run removed (concurrency audit of 2026-12-05). Only that entry's own temporary files go:
    another entry's, or a file that only looks alike, stay."""
    from tuner.data.store import locked

    entry, folder = tmp_path / "cooc-kept-w10.npz", tmp_path / "bow-key"
    folder.mkdir()
    left = [tmp_path / ".cooc-kept-w10.npz.0123456789ab.tmp", folder / ".flat.npy.fedcba987654.tmp"]
    kept = [tmp_path / ".cooc-kept-w5.npz.0123456789ab.tmp", tmp_path / ".cooc-kept-w10.npz.tmp",
            folder / "flat.npy"]
    for path in (*left, *kept):
        path.write_bytes(b"partial")
    with locked(entry):
        pass
    with locked(folder):
        pass
    assert [p.exists() for p in left] == [False, False]
    assert all(p.exists() for p in kept)


def test_the_holder_of_a_folders_lock_leaves_the_writes_of_entries_with_locks_of_their_own(
        tmp_path):
    """Two `tuner precompute` at once: one took the bag's folder lock (a cache hit takes it
    too) and removed the temporary file of the co-occurrence counts the other was writing under
    their own lock inside that folder, whose write then failed "No such file or directory"
    (a red run of 2026-12-05)."""
    from tuner.data.store import locked

    folder = tmp_path / "bow-key"
    folder.mkdir()
    writing = folder / ".cooc-kept-w10.npz.0123456789ab.tmp"
    writing.write_bytes(b"in progress")
    holder = subprocess.Popen(  # the other process, writing under the counts' own lock
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         f"FileLock({str(folder / 'cooc-kept-w10.npz.lock')!r}).acquire(); "
         "print('held', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with locked(folder):
            pass
    finally:
        holder.kill()
        holder.wait()
    assert writing.exists()
