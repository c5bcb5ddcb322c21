"""Memory of N worker processes holding the same embedding matrix: memory-mapped vs copied.

Reports each worker's RSS and its private (unshared) memory from /proc/PID/smaps_rollup.
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
from _common import command_line, machine, memory_mb, scratch

ROWS, DIMS, WORKERS = 20000, 1024, 2  # the size of Qwen3-0.6B embeddings of 20k documents


def hold(path: str, mode: str, ready: multiprocessing.Event, done: multiprocessing.Event) -> None:
    matrix = np.load(path, mmap_mode="r") if mode == "mmap" else np.load(path)
    float(np.asarray(matrix).sum())  # touch every page, as a trial would
    ready.set()
    done.wait(60)


def main() -> None:
    command_line(__doc__)  # no argument: --help prints what it measures
    path = scratch() / "emb.npy"
    np.save(path, np.random.default_rng(0).standard_normal((ROWS, DIMS), dtype=np.float32))
    context = multiprocessing.get_context("spawn")
    print(f"machine: {machine()}; matrix {ROWS} x {DIMS} float32 = "
          f"{path.stat().st_size / 2**20:.0f} MB, {WORKERS} workers")
    for mode in ("mmap", "copy"):
        done = context.Event()
        readies = [context.Event() for _ in range(WORKERS)]
        workers = [context.Process(target=hold, args=(str(path), mode, r, done)) for r in readies]
        for worker in workers:
            worker.start()
        for ready in readies:
            ready.wait(120)
        time.sleep(0.5)
        stats = [memory_mb(w.pid) for w in workers if w.pid]
        done.set()
        for worker in workers:
            worker.join()
        rss = np.mean([s[0] for s in stats])
        private = np.mean([s[1] for s in stats])
        print(f"{mode}: RSS {rss:.0f} MB per worker, of which private {private:.0f} MB")


if __name__ == "__main__":
    main()
