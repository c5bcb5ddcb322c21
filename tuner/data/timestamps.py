"""Document timestamps: parsed once, the same way for validation and for models that slice
time (DTM)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from tuner.errors import DataError

_YEAR = re.compile(r"^\d{4}$")
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DIGITS = re.compile(r"^\d+$")
# A number that is no date, however written: digits with a fraction or a zone's Z after them
# (a CSV's float column wrote 1659052800000.0, read as 1659-05-28 too)
_NUMBER = re.compile(r"^\d+(?:\.\d*)?Z?$")
_BASIC_DATE_DIGITS = 8  # ISO 8601's basic form, YYYYMMDD: the one all-digit date but a year
SHAPE_CHARS = 40  # a longer value is described by its length alone (an RFC 2822 date is 29)


def parse_timestamp(value: str) -> date | None:
    """An ISO 8601 date or date-time ('2022-09-23', '2022-09-23T10:00', '20220923'), 'YYYY-MM'
    or 'YYYY'. Other runs of digits are no date: Python's ISO parser reads Unix time in
    milliseconds, 1659052800000, as 1659-05-28."""
    text = value.strip()
    try:
        if _YEAR.match(text):
            return date(int(text), 1, 1)
        if _NUMBER.match(text) and not (_DIGITS.match(text) and len(text) == _BASIC_DATE_DIGITS):
            return None
        month = _YEAR_MONTH.match(text)
        if month:
            return date(int(month.group(1)), int(month.group(2)), 1)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:  # no such date, year 0 among them
        return None


def precision(value: str) -> str:
    """How precisely a parsed timestamp dates its document: "year", "month" or "day"."""
    text = value.strip()
    return "year" if _YEAR.match(text) else "month" if _YEAR_MONTH.match(text) else "day"


def value_shape(value: str) -> str:
    """How a value that is no date looks, without its content (an error must not echo the data
    file: a timestamp field set to the text field printed a whole document): digits as 9,
    letters as a, the rest as it is, with what it seems to be where that is clear."""
    text = value.strip()
    if len(text) > SHAPE_CHARS:
        return f"a {len(text)}-character value (a text, not a date?)"
    digits = len(text.split(".", 1)[0].rstrip("Z")) if _NUMBER.match(text) else 0
    if digits in (9, 10):
        return f"{digits} digits, as Unix time in seconds"
    if digits in (12, 13):
        return f"{digits} digits, as Unix time in milliseconds"
    mask = "".join("9" if c.isdigit() else "a" if c.isalpha() else c for c in text)
    return f"shaped {mask!r}"


def parse_timestamps(timestamps: Sequence[str], ids: Sequence[str], source: str,
                     field: str | None = None) -> list[date]:
    """Every document's date. Raises DataError naming the field (`field`: its name in the
    data) and the first bad value's document and shape."""
    named = f"dataset.timestamp_field{f' {field!r}' if field else ''}"
    dates = [parse_timestamp(v) for v in timestamps]
    missing = [i for i, v in enumerate(timestamps) if not v.strip()]
    bad = [i for i, d in enumerate(dates) if d is None and timestamps[i].strip()]
    # both said at once, or a user who fixes the empty dates is only then told of the
    # unreadable ones
    said = []
    if missing:  # else a null read as '' is called an unparseable value ''
        said.append(f"every document needs a date; {len(missing)} of {len(dates)} have none "
                    f"(null or empty), e.g. document '{ids[missing[0]]}'")
    if bad:
        first = bad[0]
        said.append(f"expects ISO dates (YYYY-MM-DD or YYYYMMDD), date-times (YYYY-MM-DDTHH:MM, "
                    f"with any time zone), YYYY-MM or years; {len(bad)} of {len(dates)} "
                    f"documents have values that are none of these, e.g. document "
                    f"'{ids[first]}': {value_shape(timestamps[first])}; convert them to ISO "
                    "dates")
    if said:
        raise DataError(f"{source}: {named}: " + "; and ".join(said))
    return [d for d in dates if d is not None]
