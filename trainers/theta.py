"""THETA: an ETM-style VAE whose encoder reads LLM (Qwen3-Embedding) document embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from trainers.base import NEURAL_MIN_DOCUMENTS, Requirement, Trainer
from trainers.word_vectors import Word2VecStep, word_embeddings
from tuner.data.embeddings import QWEN3_EMBEDDING, EmbeddingSpec
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
    CrossCheck,
    Param,
    ParamSchema,
    between,
    one_of,
)

WORD_EMBEDDING_DIM = 300  # Word2Vec size of the fixed word embeddings (ETM's default)


def _no_warmup(params: Mapping[str, Any]) -> bool:
    """Without annealing the KL weight is kl_end from the first epoch: kl_start reaches nothing
    (else values that differ only there run as separate, identical trials)."""
    return params.get("kl_warmup") == 0


THETA_PARAMS = [
    NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, DROPOUT, HIDDEN_DIM, NUM_LAYERS,
    PATIENCE,
    Param("model_size", str, "0.6B", one_of("0.6B", "4B", "8B"), "Qwen3-Embedding size"),
    Param("mode", str, "zero_shot", one_of("zero_shot", "supervised", "unsupervised"),
          "how document embeddings are made"),
    Param("kl_start", float, 0.0, between(0.0, 1.0), "KL weight at the first epoch",
          unused_when=_no_warmup),
    Param("kl_end", float, 1.0, between(0.0, 1.0), "KL weight after warm-up"),
    Param("kl_warmup", int, 50, between(0, 500), "KL annealing epochs (at most epochs)"),
    Param("language", str, "zh", one_of("en", "zh"),
          "affects tokenisation and visual output, not the training algorithm; in a sweep it "
          "follows dataset.language unless the grid sets it"),
    Param("adaptation", str, "auto", one_of("auto", "lora", "adapter"),
          "how the unsupervised and supervised modes adapt the embeddings: LoRA fine-tuning of "
          "the embedding model, or an MLP adapter on the frozen embeddings; auto: LoRA on a "
          "GPU, the adapter on a CPU; a tuner extension beyond parameters.md",
          unused_when=lambda p: p.get("mode") == "zero_shot"),
]
THETA_CHECKS = [
    CrossCheck("kl_warmup <= epochs", ("kl_warmup", "epochs"),
               lambda v: v["kl_warmup"] <= v["epochs"]),
    CrossCheck("kl_start <= kl_end", ("kl_start", "kl_end", "kl_warmup"),
               lambda v: v["kl_warmup"] == 0 or v["kl_start"] <= v["kl_end"]),
]


class THETATrainer(Word2VecStep, Trainer):
    """THETA on the sweep's document embeddings (by default Qwen3-Embedding of `model_size`).

    mode: zero_shot uses the embeddings as they are; unsupervised adapts them with a SimCSE
    objective (dropout views), supervised with a supervised-contrastive objective on the
    documents' labels. `adaptation` picks how: LoRA fine-tuning of the embedding model, then
    the corpus re-encoded (extras["adaptation"] = "lora"), or a small residual MLP adapter on the
    frozen embeddings ("adapter-mlp"); "auto" is LoRA on a GPU and the adapter on a CPU. Either
    result is cached under ctx.cache_dir.
    """

    name: ClassVar[str] = "THETA"
    budget_param: ClassVar[str | None] = "epochs"
    min_documents: ClassVar[int] = NEURAL_MIN_DOCUMENTS
    # 2: conditioned word vectors, N(0, I) topic embeddings; 3: ETM's skip-gram settings,
    # validation on the posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow", "embeddings"})
    libraries: ClassVar[tuple[str, ...]] = ("numpy", "torch", "gensim", "transformers", "peft")
    thread_sensitive: ClassVar[bool] = True
    reads: ClassVar[frozenset[Requirement]] = frozenset({"labels"})  # mode "supervised"
    requires_when: ClassVar[Mapping[Requirement, tuple[str, Any]]] = {
        "labels": ("mode", "supervised")}
    # Both adaptations' modules (cheap once torch is in); peft and transformers stay imported
    # by the LoRA fine-tuning alone.
    warm_imports: ClassVar[tuple[str, ...]] = ("trainers.nets.theta", "trainers.adapters",
                                               "trainers.lora")
    params: ClassVar[ParamSchema] = ParamSchema("THETA", THETA_PARAMS, THETA_CHECKS)
    language_param: ClassVar[str | None] = "language"
    cache_params: ClassVar[tuple[str, ...]] = ("vocab_size", "model_size", "language")

    @staticmethod
    def default_embedding(params: Mapping[str, Any], grid_embedding: EmbeddingSpec
                          ) -> EmbeddingSpec:
        """Qwen3-Embedding of `model_size`, last-token pooling, when the grid names no model."""
        return EmbeddingSpec(model=QWEN3_EMBEDDING[params["model_size"]], pooling="last_token",
                             max_length=grid_embedding.max_length,
                             batch_size=grid_embedding.batch_size,
                             long_documents=grid_embedding.long_documents)

    @staticmethod
    def word2vec_dim(params: Mapping[str, Any]) -> int:
        return WORD_EMBEDDING_DIM

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        from trainers.nets.theta import THETANet
        from trainers.neural import fit_vae, train_config

        embeddings, adaptation = self._document_embeddings(data, params, ctx)
        rho, hit = word_embeddings(data.bow, WORD_EMBEDDING_DIM, ctx.seed, ctx.cache_dir)
        config = train_config(params, ctx.seed, ctx.device, kl_start=params["kl_start"],
                              kl_end=params["kl_end"], kl_warmup=params["kl_warmup"])
        return fit_vae(lambda: THETANet(embeddings.shape[1], rho, params["num_topics"],
                                        params["hidden_dim"], params["num_layers"],
                                        params["dropout"]),
                       data, params, ctx, inputs={"embeddings": embeddings}, config=config,
                       extras=lambda _: {"word2vec_cache": "hit" if hit else "computed",
                                         **adaptation})

    @staticmethod
    def _document_embeddings(data: TrialData, params: Mapping[str, Any], ctx: FitContext
                             ) -> tuple[NDArray[np.float32], dict[str, str]]:
        from trainers.adapters import ADAPTATION, adapted_embeddings

        if data.embeddings is None:
            raise TrainerError("THETA needs document embeddings; the sweep did not provide any")
        mode = params["mode"]
        if mode == "zero_shot":
            return np.asarray(data.embeddings, dtype=np.float32), {"adaptation": "none"}
        if mode == "supervised" and (data.labels is None or not np.any(data.labels >= 0)):
            raise TrainerError("THETA mode=supervised needs document labels; set the grid's "
                               "dataset.label_field or ground_truth, or use mode=zero_shot or "
                               "unsupervised")
        if resolved_adaptation(params["adaptation"], ctx.device) == "lora":
            return _lora_embeddings(data, mode, ctx)
        matrix, hit = adapted_embeddings(data.embeddings, data.labels, mode, ctx.seed,
                                         data.corpus.sha256, ctx.cache_dir, ctx.device)
        return np.asarray(matrix, dtype=np.float32), {
            "adaptation": ADAPTATION, "adaptation_cache": "hit" if hit else "computed"}


def resolved_adaptation(choice: str, device: str) -> str:
    """"lora" or "adapter": auto fine-tunes the embedding model only where a GPU runs it."""
    if choice == "auto":
        return "lora" if device.startswith("cuda") else "adapter"
    return choice


def _lora_embeddings(data: TrialData, mode: str, ctx: FitContext
                     ) -> tuple[NDArray[np.float32], dict[str, str]]:
    from trainers.lora import ADAPTATION as LORA
    from trainers.lora import lora_embeddings

    if data.encoder is None:
        raise TrainerError("THETA adaptation=lora needs the embedding model the sweep used; "
                           "this trial's data names none")
    matrix, hit = lora_embeddings(data.corpus.texts, data.labels, data.encoder, mode, ctx.seed,
                                  data.corpus.sha256, ctx.cache_dir, ctx.device)
    return np.asarray(matrix, dtype=np.float32), {
        "adaptation": LORA, "adaptation_cache": "hit" if hit else "computed"}
