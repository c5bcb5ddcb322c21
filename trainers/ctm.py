"""CTM (Bianchi et al. 2021): ProdLDA whose encoder reads a sentence embedding of each document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from trainers.base import Requirement, Trainer
from trainers.neural import (
    GaussianEncoder,
    LogisticNormalPrior,
    ProductOfExpertsDecoder,
    bow_input,
    fit_vae,
    reparameterize,
    train_config,
    word_log_likelihood,
)
from tuner.data.inputs import FitContext, TrialData
from tuner.errors import TrainerError
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
    Param,
    ParamSchema,
    between,
    one_of,
)

INFERENCE_TYPE = Param("inference_type", str, "zeroshot", one_of("zeroshot", "combined"),
                       "encoder input: sentence embedding only, or embedding + BOW")


ADAM_BETAS = (0.99, 0.99)  # contextualized-topic-models' Adam(betas=(momentum, 0.99)), 0.99


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


class CTMTrainer(Trainer):
    """Contextualized Topic Model (zero-shot or combined), on the sweep's document embeddings."""

    name: ClassVar[str] = "CTM"
    budget_param: ClassVar[str | None] = "epochs"
    # 2: patience waits for a first improvement; 3: Xavier β, learnt prior, Adam betas 0.99,
    # validation on the posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow", "embeddings"})
    params: ClassVar[ParamSchema] = ParamSchema("CTM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=100, constraint=between(32, 1024)), NUM_LAYERS, PATIENCE,
        INFERENCE_TYPE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        if data.embeddings is None:
            raise TrainerError("CTM needs document embeddings; the sweep did not provide any")
        embeddings = standardized(np.asarray(data.embeddings, dtype=np.float32))
        return fit_vae(lambda: CTMNet(len(data.bow.vocab), embeddings.shape[1],
                                      params["inference_type"] == "combined",
                                      params["num_topics"], params["hidden_dim"],
                                      params["num_layers"], params["dropout"]),
                       data, params, ctx, inputs={"embeddings": embeddings},
                       config=train_config(params, ctx.seed, ctx.device, adam_betas=ADAM_BETAS))


def standardized(embeddings: np.ndarray) -> np.ndarray:
    """Each dimension to zero mean and unit variance. L2-normalised sentence embeddings (MiniLM,
    Qwen3) have components of about 1/sqrt(dim): fed as they are, the encoder's first layer sees
    almost constant input and CTM barely trains (ARI 0.00 on 20ng-mini before this)."""
    spread = embeddings.std(axis=0, keepdims=True)
    return (embeddings - embeddings.mean(axis=0, keepdims=True)) / np.maximum(spread, 1e-6)
