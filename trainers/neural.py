"""Shared base of the neural topic models: encoder, priors, KL annealing, one training loop.

ProdLDA uses it now; NVDM, GSM, ETM, CTM, DTM and THETA plug their own encoder input and
decoder into the same `TopicVAE` contract and `train_vae` loop.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from torch import nn

from trainers.adam import Adam
from trainers.base import assignments_from, empty_documents, top_words
from tuner.data.inputs import FitContext, TrialData
from tuner.output import TopicModelOutput

VALIDATION_FRACTION = 0.1
LOGVAR_LIMIT = 10.0  # exp(10) is already a huge variance; beyond it exp() overflows


class BowLinear(nn.Module):
    """nn.Linear(vocab_size, out_dim) that reads a sparse CSR bag of words as it is.

    A document holds 14 (paragraphs) to 60 (20ng-mini posts) of 5,000-10,000 words, so a dense
    batch x V product is almost all zeros: forward and backward of this layer took 10 ms per
    batch of 64 at V=10,000 dense, 0.5 ms as an embedding bag (one thread). The weight is stored
    transposed (V x out, one row per word, as embedding_bag reads it) but starts as the very
    values nn.Linear draws, from the same random numbers, so a seed gives the same model.
    """

    def __init__(self, vocab_size: int, out_dim: int) -> None:
        super().__init__()
        linear = nn.Linear(vocab_size, out_dim)
        self.weight = nn.Parameter(linear.weight.detach().T.contiguous())
        self.bias = nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.layout != torch.sparse_csr:
            return nn.functional.linear(x, self.weight.T, self.bias)
        summed = nn.functional.embedding_bag(
            x.col_indices(), self.weight, x.crow_indices(), mode="sum",
            per_sample_weights=x.values(), include_last_offset=True)
        return summed + self.bias


def mlp_encoder(input_dim: int, hidden_dim: int, num_layers: int, batch_norm: bool = False,
                sparse_input: bool = False) -> nn.Sequential:
    """`num_layers` Linear(+BatchNorm)+Softplus layers of width `hidden_dim` (ProdLDA/NVDM-style
    encoder; THETA adds batch norm). With `sparse_input` the first layer is a `BowLinear`."""
    layers: list[nn.Module] = []
    width = input_dim
    for layer in range(num_layers):
        sparse = sparse_input and layer == 0
        layers.append(BowLinear(width, hidden_dim) if sparse else nn.Linear(width, hidden_dim))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers.append(nn.Softplus())
        width = hidden_dim
    return nn.Sequential(*layers)


class GaussianEncoder(nn.Module):
    """input -> MLP -> dropout -> (mu, logvar) of a diagonal Gaussian over `latent_dim`.

    Args:
        input_dim: width of the encoder input (vocabulary size, embedding size, or both).
        hidden_dim: units per hidden layer.
        num_layers: hidden layers.
        latent_dim: size of the Gaussian (the number of topics for most models).
        dropout: dropout on the last hidden layer.
        head_norm: batch norm (no affine) on mu and logvar, as ProdLDA and CTM do.
        hidden_norm: batch norm inside the hidden layers, as THETA does.
        sparse_input: the input is a bag of words, sparse or dense (`BowLinear`).
    """

    def __init__(self, input_dim: int, hidden_dim: int, num_layers: int, latent_dim: int,
                 dropout: float = 0.0, head_norm: bool = False, hidden_norm: bool = False,
                 sparse_input: bool = False) -> None:
        super().__init__()
        self.hidden = mlp_encoder(input_dim, hidden_dim, num_layers, hidden_norm, sparse_input)
        self.dropout = nn.Dropout(dropout)
        self.mu = nn.Linear(hidden_dim, latent_dim)
        self.logvar = nn.Linear(hidden_dim, latent_dim)
        self.mu_norm: nn.Module = nn.BatchNorm1d(latent_dim, affine=False) if head_norm \
            else nn.Identity()
        self.logvar_norm: nn.Module = nn.BatchNorm1d(latent_dim, affine=False) if head_norm \
            else nn.Identity()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.dropout(self.hidden(x))
        logvar = self.logvar_norm(self.logvar(hidden)).clamp(-LOGVAR_LIMIT, LOGVAR_LIMIT)
        return self.mu_norm(self.mu(hidden)), logvar


def bow_input(bow: torch.Tensor) -> torch.Tensor:
    """What an encoder reads of a bag of words (sparse CSR or dense): log(1 + count). Raw counts
    of a very long document (20NG's 160 kB uuencoded post) push the encoder far outside the range
    its batch norm statistics know, and evaluation-mode losses explode."""
    return torch.log1p(bow)


def word_log_likelihood(bow: torch.Tensor, log_probs: torch.Tensor) -> torch.Tensor:
    """sum_w n_dw log p_dw per document, for counts n (n x V, sparse CSR or dense) and log word
    probabilities p (n x V, dense)."""
    if bow.layout != torch.sparse_csr:
        return (bow * log_probs).sum(dim=1)
    rows, words = _nonzero_cells(bow)
    picked = bow.values() * log_probs[rows, words]
    return torch.zeros(bow.shape[0], dtype=picked.dtype, device=picked.device
                       ).index_add(0, rows, picked)


def _nonzero_cells(bow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(document, word) of each stored count of a sparse CSR bag of words."""
    crow = bow.crow_indices()
    documents = torch.arange(bow.shape[0], device=crow.device)
    return torch.repeat_interleave(documents, crow.diff()), bow.col_indices()


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, sample: bool) -> torch.Tensor:
    """A sample of N(mu, exp(logvar)) that gradients flow through when `sample` (training), else
    the posterior mean: held-out losses then measure the model, not one random draw, and the
    best epoch is not picked by sampling luck."""
    if not sample:
        return mu
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


