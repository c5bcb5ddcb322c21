"""tuner against the seed's own design: a 40-line process-pool BERTopic sweep.

The anchor is the script a user writes without tuner (the seed blog's design): a spawn
ProcessPoolExecutor with 2 workers, each task given the texts and the embedding matrix, fitting
`BERTopic(umap_model=UMAP(n_neighbors, n_components, min_dist=0, metric="cosine"),
hdbscan_model=HDBSCAN(min_cluster_size, cluster_selection_method="eom"))` on the precomputed
embeddings. tuner runs the same configurations with `tuner run` (a whole command, a fresh
store and UMAP cache, the embeddings warm for both). tuner is measured twice: with an empty
numba cache (its first sweep on a machine) and with the cache its first sweep left (a later
sweep: its UMAP reductions are computed afresh). For each it also prints each worker's first UMAP
step and first trial against the later ones: with the numba cache warm they should take no
longer (no compiling).

Usage: python bench/artois.py [--configs 8|16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from _common import CORPUS, REPO, machine, scratch, write_grid

GRID = {"n_neighbors": [10, 15], "n_components": [5, 10], "min_cluster_size": [10, 20]}
WIDER = {**GRID, "min_cluster_size": [10, 20, 30, 50]}
SEED = 42


def fit_one(texts: list[str], embeddings: np.ndarray, labels: list[str],
            config: dict[str, int]) -> tuple[dict[str, int], float]:
    """The anchor's task: one BERTopic fit on precomputed embeddings, scored by ARI."""
    import os

    os.environ["OMP_NUM_THREADS"] = "1"
    from bertopic import BERTopic
    from hdbscan import HDBSCAN
    from sklearn.metrics import adjusted_rand_score
    from umap import UMAP

    model = BERTopic(umap_model=UMAP(n_neighbors=config["n_neighbors"],
                                     n_components=config["n_components"], min_dist=0.0,
                                     metric="cosine", random_state=SEED, n_jobs=1),
                     hdbscan_model=HDBSCAN(min_cluster_size=config["min_cluster_size"],
                                           cluster_selection_method="eom"))
    topics, _ = model.fit_transform(texts, embeddings=embeddings)
    return config, float(adjusted_rand_score(labels, topics))


def anchor(texts: list[str], embeddings: np.ndarray, labels: list[str],
           configs: list[dict[str, int]], workers: int) -> tuple[float, float]:
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(fit_one, texts, embeddings, labels, c) for c in configs]
        scores = [f.result()[1] for f in futures]
    return time.perf_counter() - started, max(scores)


def configurations(space: dict[str, list[int]]) -> list[dict[str, int]]:
    import itertools

    return [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]


def tuner_grid(folder: Path, space: dict[str, list[int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write_grid(folder, experiment="artois", models=["bertopic"], seeds=[SEED],
                      dataset={"path": str(CORPUS), "language": "en", "label_field": "label"},
                      params={"vocab_size": 5000, **{f"bertopic.{k}": v
                                                     for k, v in space.items()}})


def warm_embeddings(folder: Path, space: dict[str, list[int]]) -> tuple[Path, np.ndarray]:
    """Compute the MiniLM embeddings once into a cache folder; return it and the matrix."""
    from tuner.engine.sweep import check_inputs, precompute
    from tuner.grid import load_grid

    grid = load_grid(tuner_grid(folder, space))
    cache = folder / "warm-cache"
    prepared = precompute(grid, check_inputs(grid), cache, progress=False)
    path = prepared.trials[0].data.embedding_path
    assert path is not None
    return cache, np.load(path)


def run_tuner(folder: Path, warm: Path, space: dict[str, list[int]], workers: int,
              numba: Path | None) -> tuple[float, str]:
    """`tuner run` with the embeddings and bags of words warm, no UMAP cache, a fresh store."""
    cache = folder / "cache"
    shutil.copytree(warm, cache, ignore=shutil.ignore_patterns("umap", "numba", ".locks"))
    if numba is not None:
        shutil.copytree(numba, cache / "numba")
    store = f"sqlite:///{folder / 'mlflow.db'}"
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "tuner"), "run",
                           str(tuner_grid(folder, space)), "--max-workers", str(workers),
                           "--cache-dir", str(cache), "--tracking-uri", store, "--quiet"],
                          capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"tuner run failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, store


def best_ari(store: str) -> float:
    return max(r.data.metrics["ari"] for r in _runs(store, "trial"))


def _runs(store: str, role: str) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("artois")
    return client.search_runs([experiment.experiment_id], f"tags.`tuner.role` = '{role}'")


def first_vs_later(store: str) -> str:
    """Each worker's first UMAP step and first trial against the later ones: with a warm numba
    cache nothing is compiled, so the first should take no longer (issue #11: within 20%)."""
    from mlflow.tracking import MlflowClient

    [sweep] = _runs(store, "sweep")
    path = MlflowClient(store).download_artifacts(sweep.info.run_id, "shared_steps.json")
    steps = [(s["worker"], s["seconds"]) for s in json.loads(Path(path).read_text())["steps"]]
    trials = sorted(_runs(store, "trial"), key=lambda r: r.info.start_time)
    fits = [(r.data.tags["tuner.worker"], r.data.metrics["fit_seconds"]) for r in trials]
    return f"UMAP steps {_split(steps)}; trials' fit_seconds {_split(fits)}"


def _split(timed: list[tuple[str, float]]) -> str:
    """"first a s, later b s (ratio)" where "first" is each worker's first item."""
    seen: set[str] = set()
    first, later = [], []
    for worker, seconds in timed:
        (later if worker in seen else first).append(seconds)
        seen.add(worker)
    if not later:
        return f"first {statistics.mean(first):.1f} s, no later ones"
    ratio = statistics.mean(first) / statistics.mean(later)
    return (f"first on each worker {statistics.mean(first):.1f} s, later "
            f"{statistics.mean(later):.1f} s (x{ratio:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", type=int, choices=(8, 16), default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    space = GRID if args.configs == 8 else WIDER
    folder = scratch()
    warm, embeddings = warm_embeddings(folder / "warm", space)
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    texts, labels = [r["text"] for r in records], [r["label"] for r in records]
    configs = configurations(space)
    anchor_wall, anchor_ari = anchor(texts, embeddings, labels, configs, args.workers)
    cold_wall, cold_store = run_tuner(folder / "cold", warm, space, args.workers, None)
    warm_wall, warm_store = run_tuner(folder / "warm-jit", warm, space, args.workers,
                                      folder / "cold" / "cache" / "numba")
    print(f"machine: {machine()}; {len(configs)} configurations, {args.workers} workers")
    print(f"anchor (process pool script): {anchor_wall:.1f} s, best ARI {anchor_ari:.3f}")
    for label, wall, store in (("tuner, first sweep (empty numba cache)", cold_wall, cold_store),
                               ("tuner, later sweep (numba cache warm)", warm_wall, warm_store)):
        print(f"{label}: {wall:.1f} s, best ARI {best_ari(store):.3f}, "
              f"ratio {wall / anchor_wall:.2f}; {first_vs_later(store)}")


if __name__ == "__main__":
    main()
