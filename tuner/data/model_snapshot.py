"""A served sweep's embedding model folder, copied once into the cache through checked
descriptors. transformers reads a model folder by path, file after file: checking the folder
against the server's data roots, then letting transformers read it, left a window in which a
file swapped for a link was read from outside the roots (attacker audit of 2026-12-05). Each
file is instead opened once, checked as opened (tuner.data.confine.open_checked) and copied
from that open file into a content-addressed blob; the sweep's encoder, tokenizer and fine-tuned
adapters then read the snapshot, a folder in the server's cache that no request can write, and
never the data folder again.

Layout under the cache's models/ folder:
- blobs/<sha256>: one read-only file per distinct content, shared by every snapshot;
- snapshots/<revision>/: the model's files as hard links to their blobs, named by the revision
  model_revision gives the same files in place, so a served sweep and a sweep run by hand on
  the same folder share their embeddings;
- snapshot-stamps.json: what each file opened before held (by device, inode, size and change
  times, as git's index), so a folder seen before is opened and stat'ed, not read again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath

from tuner.data.confine import MAX_MODEL_FILES, confined, open_checked
from tuner.data.store import read_hash_memo, write_hash_memo
from tuner.errors import DataError

SNAPSHOTS = Path("models") / "snapshots"
BLOBS = Path("models") / "blobs"
STAMPS = Path("models") / "snapshot-stamps.json"
CHUNK = 1 << 20


def folder_revision(contents: dict[PurePath, str]) -> str:
    """A model folder's revision from each file's path in it and content id (model_revision's
    digest, shared so a snapshot is named as its source folder is known)."""
    digest = hashlib.sha256()
    for relative in sorted(contents):
        digest.update(f"{relative}:{contents[relative]}\n".encode())
    return digest.hexdigest()[:16]


def snapshot_revision(folder: Path, cache_dir: Path) -> str | None:
    """The revision of a snapshot this cache holds (its folder's name), None for any other
    folder: the snapshot's files need not be hashed again to key its embeddings."""
    store = (cache_dir / SNAPSHOTS).resolve()
    return folder.name if folder.resolve().parent == store and \
        not folder.name.startswith(".") else None


def snapshot_model(folder: Path, roots: Sequence[Path], cache_dir: Path, field: str) -> Path:
    """The snapshot of model folder `folder` (under one of `roots`, resolved folders) in
    `cache_dir`, taken now: every file read through a descriptor checked under the roots.

    Raises:
        DataError: the folder, or a file in it, leads outside the roots, is no regular file or
            cannot be read; the message names the folder as the grid gave it and the file's
            place in it, never a link's target. Nothing of it was read.
    """
    source = confined(folder, [str(root) for root in roots], field, MAX_MODEL_FILES)
    stamps = read_hash_memo(cache_dir / STAMPS)
    contents: dict[PurePath, str] = {}
    for relative in _model_files(source):
        contents[relative] = _blob_of(source / relative, roots, cache_dir / BLOBS, stamps,
                                      f"{folder}: {field}: {relative}")
    write_hash_memo(cache_dir / STAMPS, stamps)
    return _linked_snapshot(contents, cache_dir)


def _model_files(source: Path) -> Iterator[PurePath]:
    """The folder's files as model_revision counts them (hidden ones are bookkeeping: .git/,
    huggingface's .cache/), by their path inside it; links to folders are followed (a loop
    ends at the model-file cap)."""
    count = 0
    for parent, folders, files in os.walk(source, followlinks=True):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            count += 1
            if count > MAX_MODEL_FILES:
                raise DataError(f"{source.name}: holds more than {MAX_MODEL_FILES:,} files, "
                                "which is not a model folder")
            if not name.startswith("."):
                yield PurePath(parent, name).relative_to(source)


def _stamp(stat: os.stat_result) -> str:
    return f"{stat.st_dev}|{stat.st_ino}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ctime_ns}"


def _blob_of(path: Path, roots: Sequence[Path], blobs: Path, stamps: dict[str, str],
             named: str) -> str:
    """The sha256 of the file at `path` as opened and checked now, with its content in
    blobs/<sha256>: copied from the open file unless the same file (by its stamp) was copied
    before and its blob is still there."""
    descriptor = open_checked(path, roots, named, "copy the file itself in its place")
    try:
        before = os.fstat(descriptor)
        known = stamps.get(_stamp(before))
        if known is not None and _blob_holds(blobs / known, before.st_size):
            return known
        content = _copied_blob(descriptor, blobs, named)
        if _stamp(os.fstat(descriptor)) == _stamp(before):  # not written to while copied
            stamps[_stamp(before)] = content
        return content
    finally:
        os.close(descriptor)


def _blob_holds(blob: Path, size: int) -> bool:
    try:
        return blob.stat().st_size == size
    except OSError:
        return False


def _copied_blob(descriptor: int, blobs: Path, named: str) -> str:
    """The open file copied into `blobs` under its content's sha256, which is returned; the
    hash is of the bytes copied, whatever is written to the file meanwhile."""
    blobs.mkdir(parents=True, exist_ok=True)
    partial = blobs / f".partial-{os.getpid()}-{secrets.token_hex(4)}"
    digest = hashlib.sha256()
    try:
        with os.fdopen(os.dup(descriptor), "rb") as reader, partial.open("wb") as writer:
            reader.seek(0)
            for chunk in iter(lambda: reader.read(CHUNK), b""):
                digest.update(chunk)
                writer.write(chunk)
        partial.chmod(0o444)  # a snapshot's file is never written in place
        os.replace(partial, blobs / digest.hexdigest())
    except OSError as err:
        raise DataError(f"{named} cannot be copied into the cache "
                        f"({err.strerror or type(err).__name__})") from None
    finally:
        partial.unlink(missing_ok=True)
    return digest.hexdigest()


def _linked_snapshot(contents: dict[PurePath, str], cache_dir: Path) -> Path:
    """snapshots/<revision>, made of hard links to the blobs (copies where the file system
    has none) in a staging folder renamed into place, so a snapshot is whole or absent."""
    store = cache_dir / SNAPSHOTS
    final = store / folder_revision(contents)
    if final.is_dir():
        return final
    staging = store / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        staging.mkdir(parents=True)
        for relative, content in contents.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(cache_dir / BLOBS / content, target)
        with contextlib.suppress(OSError):  # another sweep renamed the same snapshot first
            staging.rename(final)
    except OSError as err:
        raise DataError(f"the embedding model cannot be copied into the cache folder "
                        f"{cache_dir} ({err.strerror or type(err).__name__})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not final.is_dir():
        raise DataError(f"the embedding model cannot be copied into the cache folder {cache_dir}")
    return final


def _link_or_copy(blob: Path, target: Path) -> None:
    try:
        os.link(blob, target)
    except OSError:
        shutil.copyfile(blob, target)
