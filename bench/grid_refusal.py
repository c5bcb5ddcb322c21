"""How fast, and in how little memory, an astronomically large grid is refused (issue #10,
item 14): the trial count is the product of the list lengths, known before any combination is
built. Imports are excluded: they are the same for every grid."""

from __future__ import annotations

import time
import tracemalloc

from _common import command_line, machine, scratch, write_grid

from tuner.engine.sweep import check_inputs
from tuner.errors import GridError
from tuner.grid import load_grid

PARAMS = {"num_topics": list(range(5, 101)), "max_iter": list(range(10, 500, 2)),
          "vocab_size": list(range(1000, 20001, 50)),
          "alpha": [round(0.05 * i, 2) for i in range(1, 120)]}
MAX_TRIALS = 10000


def main() -> None:
    command_line(__doc__)  # no argument: --help prints what it measures
    path = write_grid(scratch(), params=PARAMS, seeds=list(range(1, 20)))
    load_grid(write_grid(scratch()))  # warm the imports a first grid load makes
    tracemalloc.start()
    started = time.perf_counter()
    try:
        check_inputs(load_grid(path), MAX_TRIALS)
        raise SystemExit("the grid was not refused")
    except GridError as err:
        message = str(err)
    seconds = time.perf_counter() - started
    peak_kib = tracemalloc.get_traced_memory()[1] / 2**10
    print(f"machine: {machine()}")
    print(f"grid file: {path.stat().st_size} bytes; {message.split(': ', 1)[1]}")
    print(f"refused in {seconds * 1000:.0f} ms, peak traced memory {peak_kib:.0f} KiB")


if __name__ == "__main__":
    main()
