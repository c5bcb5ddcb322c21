"""DTM as D-ETM (Dieng, Ruiz & Blei 2019): ETM topic embeddings that drift over time slices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from trainers.base import Requirement, Trainer, top_words
from trainers.etm import EMBEDDING_DIM
from trainers.neural import (
    GaussianEncoder,
    bow_input,
    fit_vae,
    gaussian_kl,
    reparameterize,
)
from trainers.time_slices import TIME_SLICE_RULE, slice_documents
from trainers.word_vectors import EmbeddingDecoder, Word2VecStep, word_embeddings
from tuner.data.inputs import FitContext, TrialData
from tuner.data.timestamps import parse_timestamps
from tuner.errors import DataError
from tuner.output import TopicModelOutput
from tuner.params import (
    BATCH_SIZE,
    EPOCHS,
    HIDDEN_DIM,
    LEARNING_RATE,
    NUM_TOPICS,
    VOCAB_SIZE,
    Param,
    ParamSchema,
)

TIME_SLICES = Param(
    "time_slices", str, "year", TIME_SLICE_RULE,
    "time slices: 'year' (one per calendar year) or 'bins:N' (N slices of equal document count, "
    "in date order); a tuner extension beyond parameters.md",
)
ENCODER_LAYERS = 2  # DTM has no num_layers parameter; D-ETM's encoder has two hidden layers
RANDOM_WALK_VARIANCE = 0.005  # δ² of alpha_t ~ N(alpha_{t-1}, δ² I), D-ETM's default delta


class DTMNet(nn.Module):
    """Encoder on the BOW (log counts, as ETM) -> θ (logistic normal, prior N(0, I)); slice t's
    topics β_t = softmax(alpha_t · rhoᵀ) with rho the corpus's fixed Word2Vec matrix, through
    ETM's decoder (`EmbeddingDecoder` with one set of topic embeddings per slice).

    The topic embeddings alpha (T x K x E) are point estimates under the random-walk prior
    alpha_0 ~ N(0, I), alpha_t ~ N(alpha_{t-1}, δ² I); its negative log density, shared out over
    the training documents, is added to each document's KL term.
    """

    def __init__(self, rho: NDArray[np.float32], num_slices: int, num_topics: int,
                 hidden_dim: int, n_docs: int) -> None:
        super().__init__()
        self.encoder = GaussianEncoder(rho.shape[0], hidden_dim, ENCODER_LAYERS, num_topics,
                                       sparse_input=True)
        self.decoder = EmbeddingDecoder(rho, num_topics, num_slices)
        self.n_docs = max(n_docs, 1)

    def slice_topic_word(self) -> torch.Tensor:
        """T x K x V word distributions, one set of topics per slice."""
        return self.decoder()  # type: ignore[no-any-return]

    def _random_walk_penalty(self) -> torch.Tensor:
        alpha = self.decoder.alpha
        steps = alpha[1:] - alpha[:-1]
        return (0.5 * (alpha[0] ** 2).sum()
                + (steps ** 2).sum() / (2.0 * RANDOM_WALK_VARIANCE))

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        bow, slices = batch["bow"], batch["slice"].long()
        mu, logvar = self.encoder(bow_input(bow))
        bow = bow.to_dense()  # each slice's rows are mixed with its own topics
        theta = torch.softmax(reparameterize(mu, logvar, self.training), dim=1)
        beta = self.slice_topic_word()
        words = torch.empty_like(bow)
        for t in torch.unique(slices).tolist():
            rows = slices == t
            words[rows] = theta[rows] @ beta[t]
        recon = -(bow * torch.log(words + 1e-10)).sum(dim=1)
        kl = gaussian_kl(mu, logvar) + self._random_walk_penalty() / self.n_docs
        return recon, kl

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self.encoder(bow_input(batch["bow"]))
        return torch.softmax(mu, dim=1)

    def topic_word(self) -> torch.Tensor:
        """The whole-corpus topics: the mean of the slices' word distributions."""
        return self.slice_topic_word().mean(dim=0)


class DTMTrainer(Word2VecStep, Trainer):
    """Dynamic topic model (D-ETM). `time_slices` is "year" or "bins:N" (a string parameter).

    Metrics read the whole-corpus output (topic_word = mean over slices); the per-slice top words
    of every topic go to extras["slice_top_words"] ({slice label: K word lists}).
    """

    name: ClassVar[str] = "DTM"
    budget_param: ClassVar[str | None] = "epochs"
    # 2: conditioned word vectors, N(0, I) topics, log counts; 3: ETM's skip-gram settings,
    # validation on the posterior mean
    revision: ClassVar[int] = 4  # 4: sparse batches and fused Adam (sums in another order)
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow", "timestamps"})
    params: ClassVar[ParamSchema] = ParamSchema("DTM", [
        NUM_TOPICS, VOCAB_SIZE, EPOCHS, BATCH_SIZE, LEARNING_RATE, HIDDEN_DIM, EMBEDDING_DIM,
        TIME_SLICES,
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        corpus = data.corpus
        if corpus.timestamps is None:
            raise DataError(f"{corpus.source}: dataset.timestamp_field: DTM needs timestamps; "
                            "name the field that holds them")
        dates = parse_timestamps(corpus.timestamps, corpus.ids, corpus.source)
        slices = slice_documents(dates, params["time_slices"])
        rho, hit = word_embeddings(data.bow, params["embedding_dim"], ctx.seed, ctx.cache_dir)
        return fit_vae(lambda: DTMNet(rho, slices.count, params["num_topics"],
                                      params["hidden_dim"], data.bow.n_docs),
                       data, params, ctx, inputs={"slice": slices.index.astype(np.float32)},
                       extras=lambda net: {
                           "num_slices": slices.count,
                           "slice_top_words": _slice_top_words(net, slices.labels, data, ctx),
                           "word2vec_cache": "hit" if hit else "computed"})


def _slice_top_words(net: nn.Module, labels: list[str], data: TrialData, ctx: FitContext
                     ) -> dict[str, list[list[str]]]:
    """{slice label: each topic's top words in that slice}."""
    with torch.no_grad():
        per_slice = net.slice_topic_word().double().cpu().numpy()  # type: ignore[operator]
    return {label: top_words(per_slice[t], data.bow.vocab, ctx.top_n)
            for t, label in enumerate(labels)}
