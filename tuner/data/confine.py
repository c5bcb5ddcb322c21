"""Reading only under given folders. The files an inline grid sent to `tuner serve` names must
stay under the server's data roots until the last trial has read them, not only when the POST
was validated: a ground-truth file replaced by a link after the POST was read from outside the
roots, and the document ids it held were quoted in the trial's `tuner.error` tag (audit of
2026-12-01). Each reader resolves the path, checks it, and reads what it resolved to."""

from __future__ import annotations

from collections.abc import Sequence
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


def confined_model(model: str, folder: str | Path, roots: Sequence[str]) -> Path:
    """The folder of embedding model `model` (the grid's id or path), read in its place: checked
    as `confined` does when the grid names it by path (the service makes every folder an
    inline grid names absolute); an id's folder is in the Hugging Face cache, not the data."""
    return confined(folder, roots, "embedding.model", MAX_MODEL_FILES) \
        if Path(model).is_absolute() else Path(folder)
