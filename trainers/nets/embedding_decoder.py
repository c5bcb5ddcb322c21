"""The decoder that scores topic embeddings against fixed Word2Vec word vectors (ETM, DTM and
THETA's rho; the vectors themselves come from `trainers/word_vectors.py`)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from trainers.word_vectors import decoder_word_vectors


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
