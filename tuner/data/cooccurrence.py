"""Word co-occurrence counts over sliding windows, the statistics NPMI reads: counted as
gensim's c_npmi counts them, and cached on disk beside their bag of words."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from tuner.data.store import locked, write_atomic
from tuner.data.vocab import BagOfWords, BowCache
from tuner.errors import CacheError

# Tokens per chunk of co-occurrence counting: its index arrays take about 40 bytes per token and
# window position (counting 4 M tokens at once peaks 340 MB above the bag of words).
COOCCURRENCE_CHUNK = 250_000

NPMI_REFERENCES = ("preprocessed", "vocabulary")  # see MetricSettings.npmi_reference
COOCCURRENCE_FILES = {"vocabulary": "cooc-gensim-w{window}.npz",
                      "preprocessed": "cooc-kept-w{window}.npz"}


@dataclass(frozen=True)
class Cooccurrence:
    """Boolean sliding-window counts: windows holding each word, and each pair of words."""

    pairs: sp.csr_matrix  # V x V, diagonal = windows holding the word
    n_windows: int
    window: int


def count_cooccurrence(bow: BagOfWords, window: int, chunk_tokens: int = COOCCURRENCE_CHUNK,
                       stop_check: Callable[[], None] | None = None) -> Cooccurrence:
    """Count how many sliding windows of `window` tokens hold each word and each pair of words
    (a shorter document is one window): the statistics of gensim's c_npmi, reproduced exactly.
    A token OUTSIDE the vocabulary (a `kept_stream`) takes its place in the windows and is not
    counted, as a word missing from gensim's topics.

    gensim updates a window's word set incrementally: sliding one step, it drops the word that
    left at the edge even when that word occurs again inside the window. So a word counts as
    present from the window where one of its occurrences enters until the window after its first
    occurrence at or past that point leaves. We count the same windows so the values match.

    Documents are counted in chunks of at most `chunk_tokens` tokens, whose counts add up;
    `stop_check`, called before each chunk, may raise to stop.
    """
    pairs = sp.csr_matrix((len(bow.vocab), len(bow.vocab)), dtype=np.int32)
    n_windows = 0
    for chunk in _document_chunks(bow, chunk_tokens):
        if stop_check is not None:
            stop_check()
        incidence, windows = _window_incidence(chunk, window)
        pairs = pairs + (incidence.T @ incidence).tocsr()
        n_windows += windows
    return Cooccurrence(pairs.tocsr(), n_windows, window)


def _document_chunks(bow: BagOfWords, tokens: int) -> Iterator[BagOfWords]:
    """Consecutive runs of whole documents of at most `tokens` tokens (or one longer document)."""
    start = 0
    while start < bow.n_docs:
        limit = bow.offsets[start] + tokens
        end = max(start + 1, int(np.searchsorted(bow.offsets, limit, side="right")) - 1)
        offsets = bow.offsets[start:end + 1]
        yield BagOfWords(bow.vocab, bow.flat[offsets[0]:offsets[-1]], offsets - offsets[0],
                         bow.key)
        start = end


def _window_incidence(bow: BagOfWords, window: int) -> tuple[sp.csr_matrix, int]:
    """Windows x vocabulary: 1 where the window holds the word (as gensim counts, see
    `count_cooccurrence`), and the number of windows."""
    lengths = np.diff(bow.offsets)
    windows_per_doc = np.maximum(lengths - window + 1, 1)
    doc_of_token = np.repeat(np.arange(bow.n_docs), lengths)
    position = np.arange(len(bow.flat)) - bow.offsets[doc_of_token]
    first = np.maximum(position - window + 1, 0)  # the window in which this occurrence enters
    last = np.minimum(_next_occurrence_at_or_after(bow, doc_of_token, position, first),
                      windows_per_doc[doc_of_token] - 1)
    window_base = np.concatenate([[0], np.cumsum(windows_per_doc)[:-1]])[doc_of_token]
    rows, cols = [], []
    words = np.asarray(bow.flat)
    counted = words >= 0
    for step in range(window):
        valid = (first + step <= last) & counted
        rows.append(window_base[valid] + first[valid] + step)
        cols.append(words[valid])
    n_windows = int(windows_per_doc.sum())
    incidence = sp.csr_matrix(
        (np.ones(sum(len(r) for r in rows), dtype=np.int32),
         (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_windows, len(bow.vocab)))
    incidence.sum_duplicates()
    incidence.data[:] = 1
    return incidence, n_windows


def _next_occurrence_at_or_after(bow: BagOfWords, doc_of_token: NDArray[np.int64],
                                 position: NDArray[np.int64],
                                 start: NDArray[np.int64]) -> NDArray[np.int64]:
    """For each token, the first position >= start holding the same word in the same document."""
    stride = int(max(np.diff(bow.offsets).max(initial=0), 1)) + 1
    # word ids shifted by one: the tokens OUTSIDE the vocabulary are a group of their own
    group = (doc_of_token.astype(np.int64) * (len(bow.vocab) + 1)
             + np.asarray(bow.flat, dtype=np.int64) + 1)
    keys = np.sort(group * stride + position)
    found = keys[np.searchsorted(keys, group * stride + start)]
    return found - group * stride


class CooccurrenceCache:
    """Co-occurrence counts on disk beside their bag of words, one file per window size."""

    def __init__(self, bow_cache: BowCache) -> None:
        self.root = bow_cache.root

    def get_or_compute(self, bow: BagOfWords, window: int, reference: str = "vocabulary",
                       kept: Callable[[], BagOfWords] | None = None,
                       stop_check: Callable[[], None] | None = None) -> Cooccurrence:
        """The counts of `bow`'s words over `reference`'s windows (NPMI_REFERENCES): the
        vocabulary's tokens, or every kept token, which `kept` makes (`TokenCounts.kept_stream`)
        when they are not on disk yet. `stop_check` may raise between chunks to stop."""
        path = self.root / bow.key / COOCCURRENCE_FILES[reference].format(window=window)
        with locked(path):
            if path.is_file():
                try:
                    return self._load(path, window)
                except Exception:  # damaged in any way (a truncated zip, a bad array): recompute
                    path.unlink(missing_ok=True)
            if reference == "vocabulary":
                counts = count_cooccurrence(bow, window, stop_check=stop_check)
            elif kept is None:
                raise CacheError(f"{path}: the co-occurrence counts over the preprocessed corpus "
                                 "are missing; the sweep's start (or `tuner precompute`) makes "
                                 "them from the corpus")
            else:
                counts = count_cooccurrence(kept(), window, stop_check=stop_check)
            write_atomic(path, lambda p: _save_cooc(p, counts))
            return counts

    @staticmethod
    def _load(path: Path, window: int) -> Cooccurrence:
        with np.load(path, allow_pickle=False) as data:
            shape = tuple(int(x) for x in data["shape"])
            pairs = sp.csr_matrix((data["data"], data["indices"], data["indptr"]), shape=shape)
            return Cooccurrence(pairs, int(data["n_windows"]), window)


def _save_cooc(path: Path, counts: Cooccurrence) -> None:
    with path.open("wb") as handle:
        np.savez(handle, data=counts.pairs.data, indices=counts.pairs.indices,
                 indptr=counts.pairs.indptr, shape=np.array(counts.pairs.shape),
                 n_windows=np.array(counts.n_windows))
