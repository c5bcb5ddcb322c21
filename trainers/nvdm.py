"""NVDM (Miao, Yu & Blunsom 2016): a Gaussian VAE with a softmax(linear) decoder over words."""

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


class NVDMTrainer(Trainer):
    """Neural Variational Document Model; topics read from the latent as NVDMNet explains."""

    name: ClassVar[str] = "NVDM"
    budget_param: ClassVar[str | None] = "epochs"
    min_documents: ClassVar[int] = NEURAL_MIN_DOCUMENTS
    # 2: patience waits for a first improvement; 3: topics and θ oriented by each latent's
    # sign, validation on the posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch")
    thread_sensitive: ClassVar[bool] = True
    warm_imports: ClassVar[tuple[str, ...]] = ("trainers.nets.nvdm",)
    params: ClassVar[ParamSchema] = ParamSchema("NVDM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT,
        HIDDEN_DIM.replace(default=256, constraint=between(16, 2048)), NUM_LAYERS, PATIENCE,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        from trainers.nets.nvdm import NVDMNet
        from trainers.neural import fit_bow_vae

        return fit_bow_vae(NVDMNet, data, params, ctx)
