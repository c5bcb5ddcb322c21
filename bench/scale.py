"""tuner at scale: a paragraph corpus of 25k, 50k and 100k documents, LDA and ProdLDA.

Builds the paragraph corpus of issue #11 (20 Newsgroups, BBC and HuffPost texts split on blank
lines; paragraphs of at least 5 words, ordered by the sha1 of their id so that every size mixes
the three sources), or reads `--corpus PATH` (JSONL with id, text, label), and for each size runs
`tuner run` (the real CLI, a subprocess, a fresh MLflow store and cache) on LDA and ProdLDA at
K=20/50, 10 epochs, vocabulary 10,000, 2 workers. It samples /proc every 0.2 s for the peak RSS
(VmHWM) of the parent and of each worker, and prints the wall time, both peaks and ProdLDA's
seconds per epoch (the trial's fit_seconds / epochs_run).

Usage: python bench/scale.py [--corpus PATH] [--sizes 25000 50000 100000] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from _common import REPO, machine, scratch, write_grid

SHARED = REPO.parent / "shared" / "data"
SOURCES = ("20newsgroups", "bbc-news", "huffpost-news-2018-2022")
PARAGRAPH = re.compile(r"\n\s*\n")
MIN_WORDS = 5  # shorter "paragraphs" are mostly signatures and header fragments
EPOCHS, VOCAB = 10, 10000


def paragraphs(folder: Path) -> list[dict[str, str]]:
    """Every paragraph of the source corpora as a record, in sha1-of-id order."""
    missing = [name for name in SOURCES if not (folder / name / "corpus.jsonl").is_file()]
    if missing:  # a clone alone has no ../shared: it said FileNotFoundError with a traceback
        raise SystemExit(f"scale.py builds its corpus from {', '.join(SOURCES)} corpus.jsonl "
                         f"files under {folder}, which lacks {', '.join(missing)}: pass "
                         "--corpus PATH, a JSONL of id, text and label records (100,000 or more "
                         "for the default sizes)")
    rows = []
    for name in SOURCES:
        with (folder / name / "corpus.jsonl").open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                for i, text in enumerate(PARAGRAPH.split(record["text"])):
                    if len(text.split()) >= MIN_WORDS:
                        rows.append({"id": f"{name}/{record['id']}/{i}", "text": text.strip(),
                                     "label": f"{name}/{record['label']}"})
    rows.sort(key=lambda r: hashlib.sha1(r["id"].encode()).hexdigest())
    return rows


def write_corpus(rows: list[dict[str, str]], size: int, path: Path) -> Path:
    if size > len(rows):
        raise SystemExit(f"the corpus has {len(rows)} documents; {size} asked")
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows[:size])
    return path


def read_corpus(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@dataclass
class Peaks:
    """Peak resident memory (MB) of the parent and of its largest worker."""

    parent: float = 0.0
    worker: float = 0.0


def peak_mb(process: psutil.Process) -> float:
    """The process's high-water RSS (VmHWM), 0 if it is gone."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def is_worker(process: psutil.Process, parent: psutil.Process) -> bool:
    """A pool worker of `parent`: spawned, or forked by its fork server (which shares the
    workers' command line but is the parent's own child)."""
    try:
        command = " ".join(process.cmdline())
        return "spawn_main" in command or ("multiprocessing.forkserver" in command
                                           and process.ppid() != parent.pid)
    except psutil.Error:
        return False


def watch(command: list[str], folder: Path) -> tuple[float, Peaks]:
    """Run `command`, sampling its and its workers' peak RSS until it exits."""
    peaks, started = Peaks(), time.perf_counter()
    log = (folder / "tuner.log").open("w")
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    parent = psutil.Process(child.pid)
    while child.poll() is None:
        peaks.parent = max(peaks.parent, peak_mb(parent))
        for process in parent.children(recursive=True):
            if is_worker(process, parent):
                peaks.worker = max(peaks.worker, peak_mb(process))
        time.sleep(0.2)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"tuner run failed ({child.returncode}); see {folder / 'tuner.log'}")
    return wall, peaks


def prodlda_seconds_per_epoch(store: str) -> list[float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("scale")
    runs = client.search_runs([experiment.experiment_id],
                              "tags.`tuner.role` = 'trial' and tags.`tuner.model` = 'ProdLDA'")
    return sorted(r.data.metrics["fit_seconds"] / r.data.metrics["epochs_run"] for r in runs)


def run_size(rows: list[dict[str, str]], size: int, workers: int, folder: Path) -> str:
    folder.mkdir(parents=True)
    corpus = write_corpus(rows, size, folder / "corpus.jsonl")
    grid = write_grid(folder, experiment="scale", models=["lda", "prodlda"], seeds=[42],
                      dataset={"path": str(corpus), "language": "en", "label_field": "label"},
                      params={"num_topics": [20, 50], "vocab_size": VOCAB,
                              "prodlda.epochs": EPOCHS, "prodlda.patience": None})
    store = f"sqlite:///{folder / 'mlflow.db'}"
    wall, peaks = watch([str(Path(sys.executable).parent / "tuner"), "run", str(grid),
                         "--max-workers", str(workers), "--cache-dir", str(folder / "cache"),
                         "--tracking-uri", store, "--quiet"], folder)
    per_epoch = ", ".join(f"{s:.1f}" for s in prodlda_seconds_per_epoch(store))
    return (f"{size:>7,} docs: wall {wall:6.1f} s, parent peak RSS {peaks.parent:5.0f} MB, "
            f"worker peak RSS {peaks.worker:5.0f} MB, ProdLDA s/epoch {per_epoch}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, help="JSONL with id, text, label (default: the "
                        "paragraphs of ../shared/data's 20newsgroups, bbc-news and huffpost)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[25000, 50000, 100000])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = read_corpus(args.corpus) if args.corpus else paragraphs(SHARED)
    folder = scratch()
    print(f"machine: {machine()}; {len(rows):,} documents available; LDA and ProdLDA at "
          f"K=20/50, {EPOCHS} epochs, vocabulary {VOCAB:,}, {args.workers} workers; "
          f"scratch {folder}", flush=True)
    for size in args.sizes:
        print(run_size(rows, size, args.workers, folder / str(size)), flush=True)


if __name__ == "__main__":
    main()