def mixture_nll(bow: torch.Tensor, theta: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """-sum_w n_dw log(sum_k θ_dk β_kw) per document, for θ (n x K) and β (K x V); a sparse
    CSR `bow` mixes only the words each document holds."""
    if bow.layout != torch.sparse_csr:
        return -(bow * torch.log(theta @ beta + 1e-10)).sum(dim=1)
    rows, words = _nonzero_cells(bow)
    mixed = (theta[rows] * beta[:, words].T).sum(dim=1)
    picked = bow.values() * torch.log(mixed + 1e-10)
    return -torch.zeros(bow.shape[0], dtype=picked.dtype, device=picked.device
                        ).index_add(0, rows, picked)


def dirichlet_laplace_prior(num_topics: int, alpha: float = 1.0) -> tuple[float, float]:
    """Mean and variance of the logistic-normal approximating a symmetric Dirichlet(alpha)
    (Srivastava & Sutton 2017, eq. 3)."""
    mean = 0.0
    variance = (1.0 / alpha) * (1.0 - 2.0 / num_topics) + 1.0 / (num_topics * alpha)
    return mean, variance


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor,
                prior_mean: float | torch.Tensor = 0.0,
                prior_var: float | torch.Tensor = 1.0) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(prior_mean, prior_var)) per document (summed over topics);
    the prior may be numbers or (learnt) per-topic tensors."""
    var = logvar.exp()
    log_prior_var = torch.log(torch.as_tensor(prior_var, dtype=mu.dtype, device=mu.device))
    terms = (var / prior_var + (mu - prior_mean) ** 2 / prior_var - 1.0 + log_prior_var
             - logvar)
    return 0.5 * terms.sum(dim=1)


class LogisticNormalPrior(nn.Module):
    """The Laplace approximation of a symmetric Dirichlet(1) over K topics (ProdLDA, CTM), fixed
    or, as CTM's `learn_priors`, learnt per topic from that start. A learnt variance is kept as
    its logarithm, so it stays positive (CTM learns the variance itself)."""

    def __init__(self, num_topics: int, learnable: bool = False) -> None:
        super().__init__()
        mean, variance = dirichlet_laplace_prior(num_topics)
        mean_t = torch.full((num_topics,), mean)
        log_variance_t = torch.full((num_topics,), math.log(variance))
        if learnable:
            self.mean = nn.Parameter(mean_t)
            self.log_variance = nn.Parameter(log_variance_t)
        else:
            self.register_buffer("mean", mean_t)
            self.register_buffer("log_variance", log_variance_t)

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL of each document's posterior from this prior."""
        return gaussian_kl(mu, logvar, self.mean, self.log_variance.exp())


