"""GSM (Miao, Grefenstette & Blunsom 2017): the Gaussian softmax construction of θ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from trainers.base import Requirement, Trainer
from trainers.neural import (
    GaussianEncoder,
    bow_input,
    fit_bow_vae,
    gaussian_kl,
    mixture_nll,
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
    between,
)


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


class GSMTrainer(Trainer):
    """Gaussian Softmax Model."""

    name: ClassVar[str] = "GSM"
    budget_param: ClassVar[str | None] = "epochs"
    # 2: batch-normed heads, patience waits for an improvement; 3: validation on the
    # posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("GSM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=256, constraint=between(16, 2048)), NUM_LAYERS, PATIENCE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        return fit_bow_vae(GSMNet, data, params, ctx)
