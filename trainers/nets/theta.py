"""THETA's network: an ETM-style VAE whose encoder reads LLM document embeddings."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from trainers.nets.embedding_decoder import EmbeddingDecoder
from trainers.neural import GaussianEncoder, gaussian_kl, mixture_nll, reparameterize


class THETANet(nn.Module):
    """Encoder (embedding -> num_layers x [Linear, BatchNorm, Softplus] -> dropout) -> N(mu, σ²);
    θ = softmax(z), prior N(0, I); β = softmax(alpha · rhoᵀ); reconstructs the BOW.

    rho (V x 300) is the corpus's Word2Vec matrix, the same cached one ETM uses, kept fixed and
    conditioned as ETM's (`EmbeddingDecoder`); the topic embeddings alpha (K x 300) are learnt.
    Learnt-from-scratch rho was tried: on small corpora the near-zero product alpha · rhoᵀ learns
    so slowly that every topic stays on the corpus's most frequent words.
    """

    def __init__(self, input_dim: int, rho: NDArray[np.float32], num_topics: int,
                 hidden_dim: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.encoder = GaussianEncoder(input_dim, hidden_dim, num_layers, num_topics, dropout,
                                       hidden_norm=True)
        self.decoder = EmbeddingDecoder(rho, num_topics)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(batch["embeddings"])
        theta = torch.softmax(reparameterize(mu, logvar, self.training), dim=1)
        return mixture_nll(batch["bow"], theta, self.topic_word()), gaussian_kl(mu, logvar)

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self.encoder(batch["embeddings"])
        return torch.softmax(mu, dim=1)

    def topic_word(self) -> torch.Tensor:
        return self.decoder()  # type: ignore[no-any-return]
