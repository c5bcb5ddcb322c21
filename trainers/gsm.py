"""GSM (Miao, Grefenstette & Blunsom 2017): the Gaussian softmax construction of θ."""

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


class GSMTrainer(Trainer):
    """Gaussian Softmax Model."""

    name: ClassVar[str] = "GSM"
    budget_param: ClassVar[str | None] = "epochs"
    min_documents: ClassVar[int] = NEURAL_MIN_DOCUMENTS
    # 2: batch-normed heads, patience waits for an improvement; 3: validation on the
    # posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch")
    thread_sensitive: ClassVar[bool] = True
    warm_imports: ClassVar[tuple[str, ...]] = ("trainers.nets.gsm",)
    params: ClassVar[ParamSchema] = ParamSchema("GSM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=256, constraint=between(16, 2048)), NUM_LAYERS, PATIENCE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        from trainers.nets.gsm import GSMNet
        from trainers.neural import fit_bow_vae

        return fit_bow_vae(GSMNet, data, params, ctx)
