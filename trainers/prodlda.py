"""ProdLDA (Srivastava & Sutton 2017): a product of experts decoder on a logistic-normal VAE."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from trainers.base import Requirement, Trainer
from trainers.neural import (
    GaussianEncoder,
    LogisticNormalPrior,
    ProductOfExpertsDecoder,
    bow_input,
    fit_bow_vae,
    reparameterize,
    word_log_likelihood,
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
    between,
)

ADAM_BETAS = (0.99, 0.999)  # the reference implementation's Adam(beta1=0.99)


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


class ProdLDATrainer(Trainer):
    name: ClassVar[str] = "ProdLDA"
    budget_param: ClassVar[str | None] = "epochs"
    # 2: patience waits for a first improvement; 3: Xavier β, Adam β1 0.99, validation on the
    # posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("ProdLDA", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=256, constraint=between(16, 2048)), NUM_LAYERS, PATIENCE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        return fit_bow_vae(ProdLDANet, data, params, ctx, adam_betas=ADAM_BETAS)
