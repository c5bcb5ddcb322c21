"""ProdLDA's network: a product of experts decoder on a logistic-normal VAE."""

from __future__ import annotations

import torch
from torch import nn

from trainers.neural import (
    GaussianEncoder,
    LogisticNormalPrior,
    ProductOfExpertsDecoder,
    bow_input,
    reparameterize,
    word_log_likelihood,
)


class ProdLDANet(nn.Module):
    """Encoder log(1 + BOW) -> (mu, logvar); θ = softmax(z); words = softmax(BN(θ β)).

    Prior: the Laplace approximation of a symmetric Dirichlet(1), fixed, as in the paper.
    """

    def __init__(self, vocab_size: int, num_topics: int, hidden_dim: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.encoder = GaussianEncoder(vocab_size, hidden_dim, num_layers, num_topics, dropout,
                                       head_norm=True, sparse_input=True)
        self.decoder = ProductOfExpertsDecoder(num_topics, vocab_size, dropout)
        self.prior = LogisticNormalPrior(num_topics)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        bow = batch["bow"]
        mu, logvar = self.encoder(bow_input(bow))
        theta = torch.softmax(reparameterize(mu, logvar, self.training), dim=1)
        recon = -word_log_likelihood(bow, self.decoder(theta))
        return recon, self.prior.kl(mu, logvar)

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self.encoder(bow_input(batch["bow"]))
        return torch.softmax(mu, dim=1)

    def topic_word(self) -> torch.Tensor:
        return self.decoder.topic_word()  # type: ignore[no-any-return]
