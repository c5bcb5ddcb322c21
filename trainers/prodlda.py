"""ProdLDA (Srivastava & Sutton 2017): a product of experts decoder on a logistic-normal VAE."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from trainers.base import Requirement, Trainer
from trainers.neural import (
    GaussianEncoder,
    bow_input,
    dirichlet_laplace_prior,
    fit_bow_vae,
    gaussian_kl,
    reparameterize,
)
from tuner.data.inputs import FitContext, TrialData
from tuner.output import TopicModelOutput
from tuner.params import (
    BATCH_SIZE,
    DROPOUT,
    EPOCHS,
    HIDDEN_DIM,
    LEARNING_RATE,
    NUM_LAYERS,
    NUM_TOPICS,
    PATIENCE,
    VOCAB_SIZE,
    ParamSchema,
)


class ProdLDANet(nn.Module):
    """Encoder log(1 + BOW) -> (mu, logvar); θ = softmax(z); words = softmax(BN(β θ))."""

    def __init__(self, vocab_size: int, num_topics: int, hidden_dim: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.encoder = GaussianEncoder(vocab_size, hidden_dim, num_layers, num_topics, dropout,
                                       head_norm=True)
        self.theta_dropout = nn.Dropout(dropout)
        self.beta = nn.Linear(num_topics, vocab_size, bias=False)
        self.beta_bn = nn.BatchNorm1d(vocab_size, affine=False)
        self.prior_mean, self.prior_var = dirichlet_laplace_prior(num_topics)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        bow = batch["bow"]
        mu, logvar = self.encoder(bow_input(bow))
        theta = self.theta_dropout(torch.softmax(reparameterize(mu, logvar), dim=1))
        log_words = torch.log_softmax(self.beta_bn(self.beta(theta)), dim=1)
        recon = -(bow * log_words).sum(dim=1)
        return recon, gaussian_kl(mu, logvar, self.prior_mean, self.prior_var)

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self.encoder(bow_input(batch["bow"]))
        return torch.softmax(mu, dim=1)

    def topic_word(self) -> torch.Tensor:
        return torch.softmax(self.beta.weight.T, dim=1)


class ProdLDATrainer(Trainer):
    name: ClassVar[str] = "ProdLDA"
    revision: ClassVar[int] = 2  # 2: patience waits for a first improvement
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("ProdLDA", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=256), NUM_LAYERS, PATIENCE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        return fit_bow_vae(ProdLDANet, data, params, ctx)
