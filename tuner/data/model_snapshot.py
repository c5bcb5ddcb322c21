"""A served sweep's embedding model folder, copied once into the cache through checked
descriptors. transformers reads a model folder by path, file after file: checking the folder
against the server's data roots, then letting transformers read it, left a window in which a
file swapped for a link was read from outside the roots (attacker audit of 2026-12-05). Each
file is instead opened once, inside a folder opened without following links (os.fwalk),
checked as opened, and copied from that open file into a content-addressed blob; the sweep's
encoder, tokenizer and fine-tuned adapters then read the snapshot, a folder in the server's
cache that no request can write (the server refuses a cache under a data root), and never the
data folder again. A model's JSON files may name other files (a tokenizer config's
`fast_tokenizer_files` or string `vocab`, an adapter's base model), which transformers joins
onto the folder or opens as named: a name that leads out of the folder, and a string `vocab`
or `merges`, are left out of the snapshot's copy, which is then named by what it holds.

Layout under the cache's models/ folder:
- blobs/<sha256>: one read-only file per distinct content, shared by every snapshot;
- snapshots/<revision>/: the model's files as hard links to their blobs (copies where the
  file system has none), named by its files' revision (model_revision): for a folder of plain
  files whose JSON names nothing outside, the folder's own, so a served sweep and one run by
  hand on it share their embeddings (a folder in Hugging Face's cache layout is known there by
  its blobs' names, and embeds apart);
- snapshot-stamps.json: what each file opened before held (by device, inode, size and change
  times, as git's index), so a folder seen before is opened and stat'ed, not read again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePath, PurePosixPath
from typing import Any, BinaryIO

from tuner.data.confine import MAX_MODEL_FILES, confined, opened_under, under
from tuner.data.store import read_hash_memo, write_hash_memo
from tuner.errors import CacheError, DataError

SNAPSHOTS = Path("models") / "snapshots"
BLOBS = Path("models") / "blobs"
STAMPS = Path("models") / "snapshot-stamps.json"
STAMPS_KEPT = 20_000  # a few hundred model folders' files; older stamps are read again
CHUNK = 1 << 20
LEFT_AFTER_S = 3600  # a partial copy or staging folder untouched this long was abandoned
RACY_NS = 2_000_000_000  # a file changed within this of its copy is not remembered
FREE_MARGIN = 1 << 30  # a copy leaves at least this much of the cache's disk free
_SHA256 = re.compile(r"[0-9a-f]{64}")
# A name or path that only informs (transformers sets it itself on loading)
_INFORMATIONAL = frozenset({"_name_or_path", "name_or_path"})

log = logging.getLogger(__name__)


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
            cannot be read, or the folder holds a link to a folder or too many files; the
            message names the folder as the grid gave it and the file's place in it, never a
            link's target, and is the same whatever lies outside the roots.
        CacheError: the cache cannot hold the copy (read-only, or its disk is full).
    """
    source = confined(folder, [str(root) for root in roots], field, MAX_MODEL_FILES)
    named = f"{folder}: {field}"
    _refuse_unlike_a_model(source, named)  # a data root named as a model is not copied
    _remove_abandoned(cache_dir)
    stamps, used = read_hash_memo(cache_dir / STAMPS), dict[str, str]()
    contents = {relative: _blob_of(descriptor, cache_dir / BLOBS, stamps, used)
                for relative, descriptor in _opened_files(source, roots, named)}
    write_hash_memo(cache_dir / STAMPS, _kept(stamps, used))
    return _linked_snapshot(_without_outside_files(contents, cache_dir / BLOBS, named),
                            cache_dir)


def _opened_files(source: Path, roots: Sequence[Path], named: str
                  ) -> Iterator[tuple[PurePath, int]]:
    """Each file of the folder as model_revision counts them (hidden ones are bookkeeping:
    .git/, huggingface's .cache/), by its path inside the folder, with a descriptor checked
    under the roots that the caller reads while the iteration goes on (it is closed after).
    Folders are opened without following links: a link to a folder is refused, a folder
    swapped for a link while listed is not entered, and a file link (a Hugging Face snapshot's
    links to its blobs) is followed, then checked as opened."""
    count = 0
    for parent, folders, files, parent_fd in _walked(source, named):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in (*folders, *files):
            count += 1
            relative = PurePath(parent, name).relative_to(source)
            _check_entry(relative, Path(parent, name), parent_fd, count, roots, named)
        for name in sorted(f for f in files if not f.startswith(".")):
            relative = PurePath(parent, name).relative_to(source)
            descriptor = _open_checked_at(parent_fd, name, relative, source, roots, named)
            try:
                yield relative, descriptor
            finally:
                os.close(descriptor)


