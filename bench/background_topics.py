"""Background topics (tuner.metrics.spread): each fit's widest topics, by the share of documents
in which a topic is above its even share (θ_dk > 1/K), against the fit's median topic, with
their top words, so the rule's thresholds can be read against topics one can judge by eye.

A random sample of `--sample` documents (seed 7; every document when 0) of a JSONL corpus
(fields id and text), one model at K `--topics`, seeds 42 and 43, fitted by the trainer itself
(`--model lda` at `max_iter` 500, the starter grid's budget; any model with θ). It prints, per
seed, the median spread and the three widest topics: spread, ratio to the median, whether the
rule names it a background topic, and its top 10 words.

Usage: python bench/background_topics.py CORPUS.jsonl --topics K [--language en|zh]
       [--sample 3000] [--model lda]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from _common import machine, scratch

from trainers import load_trainer
from tuner.data.inputs import FitContext
from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import load_trial_data
from tuner.grid import load_grid
from tuner.metrics.spread import background_topic_ids, topic_spread

SEEDS = [42, 43]
SHOWN = 3


def sample(corpus: Path, size: int, folder: Path) -> Path:
    rows = [json.loads(line) for line in corpus.open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if isinstance(r.get("text"), str)]
    if 0 < size < len(rows):
        rows = random.Random(7).sample(rows, size)
    path = folder / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n, r in enumerate(rows):
            out.write(json.dumps({"id": str(r.get("id", n)), "text": r["text"]},
                                 ensure_ascii=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--topics", type=int, required=True)
    parser.add_argument("--language", default="en", choices=["en", "zh"])
    parser.add_argument("--sample", type=int, default=3000)
    parser.add_argument("--model", default="lda")
    args = parser.parse_args()
    folder = scratch()
    path = folder / "grid.json"
    path.write_text(json.dumps({
        "experiment": "background-topics",
        "dataset": {"path": str(sample(args.corpus, args.sample, folder)),
                    "label_field": None, "language": args.language},
        "models": [args.model], "params": {"num_topics": args.topics}}), encoding="utf-8")
    grid = load_grid(path)
    prepared = precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    spec = prepared.trials[0]
    data = load_trial_data(spec.data)
    params = {**spec.params, **({"max_iter": 500} if spec.model == "LDA" else {})}
    print(f"{args.corpus.name}: {spec.model} K={args.topics}, {data.bow.n_docs} documents")
    for seed in SEEDS:
        context = FitContext(seed=seed, device="cpu", top_n=10, threads=1,
                             cache_dir=str(folder / "cache"))
        output = load_trainer(spec.model)().fit(data, params, context)
        if output.doc_topic is None:
            raise SystemExit(f"{spec.model} gives no θ: no topic spread to measure")
        spread = topic_spread(output.doc_topic)
        median = float(np.median(spread))
        named = set(background_topic_ids(output))
        print(f"  seed {seed}: median spread {median:.3f}")
        for k in np.argsort(-spread, kind="stable")[:SHOWN]:
            mark = "background" if int(k) in named else "-"
            print(f"    {spread[k]:.2f} ({spread[k] / median:.2f}x) {mark:10} "
                  f"{' '.join(output.topic_words[k][:10])}")
    print(machine())


if __name__ == "__main__":
    main()
