"""ProdLDA from an independent implementation, Pyro's ProdLDA tutorial model, beside tuner's, on
the same bag of words and scored by tuner's metric code.

Usage:
    pip install pyro-ppl==1.9.2        # not a tuner dependency; only this bench needs it
    python bench/prodlda_pyro.py CORPUS [--seeds 42 43 44] [--epochs 50] [--vocab 5000]
                                        [--topics 20] [--cache DIR] [--with-tuner]

Issue #12 asks whether tuner's ProdLDA lags the model or only the paper's claim (NPMI above
LDA's). This fits the model of Pyro's tutorial (pyro.ai/examples/prodlda.html), a second
implementation written apart from the paper's code and from tuner's: an encoder of two softplus
layers of 100 units on the raw counts, dropout 0.2, batch norm without affine on the Gaussian's
mean and log-variance; the prior N(0, I); the decoder softmax(BN(dropout(θ) β)) with a
multinomial likelihood; SVI with Adam (learning rate 0.001), batches of 32, every document
trained on; topic words from the raw rows of β, as the tutorial reads them. Two departures: the
documents are reshuffled every epoch, and a last batch of one document is skipped (batch norm
needs two). The corpus's preprocessing, vocabulary, K and metric settings are the quality
benchmark's fixed protocol, read from `bench/quality/prodlda.json`. With `--with-tuner`, tuner's
ProdLDA with that grid's settings (200 epochs, no early stopping) is fitted on the same bag of
words and seeds. Prints NPMI, ARI and diversity per seed and the mean. Both fits run on one
thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from _common import optional_package, scratch
from quality_20ng import GRIDS, grid_for
from torch import nn

from trainers import load_trainer
from trainers.base import assignments_from, top_words
from tuner.data.cooccurrence import CooccurrenceCache
from tuner.data.corpus import Corpus, load_corpus
from tuner.data.ground_truth import ground_truth_from_labels
from tuner.data.inputs import FitContext, TrialData
from tuner.data.vocab import BagOfWords, BowCache
from tuner.grid import Grid, load_grid
from tuner.metrics.clustering import adjusted_rand
from tuner.metrics.coherence import npmi_coherence
from tuner.metrics.diversity import topic_diversity
from tuner.metrics.reference import MetricReference
from tuner.output import TopicModelOutput

HIDDEN, DROPOUT, BATCH, LEARNING_RATE = 100, 0.2, 32, 1e-3  # the tutorial's settings


class TutorialEncoder(nn.Module):
    def __init__(self, vocab_size: int, num_topics: int) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(vocab_size, HIDDEN), nn.Softplus(),
                                    nn.Linear(HIDDEN, HIDDEN), nn.Softplus(),
                                    nn.Dropout(DROPOUT))
        self.loc = nn.Linear(HIDDEN, num_topics)
        self.log_variance = nn.Linear(HIDDEN, num_topics)
        self.loc_norm = nn.BatchNorm1d(num_topics, affine=False)
        self.log_variance_norm = nn.BatchNorm1d(num_topics, affine=False)

    def forward(self, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden(counts)
        loc = self.loc_norm(self.loc(hidden))
        scale = (0.5 * self.log_variance_norm(self.log_variance(hidden))).exp()
        return loc, scale


class TutorialDecoder(nn.Module):
    def __init__(self, vocab_size: int, num_topics: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(DROPOUT)
        self.beta = nn.Linear(num_topics, vocab_size, bias=False)
        self.norm = nn.BatchNorm1d(vocab_size, affine=False)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.norm(self.beta(self.dropout(theta))), dim=1)


def fit_pyro(bow: BagOfWords, num_topics: int, epochs: int, seed: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """(doc-topic θ = softmax of the guide's mean of log θ, raw β rows K x V) of the tutorial's
    ProdLDA."""
    import pyro
    import pyro.distributions as dist
    from pyro.infer import SVI, TraceMeanField_ELBO

    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    vocab_size = len(bow.vocab)
    encoder, decoder = TutorialEncoder(vocab_size, num_topics), TutorialDecoder(vocab_size,
                                                                                num_topics)

    def model(counts: torch.Tensor) -> None:
        pyro.module("decoder", decoder)
        with pyro.plate("documents", counts.shape[0]):
            prior = dist.Normal(counts.new_zeros(counts.shape[0], num_topics),
                                counts.new_ones(counts.shape[0], num_topics)).to_event(1)
            theta = torch.softmax(pyro.sample("logtheta", prior), dim=-1)
            words = decoder(theta)
            total = int(counts.sum(-1).max())
            pyro.sample("obs", dist.Multinomial(total, words, validate_args=False), obs=counts)

    def guide(counts: torch.Tensor) -> None:
        pyro.module("encoder", encoder)
        with pyro.plate("documents", counts.shape[0]):
            loc, scale = encoder(counts)
            pyro.sample("logtheta", dist.Normal(loc, scale).to_event(1))

    matrix = bow.matrix()
    svi = SVI(model, guide, pyro.optim.Adam({"lr": LEARNING_RATE}), TraceMeanField_ELBO())
    generator = np.random.default_rng(seed)
    for _ in range(epochs):
        encoder.train()
        decoder.train()
        order = generator.permutation(bow.n_docs)
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            if len(rows) > 1:  # batch norm needs two documents
                svi.step(torch.from_numpy(matrix[rows].toarray().astype(np.float32)))
    encoder.eval()
    with torch.no_grad():  # in batches: the whole corpus dense is n_docs x V floats
        locs = [encoder(torch.from_numpy(matrix[start:start + 1024].toarray()
                                         .astype(np.float32)))[0]
                for start in range(0, bow.n_docs, 1024)]
    theta = torch.softmax(torch.cat(locs), dim=1).double().numpy()
    return theta, decoder.beta.weight.detach().T.double().numpy()


def fit_tuner(grid: Grid, corpus: Corpus, bow: BagOfWords, num_topics: int, seed: int
              ) -> TopicModelOutput:
    """tuner's ProdLDA with the quality grid's settings (its first combination)."""
    trainer = load_trainer("ProdLDA")
    params = trainer.params.with_defaults({**grid.sweeps[0].combinations[0],
                                           "num_topics": num_topics,
                                           "vocab_size": len(bow.vocab)})
    return trainer().fit(TrialData(corpus, bow), params,
                         FitContext(seed=seed, top_n=grid.metrics.words_needed))


def scores(output: TopicModelOutput, reference: MetricReference) -> dict[str, float]:
    return {"npmi": npmi_coherence(output, reference), "ari": adjusted_rand(output, reference),
            "diversity": topic_diversity(output, reference)}


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="20 Newsgroups corpus.jsonl")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--epochs", type=int, default=50, help="the tutorial's 50")
    parser.add_argument("--vocab", type=int, default=None, help="default: the quality grid's")
    parser.add_argument("--topics", type=int, default=None, help="default: the quality grid's")
    parser.add_argument("--cache", type=Path, default=None, help="bag-of-words cache folder")
    parser.add_argument("--with-tuner", action="store_true", help="also fit tuner's ProdLDA")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    optional_package("pyro", "pyro-ppl==1.9.2")
    torch.set_num_threads(1)
    # The quality benchmark's fixed protocol, declared once in its ProdLDA grid.
    grid = load_grid(grid_for(GRIDS / "prodlda.json", args.corpus, args.seeds, scratch()))
    protocol = grid.sweeps[0].combinations[0]
    topics = args.topics or protocol["num_topics"]
    corpus = load_corpus(grid.dataset)
    cache = BowCache(args.cache or scratch())
    bow = cache.get_or_compute(corpus, args.vocab or protocol["vocab_size"], grid.preprocessing)
    if corpus.labels is None:
        raise SystemExit(f"{args.corpus}: no label field; ARI needs the posts' groups")
    truth = ground_truth_from_labels(corpus.labels, "label").labels
    reference = MetricReference(
        CooccurrenceCache(cache).get_or_compute(bow, grid.metrics.npmi_window),
        {w: i for i, w in enumerate(bow.vocab)}, truth, grid.metrics)
    rows: dict[str, list[dict[str, float]]] = {"pyro": [], "tuner": []}
    for seed in args.seeds:
        started = time.perf_counter()
        theta, beta = fit_pyro(bow, topics, args.epochs, seed)
        output = TopicModelOutput(top_words(beta, bow.vocab, grid.metrics.words_needed), theta,
                                  assignments_from(theta, np.diff(bow.offsets) == 0),
                                  None, {})
        rows["pyro"].append({"seed": seed, **scores(output, reference),
                             "seconds": time.perf_counter() - started})
        print(json.dumps({"implementation": "pyro tutorial", **rows["pyro"][-1]}), flush=True)
        if args.with_tuner:
            started = time.perf_counter()
            output = fit_tuner(grid, corpus, bow, topics, seed)
            rows["tuner"].append({"seed": seed, **scores(output, reference),
                                  "seconds": time.perf_counter() - started})
            print(json.dumps({"implementation": "tuner", **rows["tuner"][-1]}), flush=True)
    for name, done in rows.items():
        if done:
            npmi = [row["npmi"] for row in done]
            spread = f" ± {statistics.stdev(npmi):.3f}" if len(npmi) > 1 else ""
            print(f"{name}: NPMI {statistics.fmean(npmi):.3f}{spread}, ARI "
                  f"{statistics.fmean(row['ari'] for row in done):.3f}, diversity "
                  f"{statistics.fmean(row['diversity'] for row in done):.3f} "
                  f"({len(done)} seeds, K={topics}, V={len(bow.vocab)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
