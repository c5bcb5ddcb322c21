"""Word2Vec embeddings of a bag of words' token streams, cached on disk, and their conditioning
for the decoder that scores topic embeddings against them (ETM, DTM and THETA's rho; the decoder
itself, a torch module, is `trainers/nets/embedding_decoder.py`).

The cache is the project's `ArrayCache` under `<cache_dir>/word2vec/`: one `.npy` matrix
(vocabulary order, float32) and one JSON sidecar per key (bag-of-words key, embedding size,
seed, Word2Vec settings), written atomically under a lock and never pickled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trainers.base import require
from tuner.data.inputs import FitContext, SharedStep, StepInputs, TrialData
from tuner.data.numerics import cpu_numerics
from tuner.data.store import ArrayCache
from tuner.data.versions import installed_version
from tuner.data.vocab import BagOfWords

# ETM's own skip-gram script (Dieng et al., `skipgram.py`): window 4, 10 negative samples, 50
# iterations. gensim's defaults (window 5, 5 negatives, 5 epochs) leave the vectors of a topic
# corpus (thousands of documents) under-trained; min_count 1 since the vocabulary is chosen
# before (every in-vocabulary word needs a vector).
WORD2VEC_SETTINGS: dict[str, Any] = {"sg": 1, "window": 4, "negative": 10, "min_count": 1,
                                     "epochs": 50}

TrainFn = Callable[[BagOfWords, int, int], NDArray[np.float32]]


def train_word2vec(bow: BagOfWords, embedding_dim: int, seed: int) -> NDArray[np.float32]:
    """Train Word2Vec (one worker, seeded: repeatable) on the in-vocabulary token streams.

    Returns:
        V x embedding_dim matrix, row i for `bow.vocab[i]`.
    """
    word2vec = require("gensim.models", "gensim", "Word2Vec").Word2Vec
    sentences = [tokens for d in range(bow.n_docs) if (tokens := bow.doc_tokens(d))]
    model = word2vec(sentences, vector_size=embedding_dim, seed=seed, workers=1,
                     **WORD2VEC_SETTINGS)
    matrix = np.zeros((len(bow.vocab), embedding_dim), dtype=np.float32)
    for i, word in enumerate(bow.vocab):
        if word in model.wv.key_to_index:
            matrix[i] = model.wv[word]
    return matrix


def decoder_word_vectors(rho: NDArray[np.float32]) -> NDArray[np.float32]:
    """Word2Vec rows centred on their mean and scaled to unit length, for a β = softmax(α · ρᵀ)
    decoder (ETM, DTM, THETA).

    Word2Vec vectors share a large common component: on a small corpus the mean vector is
    nearly as long as each vector (huffpost-mini, 1,000 headlines: mean-vector norm 1.24, row
    norm 1.26), so α · ρ ranks the words alike for every topic and training settled with all
    topics on one word list (diversity 0.06). Centred unit rows make the logits depend on
    direction only.
    """
    centred = rho - rho.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return (centred / np.maximum(norms, 1e-8)).astype(np.float32)


def word2vec_key(bow: BagOfWords, embedding_dim: int, seed: int) -> dict[str, Any]:
    """What the vectors depend on, gensim's version and the BLAS kernel it runs on this CPU
    included (as the fit key holds them; OpenBLAS's Haswell kernel changes the vectors of an
    AVX-512 machine, which would otherwise keep one key)."""
    return {"kind": "word2vec", "bow": bow.key, "vocab_size": len(bow.vocab),
            "embedding_dim": embedding_dim, "seed": seed, **WORD2VEC_SETTINGS,
            "gensim": installed_version("gensim"), **cpu_numerics(("numpy",))}


def word2vec_cache(cache_dir: str | Path) -> ArrayCache:
    return ArrayCache(Path(cache_dir) / "word2vec", "w2v")


def word2vec_path(cache_dir: str | Path, key: dict[str, Any]) -> Path:
    return word2vec_cache(cache_dir).path_for(key)


class Word2VecStep:
    """Trainer mixin (ETM, DTM, THETA): the Word2Vec training a trial shares with every trial of
    the same bag of words, embedding size and seed is one shared step, so no worker waits on the
    cache's lock while another trains the same vectors. `word2vec_dim` reads the size."""

    @staticmethod
    def word2vec_dim(params: Mapping[str, Any]) -> int:
        return int(params["embedding_dim"])

    @classmethod
    def shared_steps(cls, params: Mapping[str, Any], inputs: StepInputs) -> list[SharedStep]:
        key = {"bow": inputs.bow_key, "dim": cls.word2vec_dim(params), "seed": inputs.seed,
               "settings": WORD2VEC_SETTINGS, "gensim": installed_version("gensim")}
        label = f"bag of words {inputs.bow_key[:8]} dim={key['dim']} seed={inputs.seed}"
        return [SharedStep("word2vec", key, label)]

    @classmethod
    def run_shared_step(cls, step: SharedStep, data: TrialData, params: Mapping[str, Any],
                        ctx: FitContext) -> bool:
        return word_embeddings(data.bow, cls.word2vec_dim(params), ctx.seed, ctx.cache_dir)[1]


def word_embeddings(bow: BagOfWords, embedding_dim: int, seed: int, cache_dir: str | Path,
                    train: TrainFn = train_word2vec) -> tuple[NDArray[np.float32], bool]:
    """The cached Word2Vec matrix of `bow`, trained (under a lock) and stored when absent.

    Returns:
        (V x embedding_dim matrix, True when it came from the cache).
    """
    matrix, hit = word2vec_cache(cache_dir).get_or_compute(
        word2vec_key(bow, embedding_dim, seed), lambda: train(bow, embedding_dim, seed))
    return np.asarray(matrix, dtype=np.float32), hit
