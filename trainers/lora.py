"""LoRA fine-tuning of THETA's embedding model (Hu et al. 2021), then the corpus re-encoded.

THETA's `unsupervised` mode trains it with SimCSE (two dropout views of each document must find
each other in the batch), `supervised` with SupCon on the labels: the same objectives as the
CPU adapter in `trainers/adapters.py`, applied to the transformer itself. peft adds rank-r
updates to the attention projections; the base weights stay frozen and the model folder is never
written. The re-encoded matrix is cached like any embedding, under a key holding the base
embeddings' key, the mode, the LoRA settings, the seed and (supervised) the labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from trainers.adam import Adam
from trainers.adapters import (
    TEMPERATURE,
    Objective,
    device_model,
    info_nce,
    objective_for,
    supervised_contrastive,
)
from trainers.base import require
from tuner.data.embeddings import (
    EmbeddingCache,
    EmbeddingKey,
    EncoderSource,
    embed_batch,
    encode_with,
    load_encoder,
)
from tuner.data.numerics import cpu_numerics
from tuner.data.store import key_digest, locked
from tuner.data.versions import installed_versions

ADAPTATION = "lora"


@dataclass(frozen=True)
class LoraSettings:
    """How the embedding model is fine-tuned (part of the cache key)."""

    objective: Objective
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.1
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 5e-4
    temperature: float = 0.05  # set from TEMPERATURE by `lora_settings_for`
    max_steps: int | None = None  # stop after this many optimiser steps (None: all epochs)


def lora_settings_for(objective: Objective, **changes: Any) -> LoraSettings:
    return LoraSettings(objective, **{"temperature": TEMPERATURE[objective], **changes})


def lora_embeddings(texts: Sequence[str], labels: NDArray[np.int64] | None,
                    source: EncoderSource, mode: str, seed: int, corpus_sha256: str,
                    cache_dir: str | Path, device: str, settings: LoraSettings | None = None
                    ) -> tuple[NDArray[np.float32], bool]:
    """The corpus embedded by the LoRA-tuned model for `mode`, cached on disk.

    Returns:
        (matrix, True when it came from the cache).
    """
    settings = settings or lora_settings_for(objective_for(mode))
    used_labels = labels if mode == "supervised" else None
    key = lora_key(source, used_labels, settings, mode, seed, corpus_sha256, device)
    cache = EmbeddingCache(Path(cache_dir))

    def compute() -> NDArray[np.float32]:
        with one_at_a_time_on(device, Path(cache_dir)):
            return fine_tune_and_encode(texts, used_labels, source, settings, seed, device)

    return cache.get_or_compute(key, compute)


@contextmanager
def one_at_a_time_on(device: str, cache_dir: Path) -> Iterator[None]:
    """On a GPU, one fine-tuning at a time per device: two workers sharing a GPU would each
    load the embedding model (16 GB for Qwen3-Embedding-8B in bfloat16) and could run it out
    of memory. Workers on other GPUs, and CPU runs, go ahead."""
    if not device.startswith("cuda"):
        yield
        return
    with locked(cache_dir / "locks" / f"lora-{device.replace(':', '-')}"):
        yield


LORA_LIBRARIES = ("torch", "transformers", "peft")  # as THETA's fit key holds them


def lora_key(source: EncoderSource, labels: NDArray[np.int64] | None, settings: LoraSettings,
             mode: str, seed: int, corpus_sha256: str, device: str = "cpu") -> EmbeddingKey:
    """The fine-tuned embeddings' cache key: the base, settings, seed, labels, and the dtype
    the fine-tuning runs in on `device` (bfloat16 on most GPUs) and, on a GPU, its model."""
    label_hash = hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).data).hexdigest() \
        if labels is not None else None
    revision = key_digest({"base": source.key, "settings": asdict(settings), "seed": seed,
                           "labels": label_hash, "dtype": str(_training_dtype(device)),
                           **installed_versions(LORA_LIBRARIES),
                           **cpu_numerics(("numpy", "torch")),
                           # only on a GPU, so keys made on a CPU stay
                           **({"device": device_model(device)} if device != "cpu" else {})})
    return EmbeddingKey(f"{source.model}+{ADAPTATION}/{mode}", revision, source.pooling,
                        source.max_length, "raw", corpus_sha256,
                        long_documents=source.long_documents)


def fine_tune_and_encode(texts: Sequence[str], labels: NDArray[np.int64] | None,
                         source: EncoderSource, settings: LoraSettings, seed: int, device: str
                         ) -> NDArray[np.float32]:
    """Fine-tune LoRA weights on `texts` (SupCon: the labelled ones), then embed every text."""
    torch.manual_seed(seed)
    tokenizer, base = load_encoder(Path(source.path), source.pooling, device,
                                   dtype=_training_dtype(device))
    model = require("peft", "peft", "THETA's LoRA").get_peft_model(
        base, _lora_config(base, settings))
    _train(model, tokenizer, texts, labels, source, settings, seed)
    model.eval()
    return encode_with(model, tokenizer, texts, source.pooling, source.max_length,
                       source.batch_size, long_documents=source.long_documents)


def _train(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str],
           labels: NDArray[np.int64] | None, source: EncoderSource, settings: LoraSettings,
           seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    rows = np.flatnonzero(labels >= 0) if labels is not None else np.arange(len(texts))
    target = torch.from_numpy(np.asarray(labels, dtype=np.int64)) if labels is not None \
        else None
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = Adam(trainable, lr=settings.learning_rate, weight_decay=0.01,
                     decoupled_weight_decay=True)  # torch.optim.AdamW's defaults
    model.train()
    steps = 0
    for _ in range(settings.epochs):
        order = rows[torch.randperm(len(rows), generator=generator).numpy()]
        for start in range(0, len(order), settings.batch_size):
            idx = order[start:start + settings.batch_size]
            if len(idx) < 2:
                continue
            loss = _batch_loss(model, tokenizer, [texts[i] for i in idx],
                               target[idx] if target is not None else None, source, settings)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if settings.max_steps is not None and steps >= settings.max_steps:
                return


def _batch_loss(model: torch.nn.Module, tokenizer: Any, batch: list[str],
                labels: torch.Tensor | None, source: EncoderSource, settings: LoraSettings
                ) -> torch.Tensor:
    first = embed_batch(model, tokenizer, batch, source.pooling, source.max_length).float()
    if labels is None:
        second = embed_batch(model, tokenizer, batch, source.pooling, source.max_length).float()
        return info_nce(first, second, settings.temperature)
    return supervised_contrastive(first, labels.to(first.device), settings.temperature)


def _training_dtype(device: str) -> torch.dtype:
    """bfloat16 on a GPU that has it (float16 weights would need loss scaling), else float32."""
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _lora_config(model: torch.nn.Module, settings: LoraSettings) -> Any:
    """LoRA on the attention query and value projections (peft's per-architecture default), or
    on every linear layer for an architecture peft has no default for."""
    peft = require("peft", "peft", "THETA's LoRA")
    known = peft.utils.TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    targets = known.get(model_type, "all-linear")
    return peft.LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                           lora_dropout=settings.dropout, target_modules=targets, bias="none")
