"""GSM's network: the Gaussian softmax construction of θ."""

from __future__ import annotations

import torch
from torch import nn

from trainers.neural import GaussianEncoder, bow_input, gaussian_kl, mixture_nll, reparameterize


class GSMNet(nn.Module):
    """z ~ N(mu, sigma²) (prior N(0, I)); θ = softmax(W z); β_k = softmax(t_k · vᵀ); words = θ β.

    Topic vectors t (K x H) and word vectors v (V x H) share the encoder width H = hidden_dim,
    as in the paper, so β is a low-rank topic-word matrix learnt with the rest of the model.
    """

    def __init__(self, vocab_size: int, num_topics: int, hidden_dim: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        # Batch norm on mu and logvar, as ProdLDA's: without it the posterior collapsed on
        # headlines (every document the same θ: huffpost-mini, K=20, ARI 0.000, one topic).
        self.encoder = GaussianEncoder(vocab_size, hidden_dim, num_layers, num_topics, dropout,
                                       head_norm=True, sparse_input=True)
        self.construct = nn.Linear(num_topics, num_topics)
        # Unit-scale topic vectors against 1/sqrt(H)-scale word vectors start the topics apart;
        # at 0.1 scale for both, every topic began near uniform and, for some seeds, all topics
        # stayed on the corpus unigram distribution (diversity 0.11 on 20ng-mini at K=20).
        self.topic_vectors = nn.Parameter(torch.randn(num_topics, hidden_dim))
        self.word_vectors = nn.Parameter(torch.randn(vocab_size, hidden_dim) / hidden_dim ** 0.5)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        bow = batch["bow"]
        mu, logvar = self.encoder(bow_input(bow))
        theta = torch.softmax(self.construct(reparameterize(mu, logvar, self.training)), dim=1)
        return mixture_nll(bow, theta, self.topic_word()), gaussian_kl(mu, logvar)

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self.encoder(bow_input(batch["bow"]))
        return torch.softmax(self.construct(mu), dim=1)

    def topic_word(self) -> torch.Tensor:
        return torch.softmax(self.topic_vectors @ self.word_vectors.T, dim=1)
