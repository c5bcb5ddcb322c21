"""Load a corpus (JSONL, CSV, TSV, Parquet, a text file of one document per line, or a folder of
text files) into a validated, hashed Corpus."""

from __future__ import annotations

import codecs
import hashlib
import json
import math
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuner.data.confine import open_checked, pinned
from tuner.data.language import HAN_CHARACTER, LETTER, detected_language
from tuner.data.store import json_sha256
from tuner.errors import DataError, shown
from tuner.params import closest

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt")
FORMATS = (".jsonl, .csv, .tsv, .parquet, .txt (one document per line) or a folder of text files "
           "(one document per file, the folder it is in its label)")
# The fields of the formats that have no field names of their own (.txt, a folder)
ID, TEXT, LABEL = "id", "text", "label"
# A corpus folder's documents: its files with one of these suffixes or none (20 Newsgroups'
# 49960; a suffix of digits, as in article.001, is none). Anything else (a grid's .json, a
# store's .db, a cache's .npz, a PDF) is left out, and `validate` counts what was.
DOCUMENT_SUFFIXES = (".txt", ".text", ".md")
# Folders tuner writes by default, left out of a corpus folder a sweep is run from
TUNERS_FOLDERS = ("mlruns", "embedding_cache")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a corpus lives and which fields hold what (the grid's `dataset` section)."""

    path: Path
    text_field: str | tuple[str, ...] = "text"  # several: their texts joined (text_fields)
    id_field: str | None = "id"  # None: the record's number in the file (1, 2, ...)
    label_field: str | None = "label"
    timestamp_field: str | None = None
    language: str | None = None  # None: detected from the text (detected_language)
    covariates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Corpus:
    """Documents in file order, with their ids, optional labels and a content hash."""

    ids: list[str]
    texts: list[str]
    labels: list[str] | None
    timestamps: list[str] | None
    covariates: dict[str, list[Any]] = field(default_factory=dict)
    language: str = "en"
    source: str = ""
    sha256: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def texts_sha256(self) -> str:
        """Hash of the texts in order, ids left out: what a document-embedding matrix depends
        on, so a corpus exported again with other ids is not embedded again (hours with
        Qwen3-8B). Its trials still run again: their keys hold `sha256`."""
        digest = hashlib.sha256()
        for text in self.texts:
            _add_field(digest, text)
        return digest.hexdigest()

    def side_digests(self) -> dict[str, str]:
        """Digests of the timestamp and covariate values a fit may read (as its key holds them)."""
        digests = {}
        if self.timestamps is not None:
            digests["timestamps"] = json_sha256(self.timestamps)
        if self.covariates:  # in the grid's order, which orders STM's design columns (a
            # sorted digest would serve one order's fit for the other)
            digests["covariates"] = json_sha256([[name, values] for name, values
                                                 in self.covariates.items()])
        return digests


def corpus_sha256(ids: Sequence[str], texts: Sequence[str]) -> str:
    """Hash of ids and texts in order: the identity of a corpus for every cache key. Each field
    is length-prefixed, so no two different corpora give the same bytes (ids and texts may hold
    any character, separators included)."""
    digest = hashlib.sha256()
    for doc_id, text in zip(ids, texts, strict=True):
        _add_field(digest, doc_id)
        _add_field(digest, text)
    return digest.hexdigest()


def _add_field(digest: Any, value: str) -> None:
    encoded = value.encode("utf-8")
    digest.update(len(encoded).to_bytes(8, "little") + encoded)


def read_records(path: Path, roots: Sequence[Path] = ()) -> list[dict[str, Any]]:
    """Read every record of a corpus file, or every document of a corpus folder, as a dict (a
    folder's files only where, as opened, they are under `roots`: see _file_bytes)."""
    if path.is_dir():
        return _read_folder(path, roots)
    if not path.is_file():
        raise DataError(f"{path}: dataset file not found")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DataError(f"{path}: expects {FORMATS}; got '{suffix}'")
    with pinned(path, roots, "dataset.path") as source:
        try:
            return _read_file(source, suffix)
        except DataError as err:
            if source == path:
                raise
            raise DataError(str(err).replace(str(source), str(path))) from err


def _read_file(path: Path, suffix: str) -> list[dict[str, Any]]:
    """The records of a corpus file in the format its `suffix` names (`path` may be the
    /proc/self/fd path of a file `pinned` opened, which has none)."""
    try:
        if suffix in (".jsonl", ".json"):
            return _read_jsonl(path)
        if suffix == ".txt":
            return _read_lines(path)
        if suffix == ".parquet":
            import pandas as pd

            return pd.read_parquet(path).to_dict(orient="records")  # type: ignore[no-any-return]
        return _read_delimited(path, _delimiter(suffix))
    except UnicodeDecodeError as err:
        hint = _encoding_hint(_around_undecodable(path))
        raise DataError(f"{path}: not valid UTF-8 ({err.reason} {_where_undecodable(path)}); "
                        f"save it as UTF-8 ({hint}; from Excel: CSV UTF-8)") from err
    except DataError:
        raise
    except Exception as err:  # pandas/pyarrow raise many types for a broken file
        delimited = suffix in (".csv", ".tsv")
        found = _uneven_csv_record(path, _delimiter(suffix)) if delimited else ""
        raise DataError(f"{path}: cannot be read as {suffix[1:]}: "
                        f"{found or str(err).strip()}"
                        f"{_delimiter_hint(path) if suffix == '.csv' else ''}") from err


def _delimiter(suffix: str) -> str:
    return "\t" if suffix == ".tsv" else ","


def _format_name(delimiter: str) -> str:
    return "tsv" if delimiter == "\t" else "csv"


def _read_delimited(path: Path, delimiter: str) -> list[dict[str, Any]]:
    """A CSV or TSV file with a header line; every field read as text."""
    import pandas as pd

    frame = pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False,
                        encoding="utf-8-sig", quoting=_quoting(path, delimiter))
    if not isinstance(frame.index, pd.RangeIndex):
        # every row longer than the header: pandas makes the first fields an index, and the
        # rest move one field left (ids read as the text)
        uneven = _uneven_csv_record(path, delimiter) or "its rows have more fields than its header"
        raise DataError(f"{path}: cannot be read as {_format_name(delimiter)}: {uneven}")
    return frame.to_dict(orient="records")  # type: ignore[no-any-return]


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """A text file of one document per line (as Mallet and BTM take them): its records have the
    fields `id` (the line's number, blank lines counted, so a number finds its line) and
    `text`; blank lines are not documents. Lines end at \\n alone (a CRLF's \\r is dropped), as
    `wc -l` and `sed -n Np` count them: a lone \\r inside a line does not split it."""
    _refuse_nul(path, "txt")
    with path.open(encoding="utf-8-sig", newline="\n") as handle:
        records = [{ID: str(number), TEXT: line.rstrip("\r\n")}
                   for number, line in enumerate(handle, start=1) if line.strip()]
    if len(records) == 1 and "\r" in records[0][TEXT]:  # one document of many lines
        raise DataError(f"{path}: its lines end with \\r alone (an old Mac file), so it reads as "
                        "one document; convert the line ends to \\n (`tr '\\r' '\\n' < IN > "
                        "OUT`)")
    return records


