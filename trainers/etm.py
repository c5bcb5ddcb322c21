"""ETM (Dieng, Ruiz & Blei 2020): topics as points in a Word2Vec word-embedding space."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from trainers.base import NEURAL_MIN_DOCUMENTS, BudgetAdvice, Requirement, Trainer
from trainers.word_vectors import Word2VecStep, word_embeddings
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
    Param,
    ParamSchema,
    between,
)

EMBEDDING_DIM = Param("embedding_dim", int, 300, between(50, 1024),
                      "Word2Vec word-embedding size")


class ETMTrainer(Word2VecStep, Trainer):
    """Embedded Topic Model on Word2Vec embeddings trained on the corpus (cached per key)."""

    name: ClassVar[str] = "ETM"
    budget_param: ClassVar[str | None] = "epochs"
    min_documents: ClassVar[int] = NEURAL_MIN_DOCUMENTS
    # `tuner run` of epochs 100 and 300, patience 10 and null, K 5 and 20, seeds 42 and 43, on
    # 1,000 random BBC articles (2026-12-05): its held-out loss still fell at epoch 100, and
    # patience 10 did not stop it before 300 either
    budget_advice: ClassVar[BudgetAdvice | None] = BudgetAdvice(
        below=300, suggested=300,
        measured="at 300 epochs rather than 100 (1,000 BBC articles, seeds 42 and 43, patience "
                 "10), ARI rose from 0.666 to 0.896 at K=5 and NPMI from 0.045 to 0.056, and "
                 "at K=20 NPMI from 0.011 to 0.035")
    # bench/pruning.py on 20ng-mini (27 configurations, 100 epochs): the Spearman correlation
    # of ARI at epoch e with ARI at 100 is 0.29 at 10, 0.68 at 20, 0.87 at 30 (ProdLDA: 0.72 at
    # 10); a pruner judges ETM from epoch 20.
    min_budget: ClassVar[int] = 20
    # 2: conditioned word vectors, N(0, I) topics, log counts; 3: ETM's skip-gram settings,
    # validation on the posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch", "gensim")
    thread_sensitive: ClassVar[bool] = True
    warm_imports: ClassVar[tuple[str, ...]] = ("trainers.nets.etm",)
    params: ClassVar[ParamSchema] = ParamSchema("ETM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT, HIDDEN_DIM,
        NUM_LAYERS, PATIENCE, EMBEDDING_DIM,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        from trainers.nets.etm import ETMNet
        from trainers.neural import fit_vae

        rho, hit = word_embeddings(data.bow, params["embedding_dim"], ctx.seed, ctx.cache_dir)
        return fit_vae(lambda: ETMNet(rho, params["num_topics"], params["hidden_dim"],
                                      params["num_layers"], params["dropout"]),
                       data, params, ctx,
                       extras=lambda _: {"word2vec_cache": "hit" if hit else "computed"})