def _walked(source: Path, named: str) -> Iterator[tuple[str, list[str], list[str], int]]:
    """os.fwalk of `source`, without following links below it, each folder checked to be the
    folder its path names as opened: fwalk opens the top by its path, through every folder
    above it, so a folder above swapped for a link listed a folder outside the roots, whose
    file names the refusal then quoted (review of 2026-12-05)."""
    for parent, folders, files, parent_fd in os.fwalk(source, follow_symlinks=False):
        if not _opened_as(parent_fd, Path(parent)):
            raise DataError(f"{named}: a folder in or above it was replaced while it was read "
                            "(by a link); nothing was copied. Send the sweep again once it is "
                            "back")
        yield parent, folders, files, parent_fd


def _opened_as(descriptor: int, path: Path) -> bool:
    """Whether the open folder is the one at `path` (its path as the kernel gives it); True
    where there is no /proc (macOS), whose checks are by path alone."""
    try:
        return Path(os.readlink(f"/proc/self/fd/{descriptor}")) == path
    except OSError:
        return not sys.platform.startswith("linux")


def _refuse_unlike_a_model(source: Path, named: str) -> None:
    """A folder without config.json is no transformers model: said from the walk's names,
    before anything is copied (checked in full on the snapshot, tuner.data.embeddings)."""
    for parent, _, files, _ in _walked(source, named):
        if Path(parent) == source:
            if "config.json" not in files:
                raise DataError(f"{named}: holds no config.json, so no transformers model "
                                "(it needs config.json, a .safetensors or .bin weight file and "
                                "its tokenizer, as `hf download` writes them)")
            return


def _check_entry(relative: PurePath, path: Path, parent_fd: int, count: int,
                 roots: Sequence[Path], named: str) -> None:
    """Refuses the walk past MAX_MODEL_FILES entries, a name that holds a control character,
    and a link to a folder under the roots (copy it in its place); a link out of the roots gets
    the message every unreadable file gets, whatever it leads to (a folder or a file)."""
    if count > MAX_MODEL_FILES:
        raise DataError(f"{named}: holds more than {MAX_MODEL_FILES:,} files and folders, "
                        "which is not a model folder")
    if any(ord(c) < 32 for c in str(relative)):  # a line break would make two files' lines
        raise DataError(f"{named}: a file name holds a control character (a line break); "
                        "rename it")
    try:
        entry = os.stat(path.name, dir_fd=parent_fd, follow_symlinks=False)
    except OSError:
        return  # gone since listed: a file is then refused when opened, a folder not entered
    if not stat.S_ISLNK(entry.st_mode):
        return
    if not under(Path(os.path.realpath(path)), roots):
        raise _unreadable(named, relative)
    if _links_to_folder(path.name, parent_fd):
        raise DataError(f"{named}: {relative} is a link to a folder; copy the folder in its "
                        "place")


def _links_to_folder(name: str, parent_fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=parent_fd).st_mode)
    except OSError:
        return False


def _unreadable(named: str, relative: PurePath) -> DataError:
    return DataError(f"{named}: {relative} cannot be read as a file under the server's data "
                     "roots (removed, not a regular file, or a link that leads outside them, "
                     "perhaps replaced after the sweep was sent); nothing was read from it")


