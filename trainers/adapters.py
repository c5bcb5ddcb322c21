"""Contrastive adapters for THETA's document embeddings: SimCSE (unsupervised) and SupCon.

On CPU, fine-tuning the embedding model itself is out of reach, so a small residual MLP is
trained on the frozen embeddings instead: `out = normalise(x + f(x))`. The adapted matrix is
cached through EmbeddingCache under a key holding the mode, the objective settings, the seed, the
source embeddings and (supervised) the labels.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from trainers.adam import Adam
from tuner.data.embeddings import EmbeddingCache, EmbeddingKey
from tuner.data.numerics import cpu_numerics
from tuner.data.store import key_digest
from tuner.data.versions import installed_version

Objective = Literal["simcse", "supcon"]
ADAPTATION = "adapter-mlp"
TEMPERATURE: dict[Objective, float] = {"simcse": 0.05, "supcon": 0.1}  # the papers' values


def objective_for(mode: str) -> Objective:
    """THETA's mode -> its contrastive objective (the adapter's and LoRA's alike)."""
    return "supcon" if mode == "supervised" else "simcse"


@dataclass(frozen=True)
class AdapterSettings:
    """How the adapter is trained (part of the cache key)."""

    objective: Objective
    hidden_dim: int = 512
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
    temperature: float = 0.05  # set from TEMPERATURE by `settings_for`
    dropout: float = 0.1  # the noise that makes SimCSE's two views differ


def settings_for(objective: Objective) -> AdapterSettings:
    return AdapterSettings(objective, temperature=TEMPERATURE[objective])


class EmbeddingAdapter(nn.Module):
    """x -> normalise(x + MLP(dropout(x))); starts close to the identity."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden_dim), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(hidden_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x + self.net(x), dim=1)


def info_nce(first: torch.Tensor, second: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCSE's InfoNCE (Gao et al. 2021): row i of `first` must pick row i of `second` among
    the batch. The two views are the same documents under different dropout."""
    first, second = F.normalize(first, dim=1), F.normalize(second, dim=1)
    logits = first @ second.T / temperature
    return F.cross_entropy(logits, torch.arange(len(first), device=first.device))


def supervised_contrastive(z: torch.Tensor, labels: torch.Tensor, temperature: float
                           ) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020): same-label documents are positives."""
    z = F.normalize(z, dim=1)
    self_mask = torch.eye(len(z), dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(self_mask, -1e9)
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positives.sum(dim=1)
    anchors = counts > 0
    if not anchors.any():
        return logits.sum() * 0.0
    mean_log_prob = (log_prob * positives).sum(dim=1)[anchors] / counts[anchors]
    return -mean_log_prob.mean()


def train_adapter(embeddings: NDArray[np.float32], labels: NDArray[np.int64] | None,
                  settings: AdapterSettings, seed: int, device: str) -> NDArray[np.float32]:
    """Train the adapter on `embeddings` and return the adapted (L2-normalised) matrix.

    SupCon trains on the labelled documents (label >= 0) only; every document is adapted.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.from_numpy(np.array(embeddings, dtype=np.float32)).to(device)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device) \
        if labels is not None else None
    rows = np.flatnonzero(np.asarray(labels) >= 0) if labels is not None \
        else np.arange(len(x))
    adapter = EmbeddingAdapter(x.shape[1], settings.hidden_dim, settings.dropout).to(device)
    optimizer = Adam(adapter.parameters(), lr=settings.learning_rate)
    adapter.train()
    for _ in range(settings.epochs):
        order = rows[torch.randperm(len(rows), generator=generator).numpy()]
        for start in range(0, len(order), settings.batch_size):
            idx = torch.from_numpy(order[start:start + settings.batch_size]).to(device)
            if len(idx) < 2:
                continue
            if settings.objective == "simcse" or y is None:
                loss = info_nce(adapter(x[idx]), adapter(x[idx]), settings.temperature)
            else:
                loss = supervised_contrastive(adapter(x[idx]), y[idx], settings.temperature)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    adapter.eval()
    with torch.no_grad():
        return adapter(x).cpu().numpy().astype(np.float32)  # type: ignore[no-any-return]


def adapter_key(embeddings: NDArray[np.float32], labels: NDArray[np.int64] | None,
                settings: AdapterSettings, mode: str, seed: int, corpus_sha256: str,
                device: str = "cpu") -> EmbeddingKey:
    """The cache key of an adapted matrix: mode, settings, seed, source embeddings, labels and
    the device it trains on (CUDA's kernels round otherwise than the CPU's, and each GPU
    model's otherwise than another's)."""
    source = hashlib.sha256(np.ascontiguousarray(embeddings, dtype=np.float32).data).hexdigest()
    label_hash = hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).data).hexdigest() \
        if labels is not None else None
    revision = key_digest({"settings": asdict(settings), "seed": seed, "source": source,
                           "labels": label_hash, "device": device_model(device),
                           "torch": installed_version("torch"),  # as THETA's fit key holds it
                           **cpu_numerics(("numpy", "torch"))})
    return EmbeddingKey(f"theta-{ADAPTATION}/{mode}", revision, ADAPTATION, 0, "adapted",
                        corpus_sha256)


def device_model(device: str) -> str:
    """"cpu", or "cuda:" and the model of the GPU `device` ("cuda:1") names, as
    tuner.devices.device_identity names a machine's."""
    if not device.startswith("cuda"):
        return device.split(":")[0]
    return f"cuda:{torch.cuda.get_device_name(int(device.partition(':')[2] or 0))}"


def adapted_embeddings(embeddings: NDArray[np.float32], labels: NDArray[np.int64] | None,
                       mode: str, seed: int, corpus_sha256: str, cache_dir: str | Path,
                       device: str) -> tuple[NDArray[np.float32], bool]:
    """The adapted matrix for `mode` ("unsupervised" or "supervised"), cached on disk.

    Returns:
        (matrix, True when it came from the cache).
    """
    settings = settings_for(objective_for(mode))
    used_labels = labels if mode == "supervised" else None
    key = adapter_key(embeddings, used_labels, settings, mode, seed, corpus_sha256, device)
    cache = EmbeddingCache(Path(cache_dir))
    return cache.get_or_compute(
        key, lambda: train_adapter(embeddings, used_labels, settings, seed, device))
