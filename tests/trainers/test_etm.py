"""ETM's Word2Vec matrix: trained once per (bag of words, size, seed), then read from disk."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trainers import load_trainer
from trainers.word_vectors import (
    WORD2VEC_SETTINGS,
    word2vec_key,
    word2vec_path,
    word_embeddings,
)
from tuner.data.inputs import FitContext


def _must_not_train(*_: object) -> np.ndarray:
    raise AssertionError("a cache hit must not train Word2Vec")


@pytest.fixture(scope="module")
def w2v_cache(tmp_path_factory, small_data):
    cache = tmp_path_factory.mktemp("w2v")
    matrix, hit = word_embeddings(small_data.bow, 50, 4, cache)
    return cache, matrix, hit


def test_first_call_trains_vocabulary_rows(w2v_cache, small_data):
    _, matrix, hit = w2v_cache
    assert not hit
    assert matrix.shape == (len(small_data.bow.vocab), 50)
    assert np.all(np.linalg.norm(matrix, axis=1) > 0)


def test_second_call_computes_nothing(w2v_cache, small_data):
    cache, matrix, _ = w2v_cache
    again, hit = word_embeddings(small_data.bow, 50, 4, cache, train=_must_not_train)
    assert hit
    np.testing.assert_array_equal(again, matrix)


def test_cache_is_npy_with_json_sidecar(w2v_cache, small_data):
    cache, matrix, _ = w2v_cache
    path = word2vec_path(cache, word2vec_key(small_data.bow, 50, 4))
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), matrix)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["key"]["seed"] == 4 and meta["key"]["bow"] == small_data.bow.key


def test_skip_gram_settings_are_etms():
    """ETM's skip-gram script: window 4, 10 negative samples, 50 iterations (gensim's defaults
    are 5, 5 and 5)."""
    assert (WORD2VEC_SETTINGS["sg"], WORD2VEC_SETTINGS["window"], WORD2VEC_SETTINGS["negative"],
            WORD2VEC_SETTINGS["epochs"]) == (1, 4, 10, 50)


def test_damaged_file_is_recomputed(tmp_path, ng_records):
    """A matrix cut short (an interrupted copy) no longer matches its sidecar's size."""
    from tests.conftest import stratified_subset
    from tests.trial_data import trial_data_for

    bow = trial_data_for(stratified_subset(ng_records, 2), tmp_path / "data").bow  # 40 posts
    _, first = word_embeddings(bow, 50, 9, tmp_path)
    path = word2vec_path(tmp_path, word2vec_key(bow, 50, 9))
    path.write_bytes(path.read_bytes()[:-8])
    matrix, hit = word_embeddings(bow, 50, 9, tmp_path)
    assert not first and not hit
    assert np.all(np.isfinite(matrix))


def test_etm_fit_reports_cache_hit(w2v_cache, small_data):
    cache, _, _ = w2v_cache
    trainer = load_trainer("ETM")
    params = trainer.params.with_defaults({"num_topics": 5, "vocab_size": 1000, "epochs": 2,
                                           "hidden_dim": 64, "num_layers": 1,
                                           "embedding_dim": 50})
    output = trainer().fit(small_data, params, FitContext(seed=4, cache_dir=str(cache)))
    assert output.extras["word2vec_cache"] == "hit"


def test_decoder_vectors_are_centred_unit_rows(w2v_cache):
    """The raw matrix shares one direction (mean norm close to the row norm); the decoder's
    rows must not."""
    from trainers.word_vectors import decoder_word_vectors

    _, matrix, _ = w2v_cache
    conditioned = decoder_word_vectors(matrix)
    np.testing.assert_allclose(np.linalg.norm(conditioned, axis=1), 1.0, rtol=1e-5)
    assert np.linalg.norm(conditioned.mean(axis=0)) < 0.5 * np.linalg.norm(matrix.mean(axis=0))
    assert conditioned.dtype == np.float32
