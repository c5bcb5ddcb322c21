"""BTM from an independent implementation, `bitermplus` (PyPI, 1.0.0), beside tuner's, on the
same bag of words and scored by tuner's metric code.

Usage:
    pip install --no-deps bitermplus==1.0.0   # not a tuner dependency; only this bench needs it
                                              # (it imports pandas, scikit-learn and tqdm)
    python bench/btm_reference.py CORPUS [--language en|zh] [--sample 3000] [--seeds 42 43]
                                         [--iterations 500] [--topics K] [--text-field text]
                                         [--first-line] [--window 15] [--vocab 5000]

Does tuner's own BTM sampler (trainers/btm.py, numba) fit the model of Yan et al. (2013) as a
second implementation does? bitermplus is Maksim Terpilovskii's Cython port of the authors' C++
code, written apart from tuner's. A random sample of `--sample` labelled documents (seed 7, as
bench/sampling_budget.py draws; every document when 0) is tokenised once by tuner's
preprocessing (tuner.data.vocab, the grid defaults, `vocab_size` 5000); both models get the
same documents as in-vocabulary token ids in text order, the same biterms (every pair less than
`--window` positions apart, 15 in both by default), K, alpha 1, beta 0.01 (both defaults) and
number of Gibbs sweeps. tuner's is fitted through `BTMTrainer.fit` (its kernels compiled before
the clock starts); bitermplus through `get_biterms`, `BTM.fit` and `BTM.transform(infer_type=
"sum_b")`, p(z|d) = sum_b p(z|b) p(b|d), as tuner's. Both are ranked into topic words by tuner's
`top_words` and assigned by `assignments_from` (a document with no in-vocabulary word is -1 in
both), and scored by tuner's NPMI (the grid's default window and "preprocessed" reference),
topic diversity and ARI against the corpus's labels. Also printed, per fit: the mean log
p(b) = log sum_z p(z) p(w1|z) p(w2|z) over the corpus's biterms under the fitted parameters, a
measure of the fit itself that depends on neither implementation's scoring, and, for
bitermplus, the largest difference between its p(z|d) and tuner's `_doc_topics` applied to
bitermplus's own p(z) and p(w|z) (0 when the two inferences are one definition).
Fit seconds count biterm extraction, sampling and p(z|d), on one thread. The last line gives
each metric's difference of means, tuner minus bitermplus, with its (unpaired) standard error.
`--iterations` above 500, tuner's grid range for `btm.n_iter`, is passed to the trainer as is.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from _common import machine, optional_package, scratch

from trainers import load_trainer
from trainers.base import assignments_from, top_words
from trainers.btm import BITERM_WINDOW, _doc_topics, make_biterms
from tuner.data.cooccurrence import CooccurrenceCache
from tuner.data.corpus import Corpus, load_corpus
from tuner.data.ground_truth import ground_truth_from_labels
from tuner.data.inputs import FitContext, TrialData
from tuner.data.vocab import BagOfWords, BowCache, count_tokens
from tuner.grid import Grid, load_grid
from tuner.metrics.clustering import adjusted_rand
from tuner.metrics.coherence import npmi_coherence
from tuner.metrics.diversity import topic_diversity
from tuner.metrics.reference import MetricReference
from tuner.output import TopicModelOutput

ALPHA, BETA = 1.0, 0.01  # tuner's BTM defaults, and bitermplus's
SAMPLE_SEED = 7  # bench/sampling_budget.py's draw, so its BTM figures compare


def sample(corpus: Path, size: int, text_field: str, first_line: bool, folder: Path
           ) -> tuple[Path, int]:
    """The sampled corpus written to `folder` (id, text, label) and its number of labels."""
    rows = [json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if r.get("label") not in (None, "")]
    if any(text_field not in r for r in rows):
        raise SystemExit(f"{corpus}: some records have no field {text_field!r}")
    if 0 < size < len(rows):
        rows = random.Random(SAMPLE_SEED).sample(rows, size)
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for r in rows:
            text = str(r[text_field]).strip()
            if first_line:
                text = text.split("\n")[0]
            out.write(json.dumps({"id": r["id"], "text": text, "label": r["label"]},
                                 ensure_ascii=False) + "\n")
    return path, len({r["label"] for r in rows})


def write_grid(corpus: Path, language: str, k: int, iterations: int, seeds: list[int],
               folder: Path) -> Path:
    """A one-model BTM grid: tuner's preprocessing and metric settings at their defaults."""
    path = folder / "grid.json"
    path.write_text(json.dumps({
        "experiment": "btm-reference", "dataset": {"path": str(corpus), "language": language},
        "models": ["BTM"], "params": {"num_topics": k, "btm.n_iter": min(iterations, 500)},
        "seeds": seeds}), encoding="utf-8")
    return path