class ProductOfExpertsDecoder(nn.Module):
    """ProdLDA's and CTM's decoder: words = softmax(BN(θ β)), β (K x V) Xavier-initialised.

    Xavier as in both reference implementations: nn.Linear's default (uniform ±1/sqrt(K), ±0.22
    at K=20) starts β four times wider, and since batch norm makes each word's logit blind to the
    scale and offset of its β column, much of that start noise is never trained away.
    """

    def __init__(self, num_topics: int, vocab_size: int, dropout: float) -> None:
        super().__init__()
        self.theta_dropout = nn.Dropout(dropout)
        self.beta = nn.Parameter(torch.empty(num_topics, vocab_size))
        nn.init.xavier_uniform_(self.beta)
        self.word_norm = nn.BatchNorm1d(vocab_size, affine=False)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        """Log word probabilities of each document (n x V)."""
        return torch.log_softmax(self.word_norm(self.theta_dropout(theta) @ self.beta), dim=1)

    def topic_word(self) -> torch.Tensor:
        """K x V: the word distribution the trained decoder gives a document wholly in topic k,
        softmax((β_k - m) / s) with m, s the batch norm's running mean and deviation per word.

        The references rank raw β rows instead. Batch norm makes each word's likelihood blind to
        the offset and scale of its β column, so raw rows keep whatever those were at the start
        (rare words most); the normalised rows are what the model actually predicts.
        ProdLDA on 20ng-mini (K=20, 200 epochs, seed 42): NPMI -0.094 ranked by raw β, -0.041
        normalised.
        """
        mean, var = self.word_norm.running_mean, self.word_norm.running_var
        assert mean is not None and var is not None  # BatchNorm1d tracks running statistics
        scale = torch.sqrt(var + self.word_norm.eps)
        return torch.softmax((self.beta - mean) / scale, dim=1)


class TopicVAE(Protocol):
    """What `train_vae` needs from a model: losses per document, then θ and β for the output."""

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction loss, KL divergence), one value per document."""
        ...

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Topic proportions per document (rows sum to 1), in eval mode."""
        ...

    def topic_word(self) -> torch.Tensor:
        """K x V word distributions."""
        ...


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int | None  # None: train every epoch
    seed: int
    device: str = "cpu"
    adam_betas: tuple[float, float] = (0.9, 0.999)  # torch's default; ProdLDA and CTM differ
    kl_start: float = 1.0  # KL weight rises linearly from kl_start to kl_end over kl_warmup
    kl_end: float = 1.0
    kl_warmup: int = 0


def kl_weight(config: TrainConfig, epoch: int) -> float:
    """The KL weight at `epoch` (0-based): linear warm-up, then kl_end."""
    if config.kl_warmup <= 0 or epoch >= config.kl_warmup:
        return config.kl_end
    return config.kl_start + (config.kl_end - config.kl_start) * epoch / config.kl_warmup


@dataclass
class TrainResult:
    epochs_run: int = 0
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False
    pruned: bool = False  # the sweep's pruner stopped it (the weights are the last epoch's)
    history: list[dict[str, float]] = field(default_factory=list)
    top_words: list[NDArray[np.int64]] = field(default_factory=list)  # per epoch, K x 10 ids
    start_top_words: NDArray[np.int64] | None = None  # the initial weights', K x 10 ids

    def from_start(self) -> float | None:
        """The share of each topic's top TURNOVER_WORDS words at the kept epoch that were its
        top words before training, averaged over the topics: how far the fit left its start.
        A decoder over fixed word vectors (ETM, DTM, THETA) moves its topics slowly: DTM on
        110 UN speeches kept 86% at 20 epochs, 46% at its default 100, 12% at 300 (NPMI
        -0.334, -0.230, -0.029); ProdLDA's and NVDM's free decoders were at 0 to 2% by epoch
        20 (huffpost, 1,500 headlines, K=10, seed 42; /tmp script of 2026-12-02)."""
        kept = self.best_epoch
        if self.start_top_words is None or kept >= len(self.top_words):
            return None
        now = self.top_words[kept]
        stayed = [len(np.intersect1d(a, b))
                  for a, b in zip(now, self.start_top_words, strict=True)]
        return float(np.mean(stayed)) / now.shape[1]

    def turnover(self) -> tuple[float, int] | None:
        """How much the kept epoch's topics still moved: the share of each topic's top
        TURNOVER_WORDS words that were not among its top words `lag` epochs before, averaged
        over the topics, with the lag (TURNOVER_LAG, or half the epochs up to the kept one
        when fewer); None when the kept epoch is the first. A decoder's topic k stays topic k
        through training, so topics compare by index."""
        kept = self.best_epoch
        lag = min(TURNOVER_LAG, (kept + 1) // 2)
        if lag < 1 or kept >= len(self.top_words):
            return None
        now, before = self.top_words[kept], self.top_words[kept - lag]
        stayed = [len(np.intersect1d(a, b)) for a, b in zip(now, before, strict=True)]
        return 1.0 - float(np.mean(stayed)) / now.shape[1], lag


BatchFn = Callable[[NDArray[np.int64]], dict[str, torch.Tensor]]
EpochHook = Callable[[int, TrainResult, bool], bool]  # (epochs done, so far, final) -> stop


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))
    return torch.Generator().manual_seed(seed)


