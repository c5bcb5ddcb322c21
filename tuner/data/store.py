"""Atomic, locked, sidecar-described files on disk: the mechanism under every cache."""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import logging
import os
import re
import time
import tokenize
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from tuner.errors import CacheError, shown


def json_sha256(value: Any) -> str:
    """The sha256 of a value's canonical JSON (sorted keys, no spaces, str() for the rest)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def key_digest(key: Mapping[str, Any]) -> str:
    """A short, stable digest of a cache key."""
    return json_sha256(key)[:20]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# A folder one cannot write: no permission, or a read-only file system (a `:ro` mount, which
# raises a plain OSError past a PermissionError guard alone: a traceback, exit 1).
UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})
log = logging.getLogger(__name__)
DAMAGED = "the entry cached under this key was missing or damaged"  # a miss's reason
WAIT_SAID_AFTER_S = 5.0  # a cache lock held longer by another process is said on stderr


def load_npy(path: Path, mmap: bool = True) -> Any:
    """A cached .npy array, or None if it cannot be read as one. A damaged header is parsed by
    numpy as a Python literal, and raises SyntaxError or tokenize's error, not ValueError:
    uncaught, a flipped byte of a bag of words' header fails every later run."""
    import numpy as np

    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, SyntaxError, tokenize.TokenError):
        return None


