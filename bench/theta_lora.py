"""THETA's LoRA fine-tuning: time, and how much better the embeddings separate the labels.

Runs on CUDA when present (bfloat16), else on the CPU. `--model` takes any local embedding model
folder or cached id (default: the offline MiniLM); `--docs` and `--max-length` bound the work.
Prints the label silhouette (cosine) of the base and the tuned embeddings and, for each, the ARI
of a THETA fit on them.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from _common import machine, scratch, write_grid
from sklearn.metrics import adjusted_rand_score, silhouette_score

from trainers import load_trainer
from trainers.lora import fine_tune_and_encode, lora_settings_for
from tuner.data.embeddings import encode_texts
from tuner.data.inputs import FitContext
from tuner.devices import pick_device
from tuner.engine.sweep import check_inputs, precompute
from tuner.engine.worker import load_trial_data
from tuner.grid import load_grid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--pooling", default="mean")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    folder = scratch()
    embedding = {"model": args.model, "pooling": args.pooling, "max_length": args.max_length}
    grid = load_grid(write_grid(folder, models=["theta"], embedding=embedding,
                                params={"vocab_size": 2000}))
    prepared = precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    data = load_trial_data(prepared.trials[0].data)
    device = pick_device()
    n = min(args.docs, data.bow.n_docs)
    texts, labels = data.corpus.texts[:n], np.asarray(data.labels[:n])
    source = data.encoder
    assert source is not None
    started = time.perf_counter()
    base = encode_texts(Path(source.path), texts, source.pooling, source.max_length,
                        device=device, progress=False)
    encode_s = time.perf_counter() - started
    print(f"model {args.model}, {n} documents, max_length {args.max_length}, device {device}; "
          f"encoding once: {encode_s:.1f} s")
    for mode, objective in (("unsupervised", "simcse"), ("supervised", "supcon")):
        started = time.perf_counter()
        tuned = fine_tune_and_encode(texts, labels if mode == "supervised" else None, source,
                                     lora_settings_for(objective), 1, device)
        seconds = time.perf_counter() - started
        print(f"{mode} LoRA: {seconds:.1f} s (fine-tuning + re-encoding); label silhouette "
              f"{_silhouette(base, labels):.4f} -> {_silhouette(tuned, labels):.4f}; "
              f"THETA ARI {_theta_ari(data, base, n):.3f} -> {_theta_ari(data, tuned, n):.3f}")
    print(f"machine: {machine()}")


def _silhouette(matrix: np.ndarray, labels: np.ndarray) -> float:
    return float(silhouette_score(matrix, labels, metric="cosine"))


def _theta_ari(data, embeddings: np.ndarray, n: int) -> float:  # type: ignore[no-untyped-def]
    if n < data.bow.n_docs:
        return float("nan")  # THETA needs every document's embedding
    trainer = load_trainer("THETA")
    params = trainer.params.with_defaults({"num_topics": 20, "vocab_size": 2000, "epochs": 50,
                                           "kl_warmup": 10, "language": "en"})
    tuned = dataclasses.replace(data, embeddings=embeddings)
    output = trainer().fit(tuned, params, FitContext(seed=1, cache_dir=str(scratch())))
    return float(adjusted_rand_score(data.labels, output.assignments))


if __name__ == "__main__":
    main()
