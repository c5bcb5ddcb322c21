"""Document timestamps: parsed once, the same way for validation and for models that slice
time (DTM)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from tuner.errors import DataError

_YEAR = re.compile(r"^\d{4}$")
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_timestamp(value: str) -> date | None:
    """An ISO 8601 date or date-time ('2022-09-23', '2022-09-23T10:00'), 'YYYY-MM' or 'YYYY'."""
    text = value.strip()
    if _YEAR.match(text):
        return date(int(text), 1, 1)
    month = _YEAR_MONTH.match(text)
    try:
        if month:
            return date(int(month.group(1)), int(month.group(2)), 1)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def parse_timestamps(timestamps: Sequence[str], ids: Sequence[str], source: str
                     ) -> list[date]:
    """Every document's date. Raises DataError naming the field and the first bad value."""
    dates = [parse_timestamp(v) for v in timestamps]
    missing = [i for i, v in enumerate(timestamps) if not v.strip()]
    if missing:  # a null read as '' was called an unparseable value ''
        raise DataError(f"{source}: dataset.timestamp_field: every document needs a date; "
                        f"{len(missing)} of {len(dates)} have none (null or empty), e.g. "
                        f"document '{ids[missing[0]]}'")
    bad = [i for i, d in enumerate(dates) if d is None]
    if bad:
        first = bad[0]
        raise DataError(f"{source}: dataset.timestamp_field: expects ISO dates (YYYY-MM-DD), "
                        f"date-times or years; {len(bad)} of {len(dates)} documents have "
                        f"unparseable values, e.g. {timestamps[first]!r} (document "
                        f"'{ids[first]}')")
    return [d for d in dates if d is not None]