@contextmanager
def locked(path: Path, timeout: float = -1) -> Iterator[None]:
    """Hold an inter-process lock next to `path` so one process computes it while others wait.
    A cache hit takes the lock too, so a cache folder that cannot be written is a CacheError
    naming it (not a PermissionError traceback for a read-only cache)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock", timeout=timeout)
        _acquire_saying_waits(lock, timeout)
    except OSError as err:
        if err.errno not in UNWRITABLE:
            raise
        raise CacheError(f"{path.parent}: the cache folder cannot be written ({err.strerror}); "
                         "tuner writes lock files beside its caches even when it only reads "
                         "them: give it a writable --cache-dir") from err
    try:
        _remove_abandoned_writes(path)
        yield
    finally:
        lock.release()


# replace_atomically's temporary file of a write of NAME: .NAME.<12 hex digits>.tmp
_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")


def _remove_abandoned_writes(path: Path) -> None:
    """The temporary files (replace_atomically's) of writes of `path`, or of files inside the
    folder `path`, that a process killed mid-write left: the lock is held, so none is in
    progress. A SIGKILL during precompute left an 11.5 MB `.cooc-kept-w10.npz....tmp` that no
    later run removed; an embedding matrix's would be its size. A file inside the folder that
    is an entry of its own (it has its own lock file: a bag's co-occurrence counts) is its
    lock's holder's to clean: its write may be in progress under that lock."""
    try:
        siblings = [p for p in path.parent.glob(f".{glob.escape(path.name)}.*.tmp")
                    if (found := _TEMP_NAME.fullmatch(p.name)) and found["name"] == path.name]
        inside = [p for p in path.glob(".*.tmp")
                  if (found := _TEMP_NAME.fullmatch(p.name))
                  and not (path / f"{found['name']}.lock").exists()] if path.is_dir() else []
        for temp in (*siblings, *inside):
            temp.unlink(missing_ok=True)
    except OSError:  # a folder one cannot list or write: the write itself says so
        pass


@dataclass(frozen=True)
class WaitWatch:
    """Who hears of a wait on another process's cache lock (tuner serve: the sweep's status):
    `said` gets its line as it starts and None as it ends; `check` raises to give the wait up
    (the service's cancel), asked every WAIT_CHECK_S."""

    said: Callable[[str | None], None]
    check: Callable[[], None]


WAIT_CHECK_S = 1.0
_watch: ContextVar[WaitWatch | None] = ContextVar("cache_wait_watch", default=None)
_inputs_check: ContextVar[Callable[[], None] | None] = ContextVar("cache_inputs_check",
                                                                   default=None)


@contextmanager
def inputs_checked(check: Callable[[], None]) -> Iterator[None]:
    """Call `check` (it raises when the inputs changed) before any derived entry computed in
    the block is written (ArrayCache: a UMAP reduction, word vectors). A worker's mapped bag or
    embeddings written in place mid-fit fail the trial after it, and what the fit derived from
    those bytes must not stay either: every later trial would read it as a hit."""
    token = _inputs_check.set(check)
    try:
        yield
    finally:
        _inputs_check.reset(token)


def check_inputs_before_writing() -> None:
    """The block's inputs check (inputs_checked), if any."""
    check = _inputs_check.get()
    if check is not None:
        check()


@contextmanager
def waits_watched(watch: WaitWatch) -> Iterator[None]:
    """Tell `watch` of this thread's waits on cache locks while the block runs, so that a served
    sweep waiting on another sweep's embeddings says so in its status and takes its cancel
    within WAIT_CHECK_S (else it waits for the lock unsaid: 74 s measured)."""
    token = _watch.set(watch)
    try:
        yield
    finally:
        _watch.reset(token)


def _acquire_saying_waits(lock: FileLock, timeout: float) -> None:
    """Take `lock`, saying so on stderr when another process has held it for WAIT_SAID_AFTER_S:
    otherwise a sweep whose cache entry another (hung or stopped) sweep is computing waits in
    silence, and a cron job's log shows nothing until it is killed."""
    if 0 <= timeout <= WAIT_SAID_AFTER_S:
        lock.acquire()
        return
    try:
        lock.acquire(timeout=WAIT_SAID_AFTER_S)
        return
    except Timeout:
        said = (f"waiting for {lock.lock_file}: another sweep holds it while it computes that "
                "cache entry; this one goes on when it is done")
        log.warning(said)
    left = timeout - WAIT_SAID_AFTER_S if timeout > 0 else -1
    watch = _watch.get()
    if watch is None:
        lock.acquire(timeout=left)
        return
    watch.said(said)
    try:
        _acquire_checking(lock, left, watch.check)
    finally:
        watch.said(None)


def _acquire_checking(lock: FileLock, timeout: float, check: Callable[[], None]) -> None:
    """Take `lock` within `timeout` seconds (negative: no limit), calling `check` every
    WAIT_CHECK_S meanwhile."""
    deadline = time.monotonic() + timeout if timeout >= 0 else None
    while True:
        check()
        step = WAIT_CHECK_S if deadline is None else min(WAIT_CHECK_S,
                                                         max(0.0, deadline - time.monotonic()))
        try:
            lock.acquire(timeout=step)
            return
        except Timeout:
            if deadline is not None and time.monotonic() >= deadline:
                raise


def replace_atomically(path: Path, write: Callable[[Path], object],
                       staging: str | None = None) -> None:
    """Write through a new file in the same folder (named `staging`, else a hidden name), then
    rename it over `path`: never a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(staging or f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # _TEMP_NAME
    try:
        # Mode 0666 less the umask, as any new file: mkstemp's 0600 would lock out the other
        # users of a shared cache (cron on the host and the container, Dask workers on NFS).
        os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        write(temp)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def replace_text_atomically(path: Path, text: str, encoding: str = "utf-8",
                            staging: str | None = None) -> None:
    """`text` to `path`, whole or not at all (replace_atomically)."""
    replace_atomically(path, lambda temp: temp.write_text(text, encoding=encoding), staging)


def read_hash_memo(path: Path | None) -> dict[str, str]:
    """A memo of file hashes (stamp -> content id) kept in the cache; empty when there is none
    or it cannot be read (the hashes are then computed again, to the same values)."""
    if path is None:
        return {}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def write_hash_memo(path: Path, memo: Mapping[str, str]) -> None:
    """read_hash_memo's memo, replaced whole; a read-only cache keeps none."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_text_atomically(path, json.dumps(dict(memo), sort_keys=True))
    except OSError:
        pass


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """A cache file, whole or not at all (replace_atomically); a failure names the file."""
    try:
        replace_atomically(path, write)
    except OSError as err:
        raise CacheError(f"{path}: cannot write cache file (is the disk full?): "
                         f"{err.strerror or err}") from err


def write_json_atomic(path: Path, payload: Mapping[str, Any]) -> None:
    write_atomic(path, lambda temp: temp.write_text(json.dumps(payload, indent=2, sort_keys=True,
                                                               default=str), encoding="utf-8"))


def read_json(path: Path) -> dict[str, Any] | None:
    """A sidecar's content, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


SIDECARS_COMPARED = 200  # the newest cached keys a miss is explained against


def nearest_key_change(key: Mapping[str, Any], sidecars: Iterable[Path],
                       read_key: Callable[[Path], Mapping[str, Any] | None],
                       same: Sequence[str]) -> str | None:
    """Why a key missed the cache: the fields that separate it from the nearest cached key
    that agrees with it on `same` (the corpus, the model), as "field: old -> new"; that the
    entry under this very key was missing or damaged; or None when no cached key agrees (a
    corpus's first computation needs no reason). A re-run that recomputes after an
    upgrade or an edited grid says what changed instead of a bare "computed"."""
    newest = sorted(sidecars, key=_modified, reverse=True)[:SIDECARS_COMPARED]
    best: list[str] | None = None
    for sidecar in newest:
        cached = read_key(sidecar)
        if cached is None or any(cached.get(f) != key.get(f) for f in same):
            continue
        changes = [_change(name, cached.get(name), key.get(name))
                   for name in sorted(set(key) | set(cached)) if cached.get(name) != key.get(name)]
        if not changes:  # this very key: its files were missing or damaged
            return DAMAGED
        if best is None or len(changes) < len(best):
            best = changes
    return f"the cache's nearest differs in {'; '.join(best)}" if best else None


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _change(name: str, old: Any, new: Any, width: int = 40) -> str:
    """"name: old -> new", each side cut to what differs: a 113-character `libraries` value
    whose tokenizers version changed reads alike on both sides when cut to its start."""
    before, after = (_as_text(v) for v in (old, new))
    if old is not None and new is not None:
        start = _field_start(before, _common_prefix(before, after))
        end = _common_prefix(before[start:][::-1], after[start:][::-1])
        end = _field_end(before[len(before) - end:])
        before, after = (_marked(text, start, end) for text in (before, after))
    return f"{name}: {_cut(before, width)} -> {_cut(after, width)}"


def _as_text(value: Any) -> str:
    if value is None:
        return "(unset)"
    # Chinese stop words as themselves, not \u4e2d\u56fd; what could drive a terminal (C1 controls,
    # bidirectional overrides) escaped all the same
    return shown(value if isinstance(value, str) else json.dumps(value, default=str,
                                                                 ensure_ascii=False))


def _common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


_FIELD_ENDS = ";, "  # between the parts of a joined value (libraries, a JSON list)


def _field_start(text: str, shared: int) -> int:
    """Where the part holding character `shared` of `text` starts."""
    return max(text.rfind(mark, 0, shared) for mark in _FIELD_ENDS) + 1


def _field_end(suffix: str) -> int:
    """How much of a shared `suffix` follows the end of the part that differs."""
    ends = [suffix.find(mark) for mark in _FIELD_ENDS if mark in suffix]
    return len(suffix) - min(ends) if ends else 0


def _marked(text: str, start: int, end: int) -> str:
    """`text` less its first `start` and last `end` characters, each cut marked "..."."""
    middle = text[start:len(text) - end]
    return ("..." if start else "") + middle + ("..." if end else "")


def _cut(text: str, width: int) -> str:
    """`text`, or its start up to `width` with "...", cut after a whole part of a list where
    one ends past half the width (a stop-word list read `"weapo...`)."""
    if len(text) <= width:
        return text
    head = text[:width - 3]
    end = max(head.rfind(mark) for mark in _FIELD_ENDS)
    return f"{head[:end + 1] if end >= width // 2 else head}..."


_LEDGERS: list[list[float]] = []  # open `cached_work_seconds` blocks, innermost last


@contextmanager
def cached_work_seconds() -> Iterator[list[float]]:
    """Collect, in the yielded list, what each ArrayCache entry read in the block took to compute
    (a fit's UMAP reduction, its Word2Vec vectors): work a trial needed that a shared step, or
    an earlier trial, did once and its own fit time leaves out. An entry the block computes
    itself is in the block's own time, and is not noted."""
    ledger: list[float] = []
    _LEDGERS.append(ledger)
    try:
        yield ledger
    finally:
        _LEDGERS.remove(ledger)


def _note_cached_work(seconds: float) -> None:
    for ledger in _LEDGERS:
        ledger.append(seconds)


def recorded_matrix(path: Path, verify: bool = True) -> Any | None:
    """The cached matrix at `path`, memory-mapped, if it is the file its sidecar recorded: the
    same size and shape, and with `verify` the same sha256 (a file damaged in place keeps its
    size); None otherwise."""
    return _as_recorded(path, read_json(path.with_suffix(".json")), verify)


def _as_recorded(path: Path, meta: Mapping[str, Any] | None, verify: bool) -> Any | None:
    try:
        if meta is None or path.stat().st_size != meta.get("bytes"):
            return None
        if verify and file_sha256(path) != meta.get("sha256"):
            return None  # damaged in place (same size): recomputed, never read as it is
    except OSError:
        return None
    matrix = load_npy(path)
    return matrix if matrix is not None and list(matrix.shape) == meta.get("shape") else None


class ArrayCache:
    """Float matrices keyed by a JSON-able dict: `<root>/<prefix>-<digest>.npy` plus a sidecar
    holding the key, shape, size and sha256. Computed once under a lock; memory-mapped reads.
    A load under the lock always checks the sha256; `hash_on_load` says whether every other
    load does too: yes for UMAP reductions and word vectors (a few MB: milliseconds), no for
    document embeddings (hundreds of MB), whose size and shape are checked (a worker hashes
    them once when it first reads them, worker._load_embeddings). `counts_as_reused`: a load
    adds the entry's compute seconds to the trial's reused work (shared_seconds), as a UMAP
    reduction's or Word2Vec's; not a fine-tuned encoder's embeddings, read twice a fit."""

    def __init__(self, root: Path, prefix: str, hash_on_load: bool = True,
                 counts_as_reused: bool = True) -> None:
        self.root, self.prefix, self.hash_on_load = Path(root), prefix, hash_on_load
        self.counts_as_reused = counts_as_reused

    def path_for(self, key: Mapping[str, Any]) -> Path:
        return self.root / f"{self.prefix}-{key_digest(key)}.npy"

    def load(self, key: Mapping[str, Any], verify: bool | None = None) -> Any | None:
        path = self.path_for(key)
        meta = read_json(path.with_suffix(".json"))
        if meta is None or meta.get("key") != json.loads(json.dumps(key, default=str)):
            return None
        matrix = _as_recorded(path, meta, self.hash_on_load if verify is None else verify)
        if matrix is not None and self.counts_as_reused:
            _note_cached_work(float(meta.get("seconds") or 0.0))
        return matrix

    def get_or_compute(self, key: Mapping[str, Any],
                       compute: Callable[[], Any]) -> tuple[Any, bool]:
        """(matrix, whether it came from the cache); a computed matrix is returned as
        computed, in memory."""
        import numpy as np

        path = self.path_for(key)
        with locked(path):
            cached = self.load(key, verify=True)
            if cached is not None:
                return cached, True
            started = time.perf_counter()  # inside this fit's own time: not noted as reused
            matrix = np.ascontiguousarray(compute(), dtype=np.float32)
            seconds = time.perf_counter() - started
            check_inputs_before_writing()

            def write(temp: Path) -> None:
                with temp.open("wb") as handle:
                    np.save(handle, matrix, allow_pickle=False)

            write_atomic(path, write)
            write_json_atomic(path.with_suffix(".json"), {
                "key": dict(key), "shape": list(matrix.shape), "dtype": "float32",
                "bytes": path.stat().st_size, "sha256": file_sha256(path),
                "seconds": round(seconds, 3)})
        return matrix, False
