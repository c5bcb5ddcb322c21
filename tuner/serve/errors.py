"""API error answers, and the rule that keeps data out of them: a problem found in a data file
is answered with its file and field only; the full text, which may quote the data, goes to the
server log under a reference the answer names."""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from http import HTTPStatus
from pathlib import Path

from tuner.errors import (
    ApiError,
    DataError,
    EmbeddingModelError,
    GridError,
    GroundTruthError,
    SweepAbortedError,
    SweepNotStartedError,
    TunerError,
    shown,
)
from tuner.serve.paths import DataRoots
from tuner.tracking.uri import redact_uri

log = logging.getLogger(__name__)
# The dataset fields a corpus problem names; matched against fixed message words, never data.
_DATASET_FIELD = re.compile(
    r"\bdataset\.(?:text_field(?:\[\d{1,2}\])?|id_field|label_field|timestamp_field"
    r"|covariates\[\d{1,4}\])")


def validation_error(err: TunerError, grid_path: Path, label: str, roots: DataRoots,
                     data_files: dict[str, Path]) -> ApiError:
    """The 400 answer for a grid that failed validation.

    Args:
        err: what load_grid or check_inputs raised.
        grid_path: the grid file validated; its lines are about the grid, shown as they are.
        label: how the answer names the grid (its file name, or `grid_inline`).
        roots: the data roots, whose absolute paths the answer shortens to their names.
        data_files: "dataset" and "ground_truth" -> the file the grid names.
    """
    if isinstance(err, (GridError, EmbeddingModelError)):
        lines = err.problems if isinstance(err, GridError) else str(err).splitlines()
    else:
        lines = str(err).splitlines()
        if not all(line.startswith(f"{grid_path}: ") for line in lines):
            lines = [_data_problem(err, label, roots, data_files)]
    shown = [roots.public(redact_uri(cut(line.replace(str(grid_path), label, 1), LINE_CHARS)))
             for line in lines[:MAX_LINES]]
    message = f"{label}: invalid grid" if isinstance(err, GridError) else shown[0]
    return ApiError(HTTPStatus.BAD_REQUEST, message, shown)


def _data_problem(err: TunerError, label: str, roots: DataRoots,
                  data_files: dict[str, Path]) -> str:
    ref = log_reference(err)
    if isinstance(err, GroundTruthError):
        field, path = "ground_truth", data_files.get("ground_truth")
    else:
        found = _DATASET_FIELD.search(str(err))
        field, path = (found.group(0) if found else "dataset.path"), data_files.get("dataset")
    name = roots.public(str(path)) if path is not None else "the data file"
    return (f"{label}: {field}: {name} fails validation; the reason quotes the data, so it is "
            f"only in the server log (ref {ref}) and in `tuner validate` on the server")


def log_reference(err: BaseException) -> str:
    """Log an error's full text on the server, as one line, and return the reference an answer
    quotes."""
    ref = uuid.uuid4().hex[:8]
    log.warning("ref %s: %s: %s", ref, type(err).__name__,
                one_line(redact_uri(cut(str(err), LOGGED_CHARS))))
    return ref


LINE_CHARS = 2000  # of one problem line in an answer
MAX_LINES = 101  # problem lines in an answer: a grid's 100 and the count of the rest
LOGGED_CHARS = 20000  # of an error's text in the server's log
LOGGED_LINE_CHARS = 500  # of a request line in it (its path and query are the client's)


def cut(text: str, most: int) -> str:
    """`text`, cut to `most` characters before anything scans it (redaction, the log)."""
    return text if len(text) <= most else f"{text[:most]}... ({len(text)} characters)"


def one_line(text: str) -> str:
    """`text` with its control characters escaped (a newline as \\n): a request's text in the
    server's log cannot start a line of its own, forged as the server's."""
    return shown(text)


class EscapedLog(logging.Formatter):
    """The server's log lines with every control character a client could have put in them
    escaped: the message whole (a newline too), a traceback's text but its own line breaks.
    A request path quoted unescaped in the failure line of a 500 can set the terminal's title
    and clear it; any logged value may hold a client's text."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.msg, record.args, record.exc_text
        record.msg, record.args = shown(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _escaped_traceback(record.exc_info[1])
        elif record.exc_text:  # formatted elsewhere: its line breaks cannot be told apart
            record.exc_text = shown(record.exc_text)
        try:
            return super().format(record)
        finally:
            record.msg, record.args, record.exc_text = saved


def _escaped_traceback(err: BaseException) -> str:
    """`err`'s traceback with every line escaped but the frames' own (the server's code), which
    keep their line breaks: each exception's text, notes included, and a SyntaxError's file name
    and line, whatever a client's text can hold, are escaped whole, newlines too (a break kept
    before a message line that looks like a frame's lets a client forge log lines)."""
    return "\n".join(_traceback_lines(traceback.TracebackException.from_exception(err), set()))


def _traceback_lines(exc: traceback.TracebackException, seen: set[int]) -> list[str]:
    """As traceback.format_exception lays a chain out: its cause or context first."""
    seen.add(id(exc))
    lines: list[str] = []
    cause, context = exc.__cause__, exc.__context__
    if cause is not None and id(cause) not in seen:
        lines += _traceback_lines(cause, seen) + [CAUSE_HEADING]
    elif context is not None and not exc.__suppress_context__ and id(context) not in seen:
        lines += _traceback_lines(context, seen) + [CONTEXT_HEADING]
    if exc.stack:
        lines.append("Traceback (most recent call last):")
        lines += [shown(line) for frame in exc.stack.format()
                  for line in frame.rstrip("\n").split("\n")]
    lines.append(shown("".join(exc.format_exception_only()).rstrip("\n")))
    return lines


CAUSE_HEADING = "\nThe above exception was the direct cause of the following exception:\n"
CONTEXT_HEADING = "\nDuring handling of the above exception, another exception occurred:\n"


def public_failure(err: BaseException, roots: DataRoots, store: str | None = None) -> str:
    """A sweep's failure as `GET /sweeps/{id}` shows it: no data values, no credentials, and
    not the folder of a SQLite `store` (a path of the server's). Only tuner's own words are shown; a
    library's error (a tokenizer or model config that fails to load, a parser) may quote the
    file it read, so its text goes to the server log."""
    if isinstance(err, (DataError, GroundTruthError)):
        return f"{type(err).__name__}: a data file failed a check; see the server log " \
               f"(ref {log_reference(err)})"
    if not _tuners_own_words(err):
        return f"{type(err).__name__}: the sweep failed; the reason may quote a file it read, " \
               f"so it is only in the server log (ref {log_reference(err)})"
    text = redact_uri(cut(f"{type(err).__name__}: {err}", 4000))
    if store and store.startswith("sqlite:///"):
        database = Path(store.removeprefix("sqlite:///").split("?", 1)[0])
        text = text.replace(store, f"sqlite:///.../{database.name}")
        for folder in {str(database.parent), str(database.resolve().parent)} - {"/", "."}:
            text = text.replace(folder, "...")  # the lock folder beside it, an OSError's path
    return roots.public(text)


def _tuners_own_words(err: BaseException | None) -> bool:
    """Whether an error's text is tuner's own: a TunerError. A SweepAbortedError quotes the
    error the sweep stopped on, and a SweepNotStartedError the store's, so that one must be
    tuner's own too."""
    while isinstance(err, (SweepAbortedError, SweepNotStartedError)):
        err = err.__cause__
    return err is None or isinstance(err, TunerError)
