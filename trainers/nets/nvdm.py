"""NVDM's network: a Gaussian VAE with a softmax(linear) decoder over words."""

from __future__ import annotations

import torch
from torch import nn

from trainers.neural import (
    GaussianEncoder,
    bow_input,
    gaussian_kl,
    reparameterize,
    word_log_likelihood,
)


class NVDMNet(nn.Module):
    """Encoder BOW -> N(mu, sigma²) over K dims; words = softmax(R z + b); prior N(0, I).

    NVDM has no topics of its own: its latent vector is continuous and signed. tuner reads
    them out as the NVDM comparisons in the literature do (Miao et al. 2017; Srivastava & Sutton
    2017: the decoder's weight columns are the topics), with each dimension's sign resolved:
    - topic-word: β_k = softmax(s_k R[:, k]), the decoder column of dimension k without the bias
      b (a background distribution every dimension shares; with it every topic has the corpus's
      most frequent words). A column has two ends, and z_k may push either way; s_k = ±1 picks
      the end whose few largest weights stand out (the sign of the column's skewness over the
      vocabulary): a topic is a small set of words raised together, the other end is the broad
      rest of the vocabulary a little lowered.
    - doc-topic: θ_d = softmax(s ⊙ mu_d), the posterior mean oriented the same way, so a
      document's argmax is the dimension that pushes its words furthest towards that dimension's
      topic words. softmax(mu) without s let a document sit in topic k for a large positive
      mu_k even where the words of dimension k are its negative end.
    """

    def __init__(self, vocab_size: int, num_topics: int, hidden_dim: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.encoder = GaussianEncoder(vocab_size, hidden_dim, num_layers, num_topics, dropout,
                                       sparse_input=True)
        self.decoder = nn.Linear(num_topics, vocab_size)

    def losses(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        bow = batch["bow"]
        mu, logvar = self.encoder(bow_input(bow))
        z = reparameterize(mu, logvar, self.training)
        log_words = torch.log_softmax(self.decoder(z), dim=1)
        return -word_log_likelihood(bow, log_words), gaussian_kl(mu, logvar)

    def topic_signs(self) -> torch.Tensor:
        """s_k = ±1 per latent dimension: the sign of its decoder column's skewness."""
        return column_signs(self.decoder.weight)

    def doc_topic(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        mu, _ = self.encoder(bow_input(batch["bow"]))
        return torch.softmax(mu * self.topic_signs(), dim=1)

    def topic_word(self) -> torch.Tensor:
        return torch.softmax((self.decoder.weight * self.topic_signs()).T, dim=1)


def column_signs(weight: torch.Tensor) -> torch.Tensor:
    """+1 where a column of `weight` (V x K) is skewed towards its large values, else -1."""
    centred = weight - weight.mean(dim=0, keepdim=True)
    skew = (centred ** 3).mean(dim=0)
    return torch.where(skew >= 0, 1.0, -1.0).to(weight.dtype)