def _read_folder(folder: Path, roots: Sequence[Path] = ()) -> list[dict[str, Any]]:
    """One document per file under `folder` (corpus_files), in the order of their paths. A
    record's `id` is the file's path under the folder (business/001.txt), its `text` the
    file's content and, for a file in a subfolder, its `label` the name of the folder it is in
    (the layout of the BBC and 20 Newsgroups releases, and of scikit-learn's load_files)."""
    records = []
    documents, _ = corpus_files(folder)
    for path in documents:
        name = _file_name(path, folder)
        record = {ID: name, TEXT: _file_text(path, folder, name, roots)}
        if "/" in name:  # the folder it is in: train/alt.atheism/1 and 2004/sport/1 are
            # labelled by their groups, not by the split or the year above them
            record[LABEL] = name.rsplit("/", 2)[-2]
        records.append(record)
    if not records:
        raise DataError(f"{folder}: the corpus folder holds no documents: files with no suffix "
                        f"or one of {', '.join(DOCUMENT_SUFFIXES)}, not hidden")
    return records


def corpus_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """A corpus folder's documents, at any depth, sorted; and the files left out that are not
    hidden. Left out: hidden files and folders (.git, .DS_Store), the folders tuner writes
    (TUNERS_FOLDERS), files whose suffix is not a document's (DOCUMENT_SUFFIXES); links to
    folders are not followed."""
    documents: list[Path] = []
    others: list[Path] = []
    try:
        for top, folders, names in os.walk(folder):
            folders[:] = [f for f in folders if not f.startswith(".")
                          and not (top == str(folder) and f in TUNERS_FOLDERS)]
            for path in (Path(top) / n for n in names if not n.startswith(".")):
                (documents if _is_document(path) else others).append(path)
    except RecursionError:  # os.walk recurses per level: else a traceback
        raise DataError(f"{folder}: the corpus folder's folders are nested too deeply (about "
                        f"{sys.getrecursionlimit()} levels or more) to be read") from None
    # a FIFO, a device or a dangling link named as a document is left out, and counted
    return sorted(f for f in documents if f.is_file()), \
        sorted(others + [f for f in documents if not f.is_file()])