def split_train_validation(n_docs: int, seed: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """A seeded 90/10 split of document indices (at least one validation document)."""
    order = np.random.default_rng(seed).permutation(n_docs)
    n_val = max(1, int(round(n_docs * VALIDATION_FRACTION))) if n_docs > 1 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def train_vae(model: nn.Module, make_batch: BatchFn, n_docs: int, config: TrainConfig,
              after_epoch: EpochHook | None = None) -> TrainResult:
    """Adam on the annealed ELBO. With `patience` set, keeps the weights of the watched epoch
    with the best validation reconstruction loss; with `patience` None (no early stopping), trains
    every epoch and keeps the last weights, as ProdLDA's and CTM's reference code do (CTM on
    20ng-mini, K=20, seed 42: NPMI -0.067 and ARI 0.199 with the best held-out epoch's weights,
    -0.047 and 0.219 with the last).

    Early stopping watches the held-out reconstruction loss, not the ELBO: in the first epochs the
    KL term grows faster than the reconstruction improves (the posterior leaves the prior), so the
    ELBO's minimum would be epoch 0 and a model would stop untrained. Epochs are watched (as
    candidates for the best weights and for patience) from `first_watched_epoch` on, after KL
    warm-up and after `patience` epochs, and patience only counts once the loss has improved on
    the first watched epoch's. On short texts the held-out loss first rises for a while (ProdLDA
    on 1,000 headlines: up for 20 epochs, then below the first epoch's); stopping inside that
    bump kept the weights of epoch 0 or 1, which put most documents in one topic (GSM on
    huffpost-mini: 75% in one topic, best epoch 1).

    `after_epoch` (the sweep's pruner) sees the model after each epoch; when it says stop, the
    loop ends with the weights it judged.
    """
    generator = seed_everything(config.seed)
    train_idx, val_idx = split_train_validation(n_docs, config.seed)
    optimizer = Adam(model.parameters(), lr=config.learning_rate, betas=config.adam_betas,
                     fused=fused_adam(config.device))
    result, best_state, waited = TrainResult(), copy.deepcopy(model.state_dict()), 0
    result.start_top_words = top_word_ids(model)
    first = first_watched_epoch(config)
    for epoch in range(config.epochs):
        weight = kl_weight(config, epoch)
        train_loss = _train_epoch(model, make_batch, train_idx, config, weight, optimizer,
                                  generator)
        val_loss = validation_loss(model, make_batch, val_idx, config) if len(val_idx) else \
            train_loss
        result.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                               "kl_weight": weight})
        result.top_words.append(top_word_ids(model))
        result.epochs_run = epoch + 1
        if config.patience is None:  # no early stopping: every epoch trained, the last kept
            result.best_epoch, result.best_val_loss = epoch, val_loss
        elif epoch >= first:
            if val_loss < result.best_val_loss - 1e-6:
                result.best_val_loss, result.best_epoch, waited = val_loss, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            elif result.best_epoch > first:
                waited += 1
            result.stopped_early = waited >= config.patience
        if after_epoch is not None and after_epoch(epoch + 1, result, result.stopped_early):
            result.pruned = True
            return result
        if result.stopped_early:
            break
    if config.patience is not None:
        model.load_state_dict(best_state)
    return result