def _open_checked_at(parent_fd: int, name: str, relative: PurePath, source: Path,
                     roots: Sequence[Path], named: str) -> int:
    """A descriptor of file `name` in the open folder, refused (one message for every cause,
    so nothing is learnt of what lies outside the roots) unless it is a regular file under a
    root as opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(name, flags, dir_fd=parent_fd)
    except OSError:
        descriptor = -1
    if descriptor >= 0 and stat.S_ISREG(os.fstat(descriptor).st_mode) and \
            opened_under(descriptor, source / relative, roots):
        return descriptor
    if descriptor >= 0:
        os.close(descriptor)
    raise _unreadable(named, relative)


def _stamp(status: os.stat_result) -> str:
    return f"{status.st_dev}|{status.st_ino}|{status.st_size}|{status.st_mtime_ns}|" \
           f"{status.st_ctime_ns}"


def _blob_of(descriptor: int, blobs: Path, stamps: dict[str, str], used: dict[str, str]
             ) -> str:
    """The sha256 of the open file, with its content in blobs/<sha256>: copied from the open
    file unless the same file (by its stamp in `stamps`) was copied before and its blob is
    still whole. `used` gets the stamps this snapshot read or wrote."""
    before = os.fstat(descriptor)
    known = stamps.get(_stamp(before))
    if known is not None and _SHA256.fullmatch(known) and _blob_holds(blobs / known,
                                                                      before.st_size):
        used[_stamp(before)] = known
        return known
    stamps.pop(_stamp(before), None)  # not a whole blob named by a sha256: never trusted
    content = _copied_blob(descriptor, before.st_size, blobs)
    # not written to while copied, nor changed so lately that a write within the file
    # system's time granularity (a second on some) could keep its stamp, as git's racy check
    settled = time.time_ns() - before.st_ctime_ns > RACY_NS
    if settled and _stamp(os.fstat(descriptor)) == _stamp(before):
        used[_stamp(before)] = content
    return content


def _blob_holds(blob: Path, size: int) -> bool:
    try:
        found = os.lstat(blob)
    except OSError:
        return False
    return stat.S_ISREG(found.st_mode) and found.st_size == size


def _copied_blob(descriptor: int, size: int, blobs: Path) -> str:
    """The open file copied into `blobs` under its content's sha256, which is returned; the
    hash is of the bytes copied, whatever is written to the file meanwhile."""
    def copy(writer: BinaryIO) -> str:
        _refuse_full_disk(blobs, size)
        digest = hashlib.sha256()
        with os.fdopen(os.dup(descriptor), "rb") as reader:
            reader.seek(0)
            left = size  # a file still growing is copied as it was when opened
            while left > 0 and (chunk := reader.read(min(CHUNK, left))):
                digest.update(chunk)
                writer.write(chunk)
                left -= len(chunk)
        return digest.hexdigest()
    return _stored_blob(blobs, copy)


def _stored_blob(blobs: Path, write: Callable[[BinaryIO], str]) -> str:
    """A blob `write` writes (returning its content's sha256) into a partial file, made
    read-only (a snapshot's file is never written in place) and renamed to its hash."""
    partial = blobs / f".partial-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        blobs.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as writer:
            content = write(writer)
        partial.chmod(0o444)
        os.replace(partial, blobs / content)
    except OSError as err:
        raise CacheError(f"{blobs.parent.parent}: the embedding model cannot be copied into "
                         f"the cache folder ({err.strerror or type(err).__name__})") from None
    finally:
        partial.unlink(missing_ok=True)
    return content


def _refuse_full_disk(blobs: Path, size: int) -> None:
    free = shutil.disk_usage(blobs).free
    if free < size + FREE_MARGIN:
        raise CacheError(f"{blobs.parent.parent}: the cache folder's disk has "
                         f"{free / 2**30:.1f} GB free; the embedding model's files need "
                         f"{size / 2**30:.1f} GB more and 1 GB is kept free")


def _linked_snapshot(contents: dict[PurePath, str], cache_dir: Path) -> Path:
    """snapshots/<revision>, made of hard links to the blobs in a staging folder renamed into
    place, so a snapshot is whole or absent."""
    store = cache_dir / SNAPSHOTS
    final = store / folder_revision(contents)
    if _whole(final, contents):
        return final
    staging = store / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        staging.mkdir(parents=True)
        for relative, content in contents.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(cache_dir / BLOBS / content, target)
        if final.exists() and not _whole(final, contents):  # damaged: set aside, replaced
            final.rename(store / f".staging-{os.getpid()}-{secrets.token_hex(4)}-damaged")
        staging.rename(final)
    except OSError:
        if not _whole(final, contents):  # else another sweep renamed the same snapshot first
            raise CacheError(f"{cache_dir}: the embedding model cannot be copied into the "
                             "cache folder") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _whole(snapshot: Path, contents: dict[PurePath, str]) -> bool:
    """Whether the snapshot holds every file of `contents` and nothing else."""
    try:
        held = {p.relative_to(snapshot) for p in snapshot.rglob("*") if not p.is_dir()}
    except OSError:
        return False
    return snapshot.is_dir() and held == set(contents)


def _link_or_copy(blob: Path, target: Path) -> None:
    try:
        os.link(blob, target)
    except OSError:
        shutil.copyfile(blob, target)


# Files the tokenizers library parses itself (tokens and merges, which may hold "/" or ".."),
# never a list of other files to open
TOKEN_DATA = frozenset({"tokenizer.json", "vocab.json", "added_tokens.json"})
# A tokenizer config's `vocab` or `merges` given as a string is a file transformers opens as
# named, from the server's working folder when relative (review of 2026-12-05: "/outside" and
# ".env" were read); a folder's own vocabulary reaches the tokenizer by its file instead
OPENED_AS_NAMED = frozenset({"vocab", "merges"})
# Values that are text, not names: a token's content, a chat template
_TEXT_KEYS = frozenset({"content", "chat_template"})


def _without_outside_files(contents: dict[PurePath, str], blobs: Path, named: str
                           ) -> dict[PurePath, str]:
    """`contents` with each JSON file (but TOKEN_DATA) whose entries name a file outside the
    folder replaced by a copy without them, stored as a blob of its own: transformers joins
    a `fast_tokenizer_files` entry onto the folder, where an absolute name wins, and opens a
    string `vocab` as named (review of 2026-12-05). The snapshot is then named by what it holds,
    not by the folder's revision: its fits are not the folder's as run by hand."""
    kept = dict(contents)
    for relative, content in contents.items():
        if relative.suffix != ".json" or relative.name in TOKEN_DATA:
            continue
        text = _sanitised(blobs / content, relative, named)
        if text is not None:
            kept[relative] = _text_blob(text, blobs)
    return kept


def _sanitised(blob: Path, relative: PurePath, named: str) -> str | None:
    """The JSON file's text without its entries that name files outside the folder; None when
    it has none, or is not JSON (transformers cannot read it either)."""
    try:
        data = json.loads(blob.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    dropped: list[str] = []
    try:
        kept = _dropped_outside(data, dropped)
    except RecursionError:
        raise DataError(f"{named}: {relative} nests too deep to be checked; nothing of the "
                        "folder is used") from None
    if not dropped:
        return None
    log.warning("%s: %s: left %s out of the served copy: %s outside the model's folder, "
                "which transformers would have read", named, relative,
                ", ".join(dict.fromkeys(dropped)),
                "they name files" if len(dropped) > 1 else "it names a file")
    return json.dumps(kept, ensure_ascii=False, indent=2)


def _text_blob(text: str, blobs: Path) -> str:
    data = text.encode("utf-8")
    content = hashlib.sha256(data).hexdigest()
    if _blob_holds(blobs / content, len(data)):
        return content

    def write(writer: BinaryIO) -> str:
        writer.write(data)
        return content
    return _stored_blob(blobs, write)


def _dropped_outside(value: Any, dropped: list[str], key: str = "") -> Any:
    """`value` without the names in it that lead outside the folder (_names_outside), nor a
    string `vocab` or `merges` (OPENED_AS_NAMED); text (a token's content, a template) and
    names that only inform (`_name_or_path`) are kept. `dropped` gets the keys."""
    if isinstance(value, dict):
        kept = {}
        for name, item in value.items():
            if str(name) in _TEXT_KEYS or str(name) in _INFORMATIONAL:
                kept[name] = item
            elif isinstance(item, str) and (str(name) in OPENED_AS_NAMED
                                            or _names_outside(item)):
                dropped.append(f"'{name}'")
            else:
                kept[name] = _dropped_outside(item, dropped, str(name))
        return kept
    if isinstance(value, list):
        outside = [item for item in value if isinstance(item, str) and _names_outside(item)]
        if outside:
            dropped.append(f"'{key}'" if key else "a list's names")
        return [_dropped_outside(item, dropped, key) for item in value
                if not (isinstance(item, str) and _names_outside(item))]
    return value


def _names_outside(name: str) -> bool:
    """Whether a name leads out of the folder it is joined onto: absolute, from `~`, with a
    `..` part, or a Windows drive."""
    path = PurePosixPath(name.replace("\\", "/"))
    return name.startswith(("/", "~", "\\")) or ".." in path.parts or \
        bool(re.match(r"[A-Za-z]:", name))


def _kept(stamps: dict[str, str], used: dict[str, str]) -> dict[str, str]:
    """The memo to write: this snapshot's stamps, and earlier ones up to STAMPS_KEPT in all
    (a dropped stamp's file is read again, to the same blob)."""
    earlier = [(k, v) for k, v in stamps.items() if k not in used]
    return dict(earlier[:max(0, STAMPS_KEPT - len(used))]) | used


def _remove_abandoned(cache_dir: Path) -> None:
    """Partial blobs and staging folders a killed copy left, untouched for an hour (a copy in
    progress writes to its partial file and staging folder continually)."""
    now = time.time()
    for leftover in (*_listed(cache_dir / BLOBS, ".partial-"),
                     *_listed(cache_dir / SNAPSHOTS, ".staging-")):
        try:
            if now - leftover.lstat().st_mtime > LEFT_AFTER_S:
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
        except OSError:
            pass


def _listed(folder: Path, prefix: str) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return []
