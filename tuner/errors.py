"""Exception hierarchy: every error a user can see is a TunerError.

The CLI maps them to exit codes (see tuner/cli.py): SweepAbortedError (the sweep stopped after it
had started running trials) exits 4, SweepLockedError 3, and any other TunerError 2, because it
was found before any trial started.
"""

from __future__ import annotations

import re
import unicodedata


class TunerError(Exception):
    """Base class of every error tuner reports to a user."""


class GridError(TunerError):
    """A grid file is invalid. Holds every problem found, one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DataError(TunerError):
    """A dataset cannot be read or does not have the declared fields."""


class GroundTruthError(TunerError):
    """A ground-truth clustering file is invalid or does not match the corpus."""


class CacheError(TunerError):
    """A cache entry cannot be written, read or trusted."""


class TrainerError(TunerError):
    """A trainer cannot run: missing library, unusable input, or a failed fit."""


class MetricError(TunerError):
    """A metric cannot be computed for this output and reference."""


class EmbeddingModelError(TunerError):
    """An embedding model cannot be loaded (for example an unknown id on an offline machine)."""


class TrackingError(TunerError):
    """The tracking store cannot be reached or written."""


class SweepNotStartedError(TunerError):
    """The sweep stopped before its first trial (the store could not open its run, or the set-up
    after it failed): the CLI exits with code 2, not 4."""


class SweepLockedError(TunerError):
    """Another sweep of the same experiment holds its lock (an overlapping cron run, or the
    HTTP service); the CLI exits with code 3."""


class SweptElsewhereError(SweepLockedError):
    """Another machine's sweep of the experiment runs against the same tracking store
    (tracking.liveness); the refused sweep's run is already discarded."""


class SweepAbortedError(TunerError):
    """The sweep stopped on an error after it had started running trials (for example the
    tracking store went away mid-sweep); the CLI exits with code 4, never 2. `journalled`: the
    finished trials' results the store refused, kept in the journal for the next sweep."""

    def __init__(self, message: str, journalled: int = 0) -> None:
        super().__init__(message)
        self.journalled = journalled


class ApiError(TunerError):
    """An HTTP error answer: status, one-line message and the problem lines."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None,
                 allow: str | None = None) -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.problems = problems or [message]
        self.allow = allow  # a 405's Allow header: the methods the path takes


class SweepInterrupted(Exception):
    """SIGINT or SIGTERM stopped a sweep; `exit_code` is 128 + the signal number (130, 143).
    `runs_ended`: False when another signal cut short the ending of its runs."""

    def __init__(self, signum: int, runs_ended: bool = True) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum
        self.runs_ended = runs_ended


def root_cause(err: BaseException) -> str:
    """`Type: first line` of the innermost error `err` was raised from: a store's error wraps
    the one that says what happened (SQLAlchemy's first line is boilerplate; sqlite3's is
    "attempt to write a readonly database")."""
    seen = {id(err)}
    while (inner := _inner(err)) is not None and id(inner) not in seen:
        seen.add(id(inner))
        err = inner
    first = first_line(err)
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


# SQLAlchemy's preamble before the database's own words, when a query flushed the session
_AUTOFLUSH = re.compile(r"\(raised as a result of Query-invoked autoflush;[^)]*\)\s*")


def first_line(err: BaseException) -> str:
    """The first line of an error's message (300 characters at most), without SQLAlchemy's
    "(raised as a result of Query-invoked autoflush; consider using a session.no_autoflush
    block ...)" before the database's words."""
    return (_AUTOFLUSH.sub("", str(err)).splitlines() or [""])[0][:300]


def _inner(err: BaseException) -> BaseException | None:
    """What `err` was raised from, or during; not a context `raise ... from None` hid."""
    return err.__cause__ or (None if err.__suppress_context__ else err.__context__)


def shown(text: str) -> str:
    """`text` as a terminal may show it: control and format characters escaped (ESC as \\x1b,
    a newline as \\n, a bidirectional override as \\u202e), so that a file, folder or field
    name in a message can neither drive the terminal (clear it, set its title) nor start a line
    of its own (U+2028 and U+2029 end lines for some log viewers). Letters and spaces of any
    script are kept."""
    return "".join(ascii(ch)[1:-1] if unicodedata.category(ch)[0] == "C"
                   or unicodedata.category(ch) in ("Zl", "Zp") else ch for ch in text)