TURNOVER_WORDS = 10
# Measured on 20ng-mini and huffpost-mini (K=20, seed 42, patience null; /tmp script of
# 2026-12-02, NPMI of each epoch's topics): ProdLDA's turnover over 10 epochs fell from 0.68 (20ng)
# and 0.74 (huffpost) at epoch 20 to 0.47 and 0.64 at 40, while NPMI rose from -0.150 and -0.465
# to -0.131 and -0.368; once NPMI had levelled (-0.05 and -0.21, epochs 60 to 200) it stayed at
# 0.21 to 0.41. NVDM's fell to 0.26 by epoch 50 and 0.08 by 200.
TURNOVER_LAG = 10


def top_word_ids(model: nn.Module) -> NDArray[np.int64]:
    """Each topic's TURNOVER_WORDS most likely word ids (K x 10), read from the decoder's
    parameters alone: no batch, no random numbers, no running statistics updated."""
    with torch.no_grad():
        topic_word = model.topic_word()  # type: ignore[operator]
        words = min(TURNOVER_WORDS, topic_word.shape[-1])
        return topic_word.topk(words, dim=-1).indices.cpu().numpy()


def fused_adam(device: str) -> bool:
    """Adam's fused kernel where torch has one (CPU, CUDA): the same update in one pass. The
    default loop updates each tensor apart, allocating a temporary per step: at V=10,000 it was
    half of a ProdLDA batch; fused, 25k paragraphs train 2.3x faster per epoch (45.4 -> 19.8 s,
    bench/scale.py's corpus), the same NPMI and ARI within 1e-4."""
    return torch.device(device).type in ("cpu", "cuda")


def first_watched_epoch(config: TrainConfig) -> int:
    """The first epoch early stopping looks at: after KL warm-up and `patience` epochs, and
    never past the last epoch."""
    return max(0, min(config.epochs - 1, max(config.kl_warmup, config.patience or 0)))


def _train_epoch(model: nn.Module, make_batch: BatchFn, train_idx: NDArray[np.int64],
                 config: TrainConfig, weight: float, optimizer: Adam,
                 generator: torch.Generator) -> float:
    model.train()
    order = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
    total = 0.0
    for start in range(0, len(order), config.batch_size):
        batch_idx = order[start:start + config.batch_size]
        if len(batch_idx) < 2:  # batch norm needs two documents
            continue
        recon, kl = model.losses(make_batch(batch_idx))  # type: ignore[operator]
        loss = (recon + weight * kl).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(batch_idx)
    return total / max(len(order), 1)


