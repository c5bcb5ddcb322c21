"""Time slices of a dated corpus for DTM: by calendar year, or N bins of equal document count."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray

from tuner.errors import DataError
from tuner.params import Constraint

_BINS = re.compile(r"bins:([0-9]{1,9})")  # fullmatch, ASCII digits; more: int() refuses 4,300
MAX_BINS = 50


def _valid_rule(value: object) -> bool:
    if value == "year":
        return True
    match = _BINS.fullmatch(value) if isinstance(value, str) else None
    return match is not None and 2 <= int(match.group(1)) <= MAX_BINS


TIME_SLICE_RULE = Constraint(f"year or bins:N with N in 2-{MAX_BINS}", _valid_rule)


@dataclass(frozen=True)
class TimeSlices:
    """Which slice each document falls in, and each slice's label (slices in time order)."""

    labels: list[str]
    index: NDArray[np.int64]

    @property
    def count(self) -> int:
        return len(self.labels)


def slice_documents(dates: Sequence[date], rule: str) -> TimeSlices:
    """Assign documents to slices by `rule` ("year" or "bins:N", see TIME_SLICE_RULE)."""
    if rule == "year":
        years = sorted({d.year for d in dates})
        position = {y: i for i, y in enumerate(years)}
        return TimeSlices([str(y) for y in years],
                          np.array([position[d.year] for d in dates], dtype=np.int64))
    match = _BINS.fullmatch(rule)
    if match is None:
        raise ValueError(f"time_slices must be {TIME_SLICE_RULE.describe}; got {rule!r}")
    bins = int(match.group(1))
    if bins > len(dates):
        raise DataError(f"time_slices={rule!r} asks for more slices than the {len(dates)} "
                        f"documents")
    order = np.argsort(np.array([d.toordinal() for d in dates]), kind="stable")
    index = np.empty(len(dates), dtype=np.int64)
    labels = []
    for i, members in enumerate(np.array_split(order, bins)):
        index[members] = i
        labels.append(f"{dates[members[0]].isoformat()}..{dates[members[-1]].isoformat()}")
    if len(set(labels)) < len(labels):
        # Tied dates: slices share a span, and slice_top_words, keyed by it, lost some.
        labels = [f"{i + 1}/{bins} {label}" for i, label in enumerate(labels)]
    return TimeSlices(labels, index)
