"""NVDM (Miao, Yu & Blunsom 2016): a Gaussian VAE with a softmax(linear) decoder over words."""

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


class NVDMNet(nn.Module):
    """Encoder BOW -> N(mu, sigma²) over K dims; words = softmax(R z + b); prior N(0, I).

    NVDM's latent vector is not a simplex, so tuner reads topics from it this way:
    - doc-topic: θ_d = softmax(mu_d), the posterior mean pushed onto the simplex, so each
      document's argmax is the latent dimension that raises its words most;
    - topic-word: β_k = softmax(R[:, k]), the decoder's weight column for dimension k (row k of
      Rᵀ), i.e. the word distribution the decoder produces when only dimension k is on. The bias
      b is left out: it is a background distribution shared by every dimension (the corpus's
      most frequent words), and keeping it would give every topic the same top words.
    """

    def __init__(self, vocab_size: int, num_topics: int, hidden_dim: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.encoder = GaussianEncoder(vocab_size, hidden_dim, num_layers, num_topics, dropout)
        self.decoder = nn.Linear(num_topics, vocab_size)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        bow = batch["bow"]
        mu, logvar = self.encoder(bow_input(bow))
        z = reparameterize(mu, logvar)
        log_words = torch.log_softmax(self.decoder(z), dim=1)
        return -(bow * log_words).sum(dim=1), gaussian_kl(mu, logvar)

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self.encoder(bow_input(batch["bow"]))
        return torch.softmax(mu, dim=1)

    def topic_word(self) -> torch.Tensor:
        return torch.softmax(self.decoder.weight.T, dim=1)


class NVDMTrainer(Trainer):
    """Neural Variational Document Model; topics read from the latent as NVDMNet explains."""

    name: ClassVar[str] = "NVDM"
    revision: ClassVar[int] = 2  # 2: patience waits for a first improvement
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("NVDM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=256), NUM_LAYERS, PATIENCE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        return fit_bow_vae(NVDMNet, data, params, ctx)