def validation_loss(model: nn.Module, make_batch: BatchFn, val_idx: NDArray[np.int64],
                    config: TrainConfig) -> float:
    """Mean reconstruction loss (negative log-likelihood of the words) of held-out documents,
    in eval mode: θ from the posterior mean, no dropout, batch norm on its running statistics."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(val_idx), config.batch_size):
            batch_idx = val_idx[start:start + config.batch_size]
            recon, _ = model.losses(make_batch(batch_idx))  # type: ignore[operator]
            total += float(recon.sum())
    return total / len(val_idx)


def infer_doc_topic(model: nn.Module, make_batch: BatchFn, n_docs: int, batch_size: int
                    ) -> NDArray[np.float64]:
    """θ for every document, in eval mode and in document order."""
    model.eval()
    rows = []
    with torch.no_grad():
        for start in range(0, n_docs, batch_size):
            idx = np.arange(start, min(start + batch_size, n_docs))
            rows.append(model.doc_topic(make_batch(idx)).double().cpu().numpy())  # type: ignore[operator]
    theta = np.concatenate(rows)
    return theta / theta.sum(axis=1, keepdims=True)


def bow_batches(bow: sp.csr_matrix, device: str, **dense: NDArray[Any]) -> BatchFn:
    """A batch maker: the BOW rows as a sparse CSR tensor (float32) under "bow", and the rows of
    any dense inputs, on the device."""
    def make(idx: NDArray[np.int64]) -> dict[str, torch.Tensor]:
        batch = {"bow": sparse_rows(bow, idx).to(device)}
        for name, array in dense.items():
            batch[name] = torch.from_numpy(np.asarray(array[idx], dtype=np.float32)).to(device)
        return batch

    return make


def sparse_rows(bow: sp.csr_matrix, idx: NDArray[np.int64]) -> torch.Tensor:
    """Rows `idx` of a CSR matrix as a torch sparse CSR tensor of float32 counts."""
    rows = bow[idx]
    with warnings.catch_warnings():  # torch's one-time "sparse CSR support is in beta" notice
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(rows.indptr.astype(np.int64)),
            torch.from_numpy(rows.indices.astype(np.int64)),
            torch.from_numpy(rows.data.astype(np.float32)), size=rows.shape,
            check_invariants=False)


def train_config(params: Mapping[str, Any], seed: int, device: str, **settings: Any
                 ) -> TrainConfig:
    """The loop settings of a neural trainer from its validated parameters (`settings`: KL
    annealing, Adam's betas)."""
    return TrainConfig(epochs=params["epochs"], batch_size=params["batch_size"],
                       learning_rate=params["learning_rate"], patience=params.get("patience"),
                       seed=seed, device=device, **settings)


ExtrasFn = Callable[[nn.Module], Mapping[str, Any]]


def fit_vae(build: Callable[[], nn.Module], data: TrialData, params: Mapping[str, Any],
            ctx: FitContext, inputs: Mapping[str, NDArray[Any]] | None = None,
            config: TrainConfig | None = None, extras: ExtrasFn | None = None
            ) -> TopicModelOutput:
    """The recipe every neural trainer shares: seed, build on the device, batch the BOW (and any
    per-document `inputs`), train, read out.

    Args:
        build: makes the untrained model (called after seeding, so its init repeats).
        inputs: dense per-document arrays each batch carries beside "bow" (embeddings, slices).
        config: loop settings; by default `train_config` of the parameters.
        extras: what to add to the output's extras, read from the trained model.
    """
    torch.manual_seed(ctx.seed)
    net = build().to(ctx.device)
    make_batch = bow_batches(data.bow.matrix(), ctx.device, **(inputs or {}))

    def output(result: TrainResult) -> TopicModelOutput:
        more = dict(extras(net)) if extras is not None else {}
        return fitted_output(net, make_batch, data, params["batch_size"], ctx.top_n, result,
                             **more)

    result = train_vae(net, make_batch, data.bow.n_docs,
                       config or train_config(params, ctx.seed, ctx.device),
                       lambda epochs, so_far, final: ctx.checkpoint(
                           epochs, lambda: output(so_far), final))
    return output(result)


def fitted_output(net: nn.Module, make_batch: BatchFn, data: TrialData, batch_size: int,
                  top_n: int, result: TrainResult, **extras: Any) -> TopicModelOutput:
    """The output of a trained VAE: θ for every document, its β, top words and training facts."""
    doc_topic = infer_doc_topic(net, make_batch, data.bow.n_docs, batch_size)
    with torch.no_grad():
        topic_word = net.topic_word().double().cpu().numpy()  # type: ignore[operator]
    topic_word /= topic_word.sum(axis=1, keepdims=True)
    facts = {"epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
             "stopped_early": int(result.stopped_early), "best_val_loss": result.best_val_loss}
    turnover = result.turnover()
    if turnover is not None:
        facts["top_word_turnover"], facts["top_word_turnover_epochs"] = turnover
    from_start = result.from_start()
    if from_start is not None:
        facts["top_words_from_start"] = from_start
    return TopicModelOutput(top_words(topic_word, data.bow.vocab, top_n), doc_topic,
                            assignments_from(doc_topic, empty_documents(data)), topic_word,
                            {**facts, **extras})


class BowVAEFactory(Protocol):
    """The constructor shape of a VAE that reads only the bag of words (ProdLDA, NVDM, GSM)."""

    def __call__(self, vocab_size: int, num_topics: int, hidden_dim: int, num_layers: int,
                 dropout: float) -> nn.Module: ...


def fit_bow_vae(make_net: BowVAEFactory, data: TrialData, params: Mapping[str, Any],
                ctx: FitContext, **settings: Any) -> TopicModelOutput:
    """Build, train and read out a bag-of-words VAE with the trial's parameters (`settings`:
    loop settings beyond the parameters, as `train_config` takes)."""
    return fit_vae(lambda: make_net(len(data.bow.vocab), params["num_topics"],
                                    params["hidden_dim"], params["num_layers"],
                                    params["dropout"]),
                   data, params, ctx, config=train_config(params, ctx.seed, ctx.device, **settings))
