"""CTM's network: ProdLDA whose encoder reads a sentence embedding of each document."""

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


class CTMNet(nn.Module):
    """Encoder (embedding [+ BOW]) -> logistic normal; ProdLDA's decoder softmax(BN(θ β)).

    Prior: the Laplace approximation of a symmetric Dirichlet(1), learnt per topic from there,
    as CTM's `learn_priors=True` default.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, combined: bool, num_topics: int,
                 hidden_dim: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.combined = combined
        width = embedding_dim + (vocab_size if combined else 0)
        self.encoder = GaussianEncoder(width, hidden_dim, num_layers, num_topics, dropout,
                                       head_norm=True)
        self.decoder = ProductOfExpertsDecoder(num_topics, vocab_size, dropout)
        self.prior = LogisticNormalPrior(num_topics, learnable=True)

    def _posterior(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = batch["embeddings"]
        if self.combined:
            x = torch.cat([x, bow_input(batch["bow"].to_dense())], dim=1)
        return self.encoder(x)  # type: ignore[no-any-return]

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        bow = batch["bow"]
        mu, logvar = self._posterior(batch)
        theta = torch.softmax(reparameterize(mu, logvar, self.training), dim=1)
        recon = -word_log_likelihood(bow, self.decoder(theta))
        return recon, self.prior.kl(mu, logvar)

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self._posterior(batch)
        return torch.softmax(mu, dim=1)

    def topic_word(self) -> torch.Tensor:
        return self.decoder.topic_word()  # type: ignore[no-any-return]
