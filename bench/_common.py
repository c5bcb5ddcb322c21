"""Helpers shared by the benchmark scripts: the bundled corpus, grids, machine facts."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "datasets" / "20ng-mini" / "corpus.jsonl"


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def write_grid(folder: Path, **fields: object) -> Path:
    grid = {"experiment": "bench", "dataset": {"path": str(CORPUS), "language": "en"},
            "models": ["lda"], "params": {}, "seeds": [1],
            "embedding": {"model": "sentence-transformers/all-MiniLM-L6-v2", "pooling": "mean"}}
    grid.update(fields)
    path = folder / "grid.json"
    path.write_text(json.dumps(grid), encoding="utf-8")
    return path


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="tuner-bench-"))


def memory_mb(pid: int) -> tuple[float, float]:
    """A process's resident and private (shared with no other process) memory, in MB, from
    /proc/PID/smaps_rollup (Linux)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":")
        fields[name] = float(value.split()[0]) / 1024
    return fields["Rss"], fields["Private_Clean"] + fields["Private_Dirty"]