def _is_document(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in DOCUMENT_SUFFIXES or not suffix or suffix[1:].isdigit()


def _file_name(path: Path, folder: Path) -> str:
    """A file's path under the corpus folder, its id; a name that is not UTF-8 (an old Latin-1
    archive's café) is refused by name, as its content would be."""
    name = path.relative_to(folder).as_posix()
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise DataError(f"{folder}: the file name {shown!r} is not UTF-8 (the ids are file "
                        "names); rename it (`convmv -f latin1 -t utf-8 -r --notest FOLDER`)"
                        ) from None
    return name


def _file_text(path: Path, folder: Path, name: str, roots: Sequence[Path] = ()) -> str:
    """A corpus file's text; the error names the file by its path under the corpus folder and
    says where it is not text, never what it holds."""
    data = _file_bytes(path, folder, name, roots)
    if b"\0" in data:
        raise DataError(f"{folder}: {shown(name)} is not a text file (it holds NUL bytes: a "
                        "PDF, an image or an archive?); take it out of the corpus folder, or "
                        "convert it to text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataError(f"{folder}: {shown(name)} is not valid UTF-8 ({err.reason} at line "
                        f"{line}, byte {err.start} of the file); save it as UTF-8 "
                        f"({_encoding_hint(data[max(0, err.start - 1024):][:HEAD_BYTES])})"
                        ) from None


def _quoting(path: Path, delimiter: str) -> int:
    """How the file's double quotes are read: as CSV quotes (a field that starts with one runs
    to its closing one, across lines), unless a field goes on after its closing quote. That is
    a stray quote, which CSV readers take as opening a field that swallows the records after it
    until some later quote (4 of 150 posts, under the first one's label, with no error):
    refused by line, except in a TSV whose every line, read without quoting, has the header's
    fields: a TSV is often written without quoting (its fields hold no tab or line break), so
    its quotes are text. So is, in such a TSV, a quote that never
    closes (a headline that starts with one), which the CSV reading refuses.

    Raises:
        DataError: a stray quote or a NUL byte, naming its line.
    """
    import csv

    _refuse_nul(path, _format_name(delimiter))
    fault = _quote_fault(path, delimiter)
    if fault is None:
        return csv.QUOTE_MINIMAL
    if delimiter == "\t" and _even_without_quoting(path, delimiter):
        return csv.QUOTE_NONE
    if fault is NEVER_CLOSES:
        return csv.QUOTE_MINIMAL  # the reader's own error names the line the quote opens on
    raise DataError(f"{path}: cannot be read as {_format_name(delimiter)}: {fault}")


def _refuse_nul(path: Path, kind: str, chunk: int = 1 << 20) -> None:
    """A NUL byte, which pandas reads as text where a corpus folder refuses a file that holds
    one, is refused by its line."""
    lines = 0
    with path.open("rb") as handle:
        while data := handle.read(chunk):
            at = data.find(b"\0")
            if at >= 0:
                line = lines + data.count(b"\n", 0, at) + 1
                raise DataError(f"{path}: cannot be read as {kind}: line "
                                f"{line} holds a NUL byte: not a text file (saved as UTF-16, "
                                "or binary?); save it as UTF-8 text")
            lines += data.count(b"\n")


def _csv_rows(handle: Any, delimiter: str, **options: Any) -> Any:
    """Python's csv reader over `handle`, for fields of any length (its default limit, 128 kB,
    is shorter than 20 Newsgroups' longest post)."""
    import csv

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    return csv.reader(handle, delimiter=delimiter, **options)


NEVER_CLOSES = "a quoted field never closes"  # _quote_fault's answer, compared by identity


def _quote_fault(path: Path, delimiter: str) -> str | None:
    """Where a quoted field goes on after its closing quote, as a message; NEVER_CLOSES for a
    quote that never closes; None if neither."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = _csv_rows(handle, delimiter, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as err:
            if "unexpected end of data" in str(err):
                return NEVER_CLOSES
            if reader.line_num == start:
                return None  # a quote closed on its line: read as CSV (`1,"5" screen,a`)
            lines = f"line {start} (read to line {reader.line_num} as one field)"
            return (f"{lines}: a field starts with a double quote (\") and goes on after the "
                    "next one, which ends it for a CSV reader, so the lines after it would run "
                    "into that field: quote the whole field, with each quote inside it doubled "
                    '(""), or let no field start with a quote')
    return None


def _even_without_quoting(path: Path, delimiter: str) -> bool:
    """Whether every non-blank line, read without quoting, has the header's fields."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = _csv_rows(handle, delimiter, quoting=csv.QUOTE_NONE)
        header: list[str] = next(reader, [])
        return all(len(row) == len(header) for row in reader if row)


def _file_bytes(path: Path, folder: Path, name: str, roots: Sequence[Path]) -> bytes:
    """A corpus file's bytes, read from the file as opened, never from a path checked before:
    else a file swapped for a link to one outside the data roots between the service's check
    and this read is read, and one swapped for a FIFO hangs the request. Opened without
    blocking, it must be a regular file and, with `roots`, be under one of them where the
    kernel says the open file is (/proc/self/fd; elsewhere, where its path resolves)."""
    descriptor = open_checked(path, roots, f"{folder}: {shown(name)}",
                              "take it out of the corpus folder")
    try:
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(descriptor)


def _uneven_csv_record(path: Path, delimiter: str = ",") -> str:
    """The first record pandas refuses, by the file's own line numbers: pandas says "Expected 3
    fields in line 9, saw 15" of a stray quote on line 51, counting records, not lines. A
    record of more fields than the header, else a short one that runs over several lines
    (pandas fills a short record of one line). Empty if none."""
    import csv

    short, last = "", None
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = _csv_rows(handle, delimiter)
            header: list[str] = next(reader, [])
            first_line = reader.line_num + 1
            for number, row in enumerate(reader, start=1):
                spans = reader.line_num > first_line
                last = first_line if spans else None  # of a record that ran over lines
                if len(row) > len(header) or (row and len(row) < len(header) and spans
                                              and not short):
                    lines = (f"lines {first_line} to {reader.line_num}" if spans
                             else f"line {first_line}")
                    said = (f"record {number} ({lines} of the file) has {len(row)} fields where "
                            f"the header has {len(header)}: a "
                            f"{'tab' if delimiter == chr(9) else 'comma'} in a field that is not "
                            'in double quotes, or a stray double quote (") that runs the lines '
                            "after it into one field")
                    if len(row) > len(header):
                        return said
                    short = said
                first_line = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError):
        return ""
    if not short and last is not None:  # the last record ran over lines to the end
        return (f"a double quote (\") at the start of a field on line {last} opens a quoted "
                "field that never closes, so every line after it is read into it: close it, or "
                "double it (\"\") where it is part of the text")
    return short


HEAD_BYTES = 65536  # read to guess a file's encoding


def _around_undecodable(path: Path) -> bytes:
    """HEAD_BYTES of `path` from a little before its first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
        start = 0
    except UnicodeDecodeError as err:
        start = max(0, err.start - 1024)
    return data[start:start + HEAD_BYTES]


def _encoding_hint(data: bytes) -> str:
    """How to convert a file that is not UTF-8, by what `data` (its bytes from the first that
    is not UTF-8) reads as: UTF-8 with a few broken bytes among good non-ASCII ones, Chinese in
    GB18030 (GBK), else Windows-1252, Excel's CSV on Windows in Western Europe (a cp1252 CSV
    must not be told to convert from GB18030)."""
    as_utf8 = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=False)
    broken = as_utf8.count("\ufffd")
    if broken * 20 < sum(ord(c) > 127 for c in as_utf8) - broken:  # 95% of them are good
        return ("it is UTF-8 but for a few broken bytes, as a file cut or joined mid-character "
                "has: find them at the place named, or drop them with `iconv -c -f UTF-8 -t "
                "UTF-8`")
    # not final: a read that ends inside a two-byte character leaves it, not a broken one
    text = codecs.getincrementaldecoder("gb18030")("replace").decode(data, final=False)
    han, letters = len(HAN_CHARACTER.findall(text)), len(LETTER.findall(text))
    if text.count("\ufffd") <= BROKEN_BYTES and han > 0.3 * max(1, letters):
        return "it reads as Chinese in GB18030 or GBK: `iconv -f GB18030 -t UTF-8`"
    return ("it reads as Windows-1252 or Latin-1, as Excel writes a CSV on Windows: "
            "`iconv -f WINDOWS-1252 -t UTF-8`")


BROKEN_BYTES = 3  # undecodable bytes in a file's head below which it is read as that encoding


def _where_undecodable(path: Path) -> str:
    """"at line L (byte B of the file)" for the first byte that is not UTF-8: a decoder that
    reads in chunks reports a position inside its chunk."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return f"at line {line} (byte {err.start} of the file)"
    return "somewhere in the file"