def bag_and_reference(grid: Grid, corpus: Corpus, vocab_size: int, folder: Path
                      ) -> tuple[BagOfWords, MetricReference]:
    """The bag of words and NPMI counts as a sweep's start makes them (engine/sweep.py)."""
    cache = BowCache(folder)
    counts = count_tokens(corpus, grid.preprocessing)
    bow = cache.get_or_compute(corpus, vocab_size, grid.preprocessing, lambda: counts)
    cooccurrence = CooccurrenceCache(cache).get_or_compute(
        bow, grid.metrics.npmi_window, grid.metrics.npmi_reference,
        lambda: counts.kept_stream(bow.vocab, bow.key, grid.preprocessing))
    if corpus.labels is None:
        raise SystemExit("no label field; ARI needs the documents' classes")
    truth = ground_truth_from_labels(corpus.labels, "label").labels
    return bow, MetricReference(cooccurrence, {w: i for i, w in enumerate(bow.vocab)}, truth,
                                grid.metrics)


def biterm_log_likelihood(bow: BagOfWords, window: int, topic_share: np.ndarray,
                          topic_word: np.ndarray) -> float:
    """Mean log p(b) = log sum_z p(z) p(w1|z) p(w2|z) over the corpus's biterms."""
    first, second, _ = make_biterms(bow, window)
    p = (topic_word[:, first] * topic_word[:, second] * topic_share[:, None]).sum(axis=0)
    return float(np.log(p).mean())


def fit_tuner(corpus: Corpus, bow: BagOfWords, k: int, iterations: int, seed: int,
              top_n: int) -> tuple[TopicModelOutput, float, np.ndarray]:
    """tuner's BTM through its trainer, as a trial fits it, and its p(z) (which the output does
    not keep: read from the sampler's biterm counts as `_output` reads them)."""
    import trainers.btm

    trainer = load_trainer("BTM")
    params = trainer.params.with_defaults({"num_topics": k, "vocab_size": len(bow.vocab),
                                           "n_iter": iterations, "alpha": ALPHA, "beta": BETA})
    shares: list[np.ndarray] = []
    original = trainers.btm._output

    def output_and_share(sampler, *rest):  # type: ignore[no-untyped-def]
        counts = sampler.topics()[1]
        shares.append((counts + sampler.alpha) / (counts.sum() + len(counts) * sampler.alpha))
        return original(sampler, *rest)

    trainers.btm._output = output_and_share
    try:
        started = time.perf_counter()
        output = trainer().fit(TrialData(corpus, bow), params, FitContext(seed=seed,
                                                                          top_n=top_n))
        seconds = time.perf_counter() - started
    finally:
        trainers.btm._output = original
    return output, seconds, shares[-1]


def fit_bitermplus(bow: BagOfWords, k: int, iterations: int, window: int, seed: int,
                   top_n: int) -> tuple[TopicModelOutput, float, object]:
    bitermplus = optional_package("bitermplus", "bitermplus==1.0.0")

    started = time.perf_counter()
    docs = [np.array(bow.doc_ids(d), dtype=np.int32) for d in range(bow.n_docs)]  # writable
    biterms = bitermplus.get_biterms(docs, win=window, as_array=True)
    model = bitermplus.BTM(bow.matrix(), np.array(bow.vocab, dtype=object), T=k, alpha=ALPHA,
                           beta=BETA, seed=seed, win=window)
    model.fit(biterms, iterations=iterations, verbose=False)
    theta = np.asarray(model.transform(docs, infer_type="sum_b", verbose=False), dtype=float)
    seconds = time.perf_counter() - started
    topic_word = np.asarray(model.matrix_topics_words_, dtype=float)
    output = TopicModelOutput(top_words(topic_word, bow.vocab, top_n), theta,
                              assignments_from(theta, np.diff(bow.offsets) == 0), topic_word,
                              {"n_biterms": sum(len(b) for b in biterms)})
    return output, seconds, model


def inference_gap(bow: BagOfWords, window: int, model: object, theta: np.ndarray) -> float:
    """Largest |p(z|d)| difference, over documents with a word, between bitermplus's transform
    and tuner's `_doc_topics` given bitermplus's fitted p(z) and p(w|z)."""
    first, second, doc_of = make_biterms(bow, window)
    ours = _doc_topics(first, second, doc_of, np.asarray(bow.flat), np.asarray(bow.offsets),
                       np.asarray(model.theta_, dtype=float),  # type: ignore[attr-defined]
                       np.asarray(model.matrix_topics_words_, dtype=float))  # type: ignore
    nonempty = np.diff(bow.offsets) > 0
    return float(np.abs(ours[nonempty] - theta[nonempty]).max())


