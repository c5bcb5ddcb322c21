"""How well a corpus's document embeddings separate its labels, with each document embedded by
its start (`embedding.long_documents` "start") and by the mean of its windows ("chunks").

MiniLM (the offline copy), mean pooling, `max_length` tokens per window; k-means with k = the
number of labels, three seeds, ARI against the labels, and the seconds each encoding took.
It measures the embeddings alone: BERTopic's, CTM's and THETA's fits read them.

Usage: python bench/long_documents.py [CORPUS.jsonl] [LABEL_FIELD] [MAX_LENGTH]
(default: bundled 20ng-mini, label, 256)
"""

from __future__ import annotations

import json
import time

import numpy as np
from _common import CORPUS, command_line, machine
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from tuner.data.embeddings import MINILM_IDS, encode_texts, resolve_model_path

KMEANS_SEEDS = (0, 1, 2)


def separation(vectors: np.ndarray, labels: list[str]) -> float:
    """Mean ARI of k-means (k = the labels' number) over KMEANS_SEEDS."""
    k = len(set(labels))
    return float(np.mean([adjusted_rand_score(labels, KMeans(k, n_init=10, random_state=seed)
                                              .fit_predict(vectors))
                          for seed in KMEANS_SEEDS]))


def main() -> None:
    args = command_line(__doc__, ("corpus", CORPUS, "a JSONL corpus"),
                        ("label_field", "label", "the field holding each document's label"),
                        ("max_length", 256, "tokens per window"))
    rows = [json.loads(line) for line in args.corpus.open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if r.get(args.label_field) not in (None, "")]
    texts, labels = [r["text"] for r in rows], [str(r[args.label_field]) for r in rows]
    model = resolve_model_path(MINILM_IDS[0])
    print(f"{args.corpus}: {len(texts)} documents, {len(set(labels))} labels "
          f"('{args.label_field}'), MiniLM, max_length {args.max_length}; {machine()}")
    for mode in ("start", "chunks"):
        started = time.perf_counter()
        vectors = encode_texts(model, texts, "mean", args.max_length, progress=False,
                               long_documents=mode)
        seconds = time.perf_counter() - started
        print(f"  long_documents {mode:6s}: k-means ARI {separation(vectors, labels):.3f} "
              f"(encoding {seconds:.0f} s)")


if __name__ == "__main__":
    main()