def _delimiter_hint(path: Path) -> str:
    """A hint when the header line looks separated by something other than commas."""
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline()
    for name, separator in (("semicolons", ";"), ("tabs", "\t"), ("'|'", "|")):
        if header.count(separator) > header.count(","):
            tsv = ": name the file .tsv" if separator == "\t" else ", or as JSONL"
            return (f"; its header is separated by {name}: tuner reads a .csv file as "
                    f"comma-separated, so save it with commas{tsv}")
    return ""


SHOWN_LINES = 10  # bad lines of a JSONL file named by number beyond the first


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record; a file with bad lines is refused naming the first and the numbers of the
    rest (the first alone makes a user fix one line per run)."""
    records: list[dict[str, Any]] = []
    first, more, shown = "", 0, list[str]()
    with path.open(encoding="utf-8-sig") as handle:  # a byte-order mark is read past, as in CSV
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            problem = _jsonl_record(line, number, records)
            if problem and not first:
                first = problem
            elif problem:
                more += 1
                if len(shown) < SHOWN_LINES:
                    shown.append(str(number))
    if first:
        raise DataError(f"{path}: {first}{_more_lines(more, shown)}{_array_hint(path, first)}")
    return records


def _array_hint(path: Path, problem: str) -> str:
    """A file that holds one JSON array of records (a `.json` export) read as JSON Lines fails
    on its first line: this says why."""
    if not problem.startswith("line 1:"):
        return ""
    with path.open(encoding="utf-8-sig") as handle:
        start = handle.read(200).lstrip()
    if not start.startswith("["):
        return ""
    return ("; the file holds one JSON array, and tuner reads JSON Lines, one object a line: "
            "convert it, e.g. python -c \"import json,sys; [print(json.dumps(r, "
            "ensure_ascii=False)) for r in json.load(open(sys.argv[1]))]\" "
            f"{path.name} > {path.stem}.jsonl")


def _jsonl_record(line: str, number: int, records: list[dict[str, Any]]) -> str:
    """Add line `number`'s record to `records`; what is wrong with it, if anything."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        at = "" if err.msg.endswith(" at") else " at"
        return (f"line {number}: not valid JSON ({err.msg}{at} column {err.colno}; a file cut "
                "short ends in such a line)")
    if not isinstance(record, dict):
        return f"line {number}: expects a JSON object per line"
    records.append(record)
    return ""