def scores(output: TopicModelOutput, reference: MetricReference) -> dict[str, float]:
    return {"npmi": npmi_coherence(output, reference), "ari": adjusted_rand(output, reference),
            "diversity": topic_diversity(output, reference)}


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path, help="a labelled corpus.jsonl")
    parser.add_argument("--language", default="en", choices=["en", "zh"])
    parser.add_argument("--sample", type=int, default=3000, help="documents (0: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43])
    parser.add_argument("--iterations", type=int, default=500, help="Gibbs sweeps, both models")
    parser.add_argument("--topics", type=int, default=None,
                        help="K (default: the sample's number of labels)")
    parser.add_argument("--text-field", default="text", help="the field holding the text")
    parser.add_argument("--first-line", action="store_true",
                        help="each text's first line alone (HuffPost's headline)")
    parser.add_argument("--window", type=int, default=BITERM_WINDOW,
                        help=f"biterm window, both models (tuner's is fixed at {BITERM_WINDOW}; "
                             "another value is fitted in tuner's trainer by patching it)")
    parser.add_argument("--vocab", type=int, default=5000, help="vocab_size (BTM's default)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    bitermplus = optional_package("bitermplus", "bitermplus==1.0.0")
    import trainers.btm

    trainers.btm.BITERM_WINDOW = args.window  # read by BTMTrainer.fit at call time
    trainers.btm.BTMTrainer.compile_kernels()  # numba's compilation kept off the clock
    folder = scratch()
    path, labels = sample(args.corpus, args.sample, args.text_field, args.first_line, folder)
    k = args.topics or labels
    grid = load_grid(write_grid(path, args.language, k, args.iterations, args.seeds, folder))
    corpus = load_corpus(grid.dataset)
    bow, reference = bag_and_reference(grid, corpus, args.vocab, folder)
    top_n = grid.metrics.words_needed
    lengths = np.diff(bow.offsets)
    print(f"{args.corpus} ({machine()}): {bow.n_docs} documents"
          f"{', first lines' if args.first_line else ''} ({args.text_field}), K={k}, "
          f"V={len(bow.vocab)}, {args.iterations} iterations, window {args.window}, "
          f"alpha {ALPHA}, beta {BETA}, bitermplus {bitermplus.__version__}")
    print(f"in-vocabulary tokens per document: median {np.median(lengths):.0f}, max "
          f"{lengths.max()}, {np.mean(lengths > args.window):.1%} longer than the window, "
          f"{np.mean(lengths == 0):.1%} none, {np.mean(lengths == 1):.1%} one", flush=True)
    rows: dict[str, list[dict[str, float]]] = {"tuner": [], "bitermplus": []}
    for seed in args.seeds:
        output, seconds, share = fit_tuner(corpus, bow, k, args.iterations, seed, top_n)
        rows["tuner"].append({"seed": seed, **scores(output, reference), "seconds": seconds,
                              "log_p_b": biterm_log_likelihood(bow, args.window, share,
                                                               np.asarray(output.topic_word)),
                              "biterms": output.extras["n_biterms"]})
        output, seconds, model = fit_bitermplus(bow, k, args.iterations, args.window, seed,
                                                top_n)
        rows["bitermplus"].append({
            "seed": seed, **scores(output, reference), "seconds": seconds,
            "log_p_b": biterm_log_likelihood(bow, args.window,
                                             np.asarray(model.theta_, dtype=float),
                                             np.asarray(output.topic_word)),
            "biterms": output.extras["n_biterms"],
            "inference_gap": inference_gap(bow, args.window, model,
                                           np.asarray(output.doc_topic))})
        print(f"seed {seed}")
        print(f"  {'model':<11} {'NPMI':>7} {'diversity':>9} {'ARI':>7} {'log p(b)':>9} "
              f"{'biterms':>8} {'fit s':>6}")
        for name in rows:
            row = rows[name][-1]
            print(f"  {name:<11} {row['npmi']:>7.3f} {row['diversity']:>9.3f} "
                  f"{row['ari']:>7.3f} {row['log_p_b']:>9.3f} {row['biterms']:>8.0f} "
                  f"{row['seconds']:>6.1f}")
        print(f"  bitermplus p(z|d) against tuner's inference on its parameters: max |diff| "
              f"{rows['bitermplus'][-1]['inference_gap']:.1e}", flush=True)
    print(f"mean over seeds {args.seeds} (± sample standard deviation)")
    for name, done in rows.items():
        def mean(key: str, of: list[dict[str, float]] = done) -> str:
            values = [row[key] for row in of]
            spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            return f"{statistics.fmean(values):.3f}{spread}"
        print(f"{name}: NPMI {mean('npmi')}, diversity {mean('diversity')}, ARI {mean('ari')}, "
              f"log p(b) {mean('log_p_b')}, fit s {mean('seconds')}")
    if len(args.seeds) > 1:  # unpaired: a seed draws different numbers in the two samplers
        def gap(key: str) -> str:
            ours, theirs = ([row[key] for row in rows[name]] for name in rows)
            error = (statistics.variance(ours) / len(ours)
                     + statistics.variance(theirs) / len(theirs)) ** 0.5
            return f"{statistics.fmean(ours) - statistics.fmean(theirs):+.3f} (SE {error:.3f})"
        print(f"tuner - bitermplus: NPMI {gap('npmi')}, diversity {gap('diversity')}, ARI "
              f"{gap('ari')}, log p(b) {gap('log_p_b')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
