"""Ground-truth clusterings: from the corpus's label field or a JSON {cluster: [doc ids]} file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tuner.data.confine import pinned
from tuner.data.corpus import Corpus
from tuner.data.timestamps import parse_timestamp
from tuner.errors import GroundTruthError


@dataclass(frozen=True)
class GroundTruth:
    """One integer cluster per corpus document; -1 marks a document the truth does not cover."""

    labels: NDArray[np.int64]
    names: list[str]
    source: str
    # a file's ids the corpus does not hold (a sample of a labelled dataset): left out
    outside: int = 0
    outside_examples: tuple[str, ...] = ()

    @property
    def covered(self) -> NDArray[np.bool_]:
        return self.labels >= 0

    @property
    def sha256(self) -> str:
        """The partition's digest: the same clusters in another order in the file, or under
        names that sort otherwise, are the same truth (else they change every score key and the
        sweep's context, so a re-run scores every fit again)."""
        return hashlib.sha256(first_seen_codes(self.labels).tobytes()).hexdigest()


SPLIT_NAMES = frozenset({"train", "training", "test", "testing", "dev", "development", "val",
                         "valid", "validation", "eval", "evaluation", "holdout", "heldout"})


def not_topical(labels: Iterable[str]) -> str | None:
    """What a label field's values are when they are no classes of topics: dataset splits
    (train, test) or dates (years); None otherwise, or when there are none. A corpus folder's
    labels are the folders its files are in, which in some layouts are a split's or a year's
    (unsaid, `tuner init` takes train/test as 2 classes and ranks a sweep by ARI 0.0004 against
    them). Said without the values, which are the data's."""
    values = {label for label in labels if label}
    if not values:
        return None
    if all(value.strip().casefold() in SPLIT_NAMES for value in values):
        return "the names of dataset splits (train, test, ...)"
    if all(_date_or_year(value.strip()) for value in values):
        return "dates or years"
    return None


def _date_or_year(value: str) -> bool:
    """A date with separators, or a year from 1800 to 2100: class codes such as 1001 or 2834
    (SIC) would otherwise read as years and dates too."""
    if value.isdigit():
        return len(value) == 4 and 1800 <= int(value) <= 2100
    return parse_timestamp(value) is not None


def first_seen_codes(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    """The clusters renumbered 0, 1, ... in the order of their first document; -1 kept."""
    covered = labels >= 0
    if not covered.any():
        return labels.copy()
    codes, first = np.unique(labels[covered], return_index=True)
    renumber = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
    renumber[codes[np.argsort(first)]] = np.arange(len(codes), dtype=np.int64)
    return np.where(covered, renumber[np.where(covered, labels, 0)], -1)


def ground_truth_from_labels(labels: list[str], source: str) -> GroundTruth:
    """Clusters from a label column: every distinct non-empty label is one cluster."""
    names = sorted({label for label in labels if label != ""})
    index = {name: i for i, name in enumerate(names)}
    coded = np.array([index.get(label, -1) for label in labels], dtype=np.int64)
    return GroundTruth(coded, names, source)


def as_mapping(truth: GroundTruth, doc_ids: Sequence[str]) -> dict[str, list[str]]:
    """The truth in its file's form, {cluster: [doc ids]}, clusters in `names` order and
    documents in corpus order; a document the truth does not cover is in no cluster. A sweep
    logs it, so that its report can say which labels each topic's documents carry (and a user
    can name it as a grid's `ground_truth`)."""
    mapping: dict[str, list[str]] = {name: [] for name in truth.names}
    for doc_id, code in zip(doc_ids, truth.labels.tolist(), strict=True):
        if code >= 0:
            mapping[truth.names[code]].append(str(doc_id))
    return {name: ids for name, ids in mapping.items() if ids}


def load_ground_truth(path: Path, corpus: Corpus, roots: Sequence[Path] = ()) -> GroundTruth:
    """Read a JSON object mapping cluster id to a list of document ids; check it against the
    corpus. With `roots` (a served sweep's, resolved), the file is read only as opened under
    one of them (tuner.data.confine.pinned). Ids the corpus does not hold are refused when
    none is in it (another corpus's file, or its ids spelt otherwise) or when the corpus's ids
    are its record numbers (_unrelated); otherwise they are left out and counted in `outside`,
    which `validate` says: refusing them would refuse the labels of a whole dataset beside a
    sample of it for one id."""
    mapping = _read_mapping(path, roots)
    position = {doc_id: i for i, doc_id in enumerate(corpus.ids)}
    labels = np.full(len(corpus), -1, dtype=np.int64)
    owner: dict[str, str] = {}
    unknown: list[str] = []
    twice: list[str] = []
    for cluster_index, (cluster, doc_ids) in enumerate(mapping.items()):
        for doc_id in doc_ids:
            if doc_id not in position:
                unknown.append(doc_id)
            elif doc_id in owner:
                twice.append(f"{doc_id} (in '{owner[doc_id]}' and '{cluster}')")
            else:
                owner[doc_id] = cluster
                labels[position[doc_id]] = cluster_index
    numbered = _numbered(corpus.ids)
    _raise_problems(path, corpus, unknown if _unrelated(owner, unknown, numbered) else [],
                    twice, numbered)
    return GroundTruth(labels, list(mapping.keys()), str(path), len(unknown),
                       tuple(unknown[:3]))


def _unrelated(matched: Collection[str], unknown: Sequence[str], numbered: bool) -> bool:
    """Whether ids the corpus lacks mean the file is not this corpus's: none of its ids
    matches, or the corpus's ids are its record numbers (1 to N, `id_field` null), which any
    numbered file shares: another dataset's 5,000 numbered labels beside 300 records, or this
    corpus's own numbered from 0, would match, so there any id the corpus lacks is refused."""
    return bool(unknown) and (not matched or numbered)


def _numbered(ids: Sequence[str]) -> bool:
    """Whether a corpus's ids are its record numbers, 1 to N, as `id_field` null gives them."""
    return all(doc_id == str(number) for number, doc_id in enumerate(ids, start=1))


def _where(path: Path) -> str:
    """The file and the grid field that names it: the file alone leaves the field unsaid."""
    return f"{path} (ground_truth)"


def _read_mapping(path: Path, roots: Sequence[Path] = ()) -> dict[str, list[str]]:
    if not path.is_file():
        raise GroundTruthError(f"{_where(path)}: ground-truth file not found")
    try:  # utf-8-sig: a byte order mark (Windows editors) is read as grids and corpora read it
        with pinned(path, roots, "ground_truth") as source:
            text = source.read_text(encoding="utf-8-sig")
        mapping = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GroundTruthError(f"{_where(path)}: not valid UTF-8 JSON: {err}") from err
    # A number past Python's 4,300 digits, or nesting past its recursion limit, would otherwise
    # answer 500 with a traceback (`tuner validate` would exit 1, not 2).
    except RecursionError as err:
        raise GroundTruthError(f"{_where(path)}: not usable JSON: nested too deeply") from err
    except ValueError as err:
        raise GroundTruthError(f"{_where(path)}: not usable JSON: a number has too many "
                               "digits") from err
    if not isinstance(mapping, dict) or not mapping:
        raise GroundTruthError(f"{_where(path)}: expects a non-empty JSON object "
                               "mapping cluster id to a list of document ids")
    if all(_is_id(value) for value in mapping.values()):
        return _clusters_of(mapping)
    for cluster, doc_ids in mapping.items():
        if not isinstance(doc_ids, list) or not all(_is_id(d) for d in doc_ids):
            raise GroundTruthError(f"{_where(path)}: cluster '{cluster}': expects a list of "
                                   f"document ids; got {type(doc_ids).__name__} (the file maps "
                                   "each cluster to its documents' ids, {\"sport\": [\"d1\", "
                                   "\"d7\"]}, or each document's id to its cluster, {\"d1\": "
                                   "\"sport\"})")
    return {str(k): [str(d) for d in v] for k, v in mapping.items()}


def _is_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def _clusters_of(labels: dict[str, Any]) -> dict[str, list[str]]:
    """{document id: cluster} as {cluster: [document ids]}, clusters in first-seen order: the
    shape most label exports have, which the check of lists alone refuses as "expects a list
    of document ids; got str"."""
    clusters: dict[str, list[str]] = {}
    for doc_id, cluster in labels.items():
        clusters.setdefault(str(cluster), []).append(str(doc_id))
    return clusters


def _raise_problems(path: Path, corpus: Corpus, unknown: list[str], twice: list[str],
                    numbered: bool = False) -> None:
    problems = []
    if unknown:
        ids = "1 document id is" if len(unknown) == 1 else f"{len(unknown):,} document ids are"
        records = (f"; its records are numbered 1 to {len(corpus.ids):,} (no id_field), and a "
                   "file's ids must be those numbers" if numbered else "")
        problems.append(f"{_where(path)}: {ids} not in the corpus {corpus.source} "
                        f"(e.g. {', '.join(unknown[:3])}; the corpus's ids read as "
                        f"{', '.join(corpus.ids[:3])}{records})")
    if twice:
        are = "1 is" if len(twice) == 1 else f"{len(twice)} are"
        problems.append(f"{_where(path)}: a document may belong to one cluster only; {are} in "
                        f"more than one (e.g. {'; '.join(twice[:3])})")
    if problems:
        raise GroundTruthError("\n".join(problems))