def _more_lines(more: int, shown: list[str]) -> str:
    if not more:
        return ""
    listed = ", ".join(shown) + (" and more" if more > len(shown) else "")
    return f"; {more} more bad line{'s' * (more > 1)}: {listed}"


def load_corpus(spec: DatasetSpec, roots: Sequence[Path] = ()) -> Corpus:
    """Load and validate a corpus; a corpus folder's files only where, as opened, they are
    under `roots` (a served sweep's data roots; none: anywhere). Raises DataError naming the
    file, field and problem."""
    records = read_records(spec.path, roots)
    where = str(spec.path)
    if not records:
        raise DataError(f"{where}: the corpus is empty (no records)")
    _require_fields(records, spec, where)
    ids = [_id_text(r[spec.id_field]) for r in records] if spec.id_field \
        else [str(number) for number in range(1, len(records) + 1)]
    texts = [_composed(_record_text(r, spec, where, n)) for n, r in enumerate(records, start=1)]
    _check_ids(ids, spec, where)
    if not any(t.strip() for t in texts):
        raise DataError(f"{where}: dataset.text_field {field_names(spec.text_field)}: every "
                        "document is "
                        "empty")
    if spec.label_field:
        _check_labels([r[spec.label_field] for r in records], spec.label_field, where)
    labels = [_label_text(r[spec.label_field]) for r in records] if spec.label_field else None
    timestamps = (
        [_timestamp_text(r[spec.timestamp_field]) for r in records] if spec.timestamp_field
        else None
    )
    covariates = {name: [r[name] for r in records] for name in spec.covariates}
    _check_covariates(covariates, where)
    return Corpus(ids, texts, labels, timestamps, covariates,
                  spec.language or detected_language(texts), where, corpus_sha256(ids, texts))


