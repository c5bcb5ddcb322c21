"""ProdLDA (Srivastava & Sutton 2017): a product of experts decoder on a logistic-normal VAE."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from trainers.base import NEURAL_MIN_DOCUMENTS, Requirement, Trainer
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


class ProdLDATrainer(Trainer):
    name: ClassVar[str] = "ProdLDA"
    budget_param: ClassVar[str | None] = "epochs"
    min_documents: ClassVar[int] = NEURAL_MIN_DOCUMENTS
    # 2: patience waits for a first improvement; 3: Xavier β, Adam β1 0.99, validation on the
    # posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch")
    thread_sensitive: ClassVar[bool] = True
    warm_imports: ClassVar[tuple[str, ...]] = ("trainers.nets.prodlda",)
    params: ClassVar[ParamSchema] = ParamSchema("ProdLDA", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=256, constraint=between(16, 2048)), NUM_LAYERS, PATIENCE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        from trainers.nets.prodlda import ProdLDANet
        from trainers.neural import fit_bow_vae

        return fit_bow_vae(ProdLDANet, data, params, ctx, adam_betas=ADAM_BETAS)
