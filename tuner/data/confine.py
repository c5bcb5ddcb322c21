"""Reading only under given folders. The files an inline grid sent to `tuner serve` names must stay
under the server's data roots until the last trial has read them, not only when the POST was
validated: otherwise a ground-truth file replaced by a link after the POST is read from outside the
roots, and the document ids it holds are quoted in the trial's `tuner.error` tag. Each reader
resolves the path and checks it (`confined`), then reads the file as it opened it (`pinned`, and a
corpus folder's files likewise), never by that path again. An embedding model folder, which
transformers reads by path, is copied once through checked descriptors into the cache
(tuner.data.model_snapshot)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tuner.errors import DataError

MAX_MODEL_FILES = 10_000  # a model folder holds tens of files; more is not a model


def under(path: Path, roots: Sequence[Path]) -> bool:
    """Whether the resolved `path` is one of `roots` (resolved folders) or inside one."""
    return any(path.is_relative_to(root) for root in roots)


def leads_outside(folder: Path, roots: Sequence[Path], most: int | None = MAX_MODEL_FILES
                  ) -> bool:
    """Whether anything inside a folder resolves outside the roots: an encoder reads every file
    in a model folder (config, tokenizer, weights), and a corpus folder's files are its
    documents, not only the folder a grid names. More than `most` entries (None: no limit) is
    not a model folder either."""
    try:
        for count, entry in enumerate(folder.rglob("*")):
            if (most is not None and count >= most) or not under(entry.resolve(), roots):
                return True
    except (OSError, RuntimeError, ValueError):
        return True
    return False


def confined(path: str | Path, roots: Sequence[str], field: str,
             most_files: int | None = None) -> Path:
    """`path` resolved, to be read in its place. With `roots` (a served inline sweep's), it must
    resolve under one of them, and so must everything in it if it is a folder (of at most
    `most_files` entries: a model folder's cap; a corpus folder has none). Without roots, the
    path as given (a sweep the user runs reads what the user names).

    Raises:
        DataError: the path (or a file in the folder) now leads outside the roots; nothing was
            read from it. The message names the path it was given, never its target.
    """
    if not roots:
        return Path(path)
    folders = [Path(root) for root in roots]
    resolved = Path(path).resolve()
    if not under(resolved, folders) or (resolved.is_dir()
                                        and leads_outside(resolved, folders, most_files)):
        raise DataError(f"{path}: {field} now leads outside the server's data roots (it was "
                        "replaced after the sweep was sent); nothing was read from it. Send "
                        "the sweep again once the file is back")
    return resolved


def opened_under(descriptor: int, path: Path, roots: Sequence[Path]) -> bool:
    """Whether the open file is under a root: its path as the kernel gives it, and that path
    must name the open file itself here (a file bind-mounted in another mount namespace and
    reached through /proc/PID/root gives a path under the roots that is another file here)."""
    try:
        opened = Path(os.readlink(f"/proc/self/fd/{descriptor}"))
    except OSError:
        if sys.platform.startswith("linux"):
            return False
        opened = path.resolve()  # no /proc (macOS): where the path resolves now
    try:
        here, open_file = os.stat(opened), os.fstat(descriptor)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (open_file.st_dev, open_file.st_ino) \
        and under(opened, roots)


def open_regular(path: Path) -> int:
    """A descriptor of `path` opened for reading without blocking (a FIFO put in a file's place
    must not hang the reader), to be checked with fstat before anything is read."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))


def open_checked(path: Path, roots: Sequence[Path], named: str, remedy: str) -> int:
    """A descriptor of the regular file `path`, opened once and, with `roots`, under one of them
    as opened (opened_under); the caller reads through it and closes it.

    Raises:
        DataError: beginning with `named` (the file as the grid or folder names it, never its
            target): it cannot be opened, is no regular file (`remedy` says what to do), or now
            leads outside the roots. Nothing was read from it.
    """
    try:
        descriptor = open_regular(path)
    except OSError as err:
        raise DataError(f"{named} cannot be read ({err.strerror or type(err).__name__})") \
            from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise DataError(f"{named} is not a regular file (a FIFO, a device or a socket); "
                            f"{remedy}")
        if roots and not opened_under(descriptor, path, roots):
            raise DataError(f"{named} now leads outside the server's data roots (it was "
                            "replaced after the sweep was sent); nothing was read from it. Send "
                            "the sweep again once the file is back")
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


@contextmanager
def pinned(path: Path, roots: Sequence[Path], field: str) -> Iterator[Path]:
    """A path that reads the data file `path` as it is now, however often it is opened: with `roots`
    (resolved folders), the file is opened once, checked to be a regular file under a root as
    opened, and every later open goes through /proc/self/fd to that open file, so a file replaced by
    a link between the check and a read (a CSV is opened up to four times) is never read, as it
    would be if checked by path, then read by path. A file that cannot be opened is refused, never
    read by its path afterwards. Without roots, or where there is no /proc/self/fd, `path` itself.

    Raises:
        DataError: see open_checked.
    """
    if not roots or not sys.platform.startswith("linux"):
        yield path
        return
    descriptor = open_checked(path, roots, f"{path}: {field}", "nothing was read from it")
    try:
        yield Path(f"/proc/self/fd/{descriptor}")
    finally:
        os.close(descriptor)