def _as_text(value: Any) -> str:
    """A field as text; a missing value ("" or null in JSONL, NaN or NA from Parquet) is ""."""
    return "" if is_missing(value) else str(value)


def _id_text(value: Any) -> str:
    """A document id as text; a whole number exported through a float type (0.0) is the number
    (0), so a ground truth file's ids 0, 1, 2 find them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _as_text(value)


def text_field_setting(value: str | Sequence[str]) -> str | tuple[str, ...]:
    """A grid's text_field as DatasetSpec holds it, from the grid or from JSON: one field as its
    name (a one-item list too: the same corpus, the same key), several as a tuple."""
    fields = text_fields(value)
    return fields[0] if len(fields) == 1 else fields


def text_fields(text_field: str | Sequence[str]) -> tuple[str, ...]:
    """The fields a document's text is read from, in order."""
    return (text_field,) if isinstance(text_field, str) else tuple(text_field)


def field_names(text_field: str | Sequence[str]) -> str:
    """How a message names the text field: 'text' (as every field is named), or the list as the
    grid writes it, ["title", "abstract"]."""
    names = text_fields(text_field)
    return f"'{names[0]}'" if len(names) == 1 else json.dumps(list(names), ensure_ascii=False)


def _record_text(record: dict[str, Any], spec: DatasetSpec, where: str, number: int) -> str:
    """A document's text: its one text field's, or its text fields' joined in order with a
    blank line between (a title and an abstract), leaving out the blank ones."""
    parts = [_document_text(record.get(name), spec, where, number)
             for name in text_fields(spec.text_field)]
    return parts[0] if len(parts) == 1 else "\n\n".join(p for p in parts if p.strip())


def _document_text(value: Any, spec: DatasetSpec, where: str, record: int) -> str:
    """A document's text; a list of texts (paragraphs) joined by blank lines, not taken as its
    Python spelling "['para1', 'para2']"."""
    if type(value).__name__ == "ndarray":  # a Parquet list column
        value = value.tolist()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) or is_missing(v) for v in value):
        return "\n\n".join(v for v in value if not is_missing(v))
    if isinstance(value, (dict, list, tuple)):
        raise DataError(f"{where}: record {record}: dataset.text_field "
                        f"{field_names(spec.text_field)}: "
                        "a document's text is an object or a list of non-texts; name a field "
                        "that holds text, or a list of texts")
    return _as_text(value)


def _composed(text: str) -> str:
    """The text in Unicode's composed form (NFC), as most files hold it: a file saved with
    decomposed accents (NFD, as macOS writes names) splits "résumé" into "sume" and "café" into
    "cafe", and its English LDA scores otherwise than the same corpus composed. A composed text
    is kept as it is, so its corpus hash, and every key, stays."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _timestamp_text(value: Any) -> str:
    """A timestamp as text; a year written as a float (2018.0, a column with a gap read through
    a float type) is the year."""
    return "" if is_missing(value) else level_text(value)


def _label_text(value: Any) -> str:
    """A label as text, one text per number: JSON's 1 and 1.0 (a column exported through a
    float type) are one class, not two; and "news " is "news" (else a trailing space makes a
    class of its own, silently: F1 0.202 → 0.107 with every second label so written)."""
    if is_missing(value):
        return ""
    return level_text(value.strip() if isinstance(value, str) else value)


def level_text(value: Any) -> str:
    """A class label or a category's level as text: a number is one level however it is
    written (1, 1.0 and "1" are all "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+\.0*", value):
        return value.split(".", 1)[0]
    return str(value)


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")  # pandas' missing markers


def is_nested(value: Any) -> bool:
    return isinstance(value, (dict, list, tuple)) or type(value).__name__ == "ndarray"


