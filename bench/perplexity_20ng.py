"""Held-out perplexity of tuner's NVDM and GSM on 20 Newsgroups, against their papers' figures.

Usage:
    python bench/perplexity_20ng.py CORPUS [--models NVDM GSM] [--seeds 42 43] [--topics 50]
                                    [--vocab 2000] [--epochs N] [--patience N|none]
                                    [--samples 20] [--json FILE]

CORPUS is the 12,000-post 20 Newsgroups `corpus.jsonl` whose ids start "train/" or "test/"
(the 20news-bydate split, 600 posts per group). The bag of words is tuner's preprocessing with
the quality benchmark's settings (`bench/quality/nvdm.json`: sklearn stop words, words of 3+
letters, min_df 5, max_df 0.7), its vocabulary (the `--vocab` most document-frequent words)
built from the training posts alone; test words outside it are dropped, and so are test posts
left with no word. Each model is fitted on the training posts by the trainer's own `fit` (its
parameter defaults, with `--topics`, `--vocab` and any `--epochs`/`--patience`), its network
kept, and scored on the test posts:

    perplexity = exp( mean over test documents d of ( -log p(d) / N_d ) )

with -log p(d) bounded by the negative ELBO, reconstruction + KL, averaged over `--samples`
draws of the latent from the encoder's posterior, the variational lower bound both papers
report. The network is in eval mode (no dropout, batch norm on its running statistics)
while z is sampled. Also printed: the same with z at the posterior mean (reconstruction at
the mean + KL: no bound, not comparable with the papers), the mean KL per test document, and
the training posts' perplexity (the same bound), to see over- or under-fitting.

The papers' figures on their 20NG (Hinton's preprocessed release, 11,258 / 7,487 documents,
2,000 words): NVDM 836 (50-dim latent), 852 (200); GSM 787 (50 topics), 829 (200). Both fits
run on one thread.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import REPO, machine
from torch import nn

from trainers import load_trainer
from trainers.neural import bow_batches
from tuner.data.corpus import Corpus, DatasetSpec, load_corpus
from tuner.data.inputs import FitContext, TrialData
from tuner.data.vocab import BagOfWords, Preprocessing, build_vocabulary, make_bow, tokenize

PAPER = {("NVDM", 50): 836, ("NVDM", 200): 852, ("GSM", 50): 787, ("GSM", 200): 829}
# where each trainer's `fit` finds its network class (imported inside `fit`)
NETWORKS = {"NVDM": ("trainers.nets.nvdm", "NVDMNet"), "GSM": ("trainers.nets.gsm", "GSMNet")}
PROTOCOL = REPO / "bench" / "quality" / "nvdm.json"  # its preprocessing section


def split_bags(corpus: Corpus, vocab_size: int, settings: Preprocessing
               ) -> tuple[Corpus, BagOfWords, BagOfWords]:
    """(training corpus, its bag of words, the test posts' bag) with the vocabulary of the
    training posts; test posts with no word in it are dropped."""
    tokens = [tokenize(text, corpus.language, settings) for text in corpus.texts]
    train = [i for i, doc_id in enumerate(corpus.ids) if doc_id.startswith("train/")]
    test = [i for i, doc_id in enumerate(corpus.ids) if doc_id.startswith("test/")]
    if not train or not test:
        raise SystemExit("the corpus needs ids starting train/ and test/ (20news-bydate)")
    vocab = build_vocabulary([tokens[i] for i in train], vocab_size, settings)
    train_bow = make_bow([tokens[i] for i in train], vocab, "train")
    test_bow = make_bow([tokens[i] for i in test], vocab, "test")
    kept = np.flatnonzero(np.diff(test_bow.offsets) > 0)
    test_bow = make_bow([test_bow.doc_tokens(int(d)) for d in kept], vocab, "test")
    labels = [corpus.labels[i] for i in train] if corpus.labels else None
    train_corpus = replace(corpus, ids=[corpus.ids[i] for i in train],
                           texts=[corpus.texts[i] for i in train], labels=labels,
                           timestamps=None, covariates={}, sha256="")
    return train_corpus, train_bow, test_bow


@contextmanager
def kept_network(model: str, kept: list[nn.Module]) -> Iterator[None]:
    """While open, the network class the trainer's `fit` imports appends each instance it makes
    to `kept`: the trainer fits as it always does, and the fitted network can be scored.
    (trainers/neural.py's `fit_vae` builds the network and drops it after reading out θ and β;
    see the report for a hook that would make this wrapper unnecessary.)"""
    module_name, class_name = NETWORKS[model]
    module = __import__(module_name, fromlist=[class_name])
    original = getattr(module, class_name)

    class Kept(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            kept.append(self)

    setattr(module, class_name, Kept)
    try:
        yield
    finally:
        setattr(module, class_name, original)


def negative_elbo(net: nn.Module, bow: BagOfWords, samples: int, seed: int,
                  batch_size: int = 500) -> dict[str, np.ndarray]:
    """Per document: the negative ELBO averaged over `samples` draws of z, the same at z = the
    posterior mean, and the KL term. The network's own `losses` compute both terms; it samples
    z when its top module is in training mode, so only that flag is set: every submodule stays
    in eval mode (no dropout, batch norm on running statistics)."""
    make_batch = bow_batches(bow.matrix(), "cpu")
    torch.manual_seed(seed)
    sampled, at_mean, kl_all = [], [], []
    net.eval()
    with torch.no_grad():
        for start in range(0, bow.n_docs, batch_size):
            batch = make_batch(np.arange(start, min(start + batch_size, bow.n_docs)))
            net.training = False
            recon, kl = net.losses(batch)  # type: ignore[operator]
            at_mean.append((recon + kl).double().numpy())
            kl_all.append(kl.double().numpy())
            net.training = True  # the top module only: reparameterize() samples
            total = torch.zeros_like(recon, dtype=torch.float64)
            for _ in range(samples):
                recon, kl = net.losses(batch)  # type: ignore[operator]
                total += (recon + kl).double()
            net.training = False
            sampled.append((total / samples).numpy())
    return {"sampled": np.concatenate(sampled), "at_mean": np.concatenate(at_mean),
            "kl": np.concatenate(kl_all)}


def perplexity(nll: np.ndarray, bow: BagOfWords) -> float:
    """exp(mean over documents of -log p(d) / N_d); documents with no word are left out."""
    lengths = np.diff(bow.offsets).astype(np.float64)
    keep = lengths > 0
    return math.exp(float(np.mean(nll[keep] / lengths[keep])))


def run(model: str, seed: int, data: TrialData, test_bow: BagOfWords,
        args: argparse.Namespace) -> dict[str, Any]:
    trainer = load_trainer(model)
    values: dict[str, Any] = {"num_topics": args.topics, "vocab_size": len(data.bow.vocab)}
    if args.epochs is not None:
        values["epochs"] = args.epochs
    if args.patience != "default":
        values["patience"] = None if args.patience == "none" else int(args.patience)
    params = trainer.params.with_defaults(values)
    kept: list[nn.Module] = []
    curve: list[tuple[int, float]] = []
    scoring = 0.0

    def checkpoint(step: int, current: Any, final: bool = False) -> bool:
        """Every `--curve` epochs, the test perplexity of the weights as they stand (on
        random numbers of its own: the fit's draws are those of a fit nobody watches)."""
        nonlocal scoring
        if args.curve and (step % args.curve == 0 or final):
            began = time.perf_counter()
            with torch.random.fork_rng():
                nll = negative_elbo(kept[-1], test_bow, args.samples, seed)["sampled"]
            curve.append((step, perplexity(nll, test_bow)))
            scoring += time.perf_counter() - began
        return False

    started = time.perf_counter()
    with kept_network(model, kept):
        output = trainer().fit(data, params, FitContext(seed=seed, checkpoint=checkpoint))
    fit_seconds = time.perf_counter() - started - scoring
    net = kept[-1]
    test = negative_elbo(net, test_bow, args.samples, seed)
    train = negative_elbo(net, data.bow, args.samples, seed)
    return {"model": model, "seed": seed, "topics": args.topics,
            "epochs": params["epochs"], "patience": params["patience"],
            "epochs_run": output.extras["epochs_run"], "best_epoch": output.extras["best_epoch"],
            "test_ppl": perplexity(test["sampled"], test_bow),
            "test_ppl_at_mean": perplexity(test["at_mean"], test_bow),
            "test_kl": float(test["kl"].mean()),
            "train_ppl": perplexity(train["sampled"], data.bow),
            "paper": PAPER.get((model, args.topics)),
            "fit_seconds": round(fit_seconds, 1), "curve": curve}


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="20 Newsgroups corpus.jsonl (train/, test/ ids)")
    parser.add_argument("--models", nargs="+", default=["NVDM", "GSM"], choices=list(NETWORKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42])
    parser.add_argument("--topics", type=int, default=50, help="latent size / topics (50)")
    parser.add_argument("--vocab", type=int, default=2000, help="vocabulary size (2000)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the trainer's")
    parser.add_argument("--patience", default="default",
                        help="early-stopping patience, 'none' to train every epoch "
                             "(default: the trainer's)")
    parser.add_argument("--samples", type=int, default=20, help="draws of z per document (20)")
    parser.add_argument("--curve", type=int, default=0,
                        help="also score the test posts every N epochs of the fit (0: never)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--figure", type=Path, default=None,
                        help="draw the --curve rows here (PNG; needs matplotlib)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    torch.set_num_threads(1)
    protocol = json.loads(PROTOCOL.read_text(encoding="utf-8"))
    settings = Preprocessing(**protocol["preprocessing"])
    corpus = load_corpus(DatasetSpec(args.corpus.resolve(), language="en"))
    train_corpus, train_bow, test_bow = split_bags(corpus, args.vocab, settings)
    print(f"# {machine()}; train {train_bow.n_docs} posts ({len(train_bow.flat)} tokens), "
          f"test {test_bow.n_docs} posts ({len(test_bow.flat)} tokens), "
          f"V={len(train_bow.vocab)}", flush=True)
    data = TrialData(train_corpus, train_bow)
    rows = []
    for model in args.models:
        for seed in args.seeds:
            rows.append(run(model, seed, data, test_bow, args))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "curve"}), flush=True)
    print(f"{'model':5} {'seed':>4} {'K':>4} {'epochs':>9} {'patience':>8} {'test ppl':>9} "
          f"{'at mean':>8} {'KL':>6} {'train ppl':>9} {'paper':>5} {'fit s':>7}")
    for r in rows:
        print(f"{r['model']:5} {r['seed']:>4} {r['topics']:>4} "
              f"{r['best_epoch'] + 1:>4}/{r['epochs_run']:<4} {str(r['patience']):>8} "
              f"{r['test_ppl']:>9.0f} {r['test_ppl_at_mean']:>8.0f} {r['test_kl']:>6.1f} "
              f"{r['train_ppl']:>9.0f} {r['paper'] or '-':>5} {r['fit_seconds']:>7.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.figure is not None:
        draw(rows, args.figure, args.samples)
    return 0


def draw(rows: Sequence[dict[str, Any]], path: Path, samples: int) -> None:
    """Test perplexity against epochs, one line per fit, the papers' figures dashed."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--figure needs matplotlib (not a tuner dependency)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    colours = {"NVDM": "tab:blue", "GSM": "tab:orange"}
    for row in rows:
        if row["curve"]:
            epochs, values = zip(*row["curve"], strict=True)
            axes.plot(epochs, values, color=colours[row["model"]], alpha=0.8,
                      label=f"{row['model']} seed {row['seed']}, patience {row['patience']}")
            axes.plot([row["best_epoch"] + 1], [row["test_ppl"]], "o",
                      color=colours[row["model"]])
    for (model, topics), value in PAPER.items():
        if any(r["model"] == model and r["topics"] == topics for r in rows):
            axes.axhline(value, color=colours[model], linestyle="--", linewidth=1,
                         label=f"{model} paper ({value})")
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"test perplexity (ELBO, {samples} samples of z)")
    axes.set_title("20 Newsgroups (bydate, 600 posts per group), V=2000, K=50")
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
