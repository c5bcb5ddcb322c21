"""How long hiding credentials takes on long texts (`tuner.tracking.uri.redact_uri`), which the
service runs over every problem line and logged error: it must grow linearly with the text. A
112 KB grid key took 3.1 CPU s with the pattern at 206b923, four times 56 KB's 0.77 s.

Usage: python bench/redaction.py
"""

from __future__ import annotations

import time

from _common import command_line, machine

from tuner.tracking.uri import redact_uri

SHAPES = {"a://b:c repeated": "a://b:c", "letters": "a", ":mysql://u:x repeated": ":mysql://u:x",
          "http URIs with a password": "http://u:p@h/x "}


def main() -> None:
    command_line(__doc__)  # no argument: --help prints what it measures
    print(f"machine: {machine()}")
    for label, unit in SHAPES.items():
        figures = []
        for size in (112_000, 1_000_000):
            text = unit * (size // len(unit))
            started = time.process_time()
            redact_uri(text)
            figures.append(f"{size // 1000} KB {time.process_time() - started:.3f} s")
        print(f"{label}: {', '.join(figures)}")


if __name__ == "__main__":
    main()