def _check_labels(values: list[Any], field: str, where: str) -> None:
    """One class per document: read as text, a list or an object would be a class of its own,
    and a multi-label corpus would be scored, silently, against classes made of label
    combinations."""
    nested = sum(1 for v in values if is_nested(v))  # counted, never shown: no file content
    if nested:
        raise DataError(f"{where}: dataset.label_field '{field}': {nested} of {len(values)} "
                        "records hold a list or an object; a label is one class per document "
                        "(a text or a number): name a field that holds one, or, for documents "
                        "with several labels, keep one label each (ARI, NMI and F1 compare "
                        "single-label partitions)")


def _check_covariates(covariates: dict[str, list[Any]], where: str) -> None:
    """Every document needs a value of each covariate (STM regresses on them)."""
    problems = []
    for i, (name, values) in enumerate(covariates.items()):
        missing = sum(1 for v in values if is_missing(v) or (isinstance(v, str) and not v.strip()))
        if missing:
            problems.append(f"{where}: dataset.covariates[{i}] '{name}': {missing} of "
                            f"{len(values)} records have no value; fill them in or drop the "
                            "covariate")
        nested = sum(1 for v in values if is_nested(v))  # a Parquet list column too
        if nested:  # else each one's text would be a level of its own
            problems.append(f"{where}: dataset.covariates[{i}] '{name}': {nested} of "
                            f"{len(values)} records hold a list or an object; a covariate is "
                            "a number, a text or true/false: name a field that holds one")
    if problems:
        raise DataError("\n".join(problems))


def _require_fields(records: list[dict[str, Any]], spec: DatasetSpec, where: str) -> None:
    names = text_fields(spec.text_field)
    wanted: dict[str, str | None] = {
        ("text_field" if len(names) == 1 else f"text_field[{i}]"): name
        for i, name in enumerate(names)}
    wanted |= {"id_field": spec.id_field, "label_field": spec.label_field,
               "timestamp_field": spec.timestamp_field}
    wanted.update({f"covariates[{i}]": c for i, c in enumerate(spec.covariates)})
    problems = []
    for role, name in wanted.items():
        if name is None:
            continue
        lacking = [r for r in records if name not in r]
        # a few records without the text are documents without text, as null ones are (said by
        # validate); a text field many records lack is a wrong name, or a file whose records
        # hold their text under other names (half under "text", half under "body")
        if lacking and not (role.startswith("text_field") and text_mostly_present(
                len(records) - len(lacking), len(records))):
            available = ", ".join(sorted(lacking[0].keys()))
            problems.append(f"{where}: dataset.{role} '{name}' is missing from {len(lacking)} "
                            f"of {len(records)} records; the first such record has the fields "
                            f"{available}{closest(name, lacking[0].keys())}"
                            f"{_hint(role, len(lacking) == len(records), _is_folder(spec.path))}")
    if problems:
        raise DataError("\n".join(problems))


TEXT_FIELD_PRESENT = 0.9  # of the records, at least, that must hold a text field


def text_mostly_present(holding: int, records: int) -> bool:
    """Whether a text field `holding` of the `records` have is the corpus's text field, the
    rest being documents without text (TEXT_FIELD_PRESENT)."""
    return holding >= TEXT_FIELD_PRESENT * records


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _hint(role: str, everywhere: bool, folder: bool) -> str:
    if role == "id_field" and everywhere:
        return ('; for a corpus without ids set "id_field": null (each record\'s number in the '
                "file is its id)")
    if role != "label_field":
        return ""
    if folder:
        return ("; in a corpus folder a file's label is the subfolder it is in, so files "
                "directly in the folder have none: move them into one, or set \"label_field\": "
                "null")
    if everywhere:
        return ('; for a corpus without labels set "label_field": null (NPMI and diversity '
                "still rank the trials)")
    return "; a record may give the label null, which leaves its document unscored"


def _check_ids(ids: list[str], spec: DatasetSpec, where: str) -> None:
    empty = [n for n, i in enumerate(ids, start=1) if not i.strip()]
    if empty:
        many = len(empty) != 1
        raise DataError(f"{where}: dataset.id_field '{spec.id_field}': {len(empty)} "
                        f"document{'s have' if many else ' has'} no id (null or empty), the "
                        f"first is the file's record {empty[0]}")
    seen: set[str] = set()
    duplicates = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if duplicates:
        shown = ", ".join(duplicates[:5])
        raise DataError(f"{where}: dataset.id_field '{spec.id_field}': ids must be unique; "
                        f"{len(duplicates)} repeat (e.g. {shown}; ids are compared as text, "
                        "so 1, 1.0 and \"1\" are one id)")
