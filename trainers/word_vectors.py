"""Word2Vec embeddings of a bag of words' token streams, cached on disk, and the decoder that
scores topic embeddings against them (ETM, DTM and THETA's rho).

The cache lives under `<cache_dir>/word2vec/`: one `.npy` matrix (vocabulary order, float32)
and one JSON sidecar per key (bag-of-words key, embedding size, seed, Word2Vec settings). It is
written atomically under a lock, checked against its sidecar on read, and never pickled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from trainers.base import require
from tuner.data.store import file_sha256, key_digest, locked, read_json, write_atomic
from tuner.data.vocab import BagOfWords
from tuner.errors import CacheError

# Skip-gram suits small corpora; more epochs than gensim's 5 because topic corpora are small.
WORD2VEC_SETTINGS: dict[str, Any] = {"sg": 1, "window": 5, "negative": 5, "min_count": 1,
                                     "epochs": 10}

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


def topic_embeddings_init(num_topics: int, embedding_dim: int) -> torch.Tensor:
    """Topic embeddings drawn from N(0, I) (D-ETM's prior on alpha_0): against unit-length word
    vectors each topic starts with logits of unit spread, so the topics start apart. A
    Linear layer's default init (scale 1/sqrt(E)) starts every topic near the uniform
    distribution, and they stayed together."""
    return torch.randn(num_topics, embedding_dim)


class EmbeddingDecoder(nn.Module):
    """β = softmax(α · ρᵀ): learnt topic embeddings α (K x E) scored against fixed word vectors
    ρ (V x E, conditioned by `decoder_word_vectors`). ETM's and THETA's decoder; with
    `num_slices` T, DTM's: α is T x K x E, every slice starting from the same draw."""

    def __init__(self, rho: NDArray[np.float32], num_topics: int,
                 num_slices: int | None = None) -> None:
        super().__init__()
        conditioned = decoder_word_vectors(np.asarray(rho, dtype=np.float32))
        self.register_buffer("rho", torch.from_numpy(conditioned))
        start = topic_embeddings_init(num_topics, conditioned.shape[1])
        self.alpha = nn.Parameter(start if num_slices is None
                                  else start.unsqueeze(0).repeat(num_slices, 1, 1))

    def forward(self) -> torch.Tensor:
        """K x V word distributions (T x K x V with slices)."""
        return torch.softmax(self.alpha @ self.rho.T, dim=-1)  # type: ignore[operator]


def word2vec_key(bow: BagOfWords, embedding_dim: int, seed: int) -> dict[str, Any]:
    return {"kind": "word2vec", "bow": bow.key, "vocab_size": len(bow.vocab),
            "embedding_dim": embedding_dim, "seed": seed, **WORD2VEC_SETTINGS}


def word2vec_path(cache_dir: str | Path, key: dict[str, Any]) -> Path:
    return Path(cache_dir) / "word2vec" / f"w2v-{key_digest(key)}.npy"


def word_embeddings(bow: BagOfWords, embedding_dim: int, seed: int, cache_dir: str | Path,
                    train: TrainFn = train_word2vec) -> tuple[NDArray[np.float32], bool]:
    """The cached Word2Vec matrix of `bow`, trained (under a lock) and stored when absent.

    Returns:
        (V x embedding_dim matrix, True when it came from the cache).
    """
    key = word2vec_key(bow, embedding_dim, seed)
    path = word2vec_path(cache_dir, key)
    with locked(path):
        cached = _load(path, key)
        if cached is not None:
            return cached, True
        matrix = np.ascontiguousarray(train(bow, embedding_dim, seed), dtype=np.float32)
        _store(path, key, matrix)
    return matrix, False


def _load(path: Path, key: dict[str, Any]) -> NDArray[np.float32] | None:
    meta = read_json(path.with_suffix(".json"))
    if meta is None or meta.get("key") != key or not path.is_file():
        return None
    if file_sha256(path) != meta.get("sha256"):
        return None
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return matrix if list(matrix.shape) == meta.get("shape") else None


def _store(path: Path, key: dict[str, Any], matrix: NDArray[np.float32]) -> None:
    def write(temp: Path) -> None:
        with temp.open("wb") as handle:
            np.save(handle, matrix, allow_pickle=False)

    write_atomic(path, write)
    meta = {"key": key, "shape": list(matrix.shape), "dtype": "float32",
            "sha256": file_sha256(path)}
    write_atomic(path.with_suffix(".json"),
                 lambda t: t.write_text(json.dumps(meta, indent=2), encoding="utf-8"))
    if _load(path, key) is None:
        raise CacheError(f"{path}: written but cannot be read back")
