"""The CUDA paths, checked on a machine with a GPU (the test suite runs on CPUs only).

Runs the real sweep machinery in one process, with no tracking store: precompute embeds
20ng-mini with the given sentence model on the GPU (half precision), the worker's `run_trial`
fits ProdLDA and CTM on cuda:0, and THETA's LoRA fine-tuning (supervised, bfloat16) re-encodes the
corpus on cuda:0; the label silhouette before and after says whether it learnt. It compares
GPU and CPU embeddings of the same texts, and prints one JSON object.

Usage: python scripts/gpu_check.py MODEL_FOLDER [OUT_JSON]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tuner.data.embeddings import encode_texts  # noqa: E402
from tuner.devices import cuda_device_count, pick_device  # noqa: E402
from tuner.engine.sweep import check_inputs, precompute  # noqa: E402
from tuner.engine.worker import run_trial  # noqa: E402
from tuner.grid import load_grid  # noqa: E402

CORPUS = REPO / "datasets" / "20ng-mini" / "corpus.jsonl"


def grid_file(folder: Path, model: Path) -> Path:
    grid = {"experiment": "gpu-check",
            "dataset": {"path": str(CORPUS), "label_field": "label", "language": "en"},
            "models": ["prodlda", "ctm"],
            "params": {"num_topics": 20, "vocab_size": 2000, "prodlda.epochs": 100,
                       "ctm.epochs": 100},
            "embedding": {"model": str(model), "pooling": "mean", "max_length": 256},
            "seeds": [42]}
    path = folder / "grid.json"
    path.write_text(json.dumps(grid), encoding="utf-8")
    return path


def embedding_agreement(model: Path) -> float:
    """Least cosine similarity between GPU (float16) and CPU (float32) embeddings."""
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines()[:64]]
    gpu = encode_texts(model, texts, "mean", 256, device="cuda:0", progress=False)
    cpu = encode_texts(model, texts, "mean", 256, device="cpu", progress=False)
    return float(np.min(np.sum(gpu * cpu, axis=1)))


def lora_check(prepared: Any, model: Path, folder: Path) -> dict[str, object]:
    """THETA's LoRA path on cuda:0: fine-tune (SupCon on the labels), re-encode, compare."""
    from sklearn.metrics import silhouette_score

    from trainers.lora import _training_dtype, lora_embeddings
    from tuner.data.embeddings import EncoderSource

    corpus, truth = prepared.inputs.corpus, prepared.inputs.truth
    key = prepared.embedding_keys[0]
    source = EncoderSource(str(model), str(model), "mean", 256, 64, key.digest)
    embedded = next(t for t in prepared.trials if t.data.embedding_path is not None)
    base = np.load(embedded.data.embedding_path)
    started = time.perf_counter()
    tuned, hit = lora_embeddings(corpus.texts, truth.labels, source, "supervised", 42,
                                 corpus.sha256, folder / "cache", "cuda:0")
    return {"dtype": str(_training_dtype("cuda:0")), "seconds": round(time.perf_counter()
                                                                       - started, 1),
            "cache_hit": hit, "shape": list(tuned.shape),
            "silhouette_before": round(float(silhouette_score(base, truth.labels,
                                                              metric="cosine")), 4),
            "silhouette_after": round(float(silhouette_score(tuned, truth.labels,
                                                             metric="cosine")), 4)}


def main() -> None:
    model = Path(sys.argv[1]).resolve()
    report: dict[str, object] = {"gpus": cuda_device_count(), "device": pick_device(0)}
    report["min_cosine_gpu_vs_cpu"] = embedding_agreement(model)
    folder = Path(tempfile.mkdtemp(prefix="tuner-gpu-"))
    grid = load_grid(grid_file(folder, model))
    started = time.perf_counter()
    prepared = precompute(grid, check_inputs(grid), folder / "cache", progress=False)
    report["precompute_seconds"] = round(time.perf_counter() - started, 1)
    for spec in prepared.trials:
        started = time.perf_counter()
        record = run_trial(spec)
        report[spec.model] = {
            "status": record.status.value, "seconds": round(time.perf_counter() - started, 1),
            "metrics": {k: round(v, 4) for k, v in record.metrics.items()},
            "extras": {k: str(v)[:80] for k, v in record.extras.items()},
            "error": record.error.message[:500] if record.error else None}
    report["lora"] = lora_check(prepared, model, folder)
    text = json.dumps(report, indent=1)
    print(text)
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
