"""CTM (Bianchi et al. 2021): ProdLDA whose encoder reads a sentence embedding of each document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from trainers.base import NEURAL_MIN_DOCUMENTS, Requirement, Trainer
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


class CTMTrainer(Trainer):
    """Contextualized Topic Model (zero-shot or combined), on the sweep's document embeddings."""

    name: ClassVar[str] = "CTM"
    budget_param: ClassVar[str | None] = "epochs"
    min_documents: ClassVar[int] = NEURAL_MIN_DOCUMENTS
    # 2: patience waits for a first improvement; 3: Xavier β, learnt prior, Adam betas 0.99,
    # validation on the posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow", "embeddings"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch")
    thread_sensitive: ClassVar[bool] = True
    warm_imports: ClassVar[tuple[str, ...]] = ("trainers.nets.ctm",)
    params: ClassVar[ParamSchema] = ParamSchema("CTM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=100, constraint=between(32, 1024)), NUM_LAYERS, PATIENCE,
        INFERENCE_TYPE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        from trainers.nets.ctm import CTMNet
        from trainers.neural import fit_vae, train_config

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
