"""DTM's network (D-ETM): ETM topic embeddings that drift over time slices."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from trainers.nets.embedding_decoder import EmbeddingDecoder
from trainers.neural import GaussianEncoder, bow_input, gaussian_kl, reparameterize

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
