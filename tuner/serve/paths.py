"""The server's data roots: every path an inline grid names must resolve (symlinks followed)
to a file or folder under one of them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from tuner.data.confine import MAX_MODEL_FILES, leads_outside, under
from tuner.grid_sections import is_dir, is_file
from tuner.params import shown

# A Hugging Face model id: "name" or "org/name".
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?")


@dataclass(frozen=True)
class DataRoots:
    """Resolved folders an inline grid may read from."""

    roots: tuple[Path, ...]

    @classmethod
    def of(cls, folders: Iterable[Path]) -> DataRoots:
        return cls(tuple(dict.fromkeys(Path(f).resolve() for f in folders)))

    @classmethod
    def served(cls, data_roots: Iterable[Path], grids_dir: Path) -> DataRoots:
        """`tuner serve`'s roots: its --data-root folders, by default the grids folder and
        datasets/ of the working folder."""
        return cls.of(tuple(data_roots) or (grids_dir, Path("datasets")))

    @property
    def names(self) -> str:
        return ", ".join(f"{root.name}/" for root in self.roots)

    def contains(self, path: Path) -> bool:
        return under(path, self.roots)

    def shown(self, text: str) -> str:
        """`text` with each root's absolute path shortened to the root's folder name."""
        for root in sorted(self.roots, key=lambda r: len(str(r)), reverse=True):
            text = re.sub(re.escape(str(root)) + r"(/|(?![\w.-]))", f"{root.name}/", text)
        return text

    def public(self, text: str) -> str:
        """`text` as an answer may show it: roots shortened to their names, and every other
        path (from / or ~) cut to `.../` and its last part, so that the server's own folders (a
        named grid's data outside the roots, its cache) are not told to a client. An API path
        or a placeholder (`/sweeps/ID`, `/models/NAME`) is left as written."""
        return _OTHER_PATH.sub(_cut_path, self.shown(text))


# a path of two parts or more, from / or ~/ (not inside a URL or a relative path; a file: URI's
# path is one), its folders' names may hold single spaces ("Jane Doe")
# (a folder's name may hold an apostrophe and runs of spaces or tabs, "it's data", "a  b": a
# pattern that stops there shows the rest)
_NAME = r"(?:[^/\s'\"]|(?<=\w)'(?=\w))+"  # an apostrophe inside a word only: 'quoted' paths
_OTHER_PATH = re.compile(r"(?:(?<=file://)|(?<![\w.:/~-]))"
                         rf"(~?/(?:{_NAME}(?:[ \t]+{_NAME})*/)+)({_NAME})")


API_FOLDERS = ("sweeps",)  # an API path's first part, left as written
HINT_FOLDER = "models"  # the download hint's folder, /models/NAME: two parts, left as written


def _cut_path(match: re.Match[str]) -> str:
    """`.../` and the last part, unless an API path (/sweeps/ID) or the download hint's
    (/models/NAME). Not by whether the first folder exists: an answer that cut /srv/a/b but
    not /nothing/a/b would tell a client which folders the server has; nor by capitals in the
    last part, which would leave /home/alice/secret/CORPUS whole."""
    folders, last = match.group(1), match.group(2)
    parts = folders.strip("/").split("/")
    if folders.startswith("/") and (parts[0] in API_FOLDERS or parts == [HINT_FOLDER]):
        return match.group(0)
    return f".../{last}"


def contained_grid(raw: dict[str, Any], roots: DataRoots, base: Path) -> dict[str, Any]:
    """A copy of an inline grid whose `dataset.path`, `ground_truth` and path-like
    `embedding.model` are absolute paths under the data roots (relative ones resolve against
    `base`, the grids folder, as in a named grid).

    Raises:
        ApiError: 400 naming every field that leaves the roots.
    """
    from tuner.errors import ApiError

    grid: dict[str, Any] = dict(raw)
    problems: list[str] = []
    dataset = grid.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("path"), str) and dataset["path"]:
        before = len(problems)
        path = _under(roots, base, dataset["path"], "dataset.path", "file or folder", problems)
        if len(problems) == before and is_dir(Path(path)) and \
                leads_outside(Path(path), roots.roots, most=None):
            problems.append(f"grid_inline: dataset.path: {shown(dataset['path'])} holds links "
                            f"that lead outside the server's data roots ({roots.names})")
        grid["dataset"] = {**dataset, "path": path}
    if isinstance(grid.get("ground_truth"), str) and grid["ground_truth"]:
        grid["ground_truth"] = _under(roots, base, grid["ground_truth"], "ground_truth", "file",
                                      problems)
    embedding = grid.get("embedding")
    if isinstance(embedding, dict) and isinstance(embedding.get("model"), str) and \
            embedding["model"]:
        grid["embedding"] = {**embedding,
                             "model": _model(roots, base, embedding["model"], problems)}
    if problems:
        raise ApiError(HTTPStatus.BAD_REQUEST, problems[0], problems)
    return grid


def _under(roots: DataRoots, base: Path, value: str, field: str, kind: str,
           problems: list[str]) -> str:
    if unnameable := _unnameable(value):  # said as such, not as a path outside the roots
        problems.append(f"grid_inline: {field}: holds {unnameable}, which no file name can "
                        f"hold; got {shown(value)}")
        return value
    try:
        path = (base / Path(value).expanduser()).resolve()
    except (OSError, RuntimeError, ValueError):  # a NUL byte, an unknown ~user, a symlink loop
        path = None
    if path is None or not roots.contains(path):
        problems.append(f"grid_inline: {field}: must be a {kind} under the server's data roots "
                        f"({roots.names}); got {shown(value)}")
        return value
    return str(path)


def _unnameable(value: str) -> str | None:
    """What in a path's text no file name can hold, said as such: otherwise "\\ud800.jsonl" is
    answered "must be a file under the server's data roots"."""
    if "\x00" in value:
        return "a NUL byte"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (JSON's \\ud800 to \\udfff alone)"
    return None


def _model(roots: DataRoots, base: Path, value: str, problems: list[str]) -> str:
    """A model id stays as it is; anything naming a local folder must be under the roots, and
    so must everything inside it. A relative name is a folder if it is one under the roots
    against `base` (as the grid's other paths) or against the server's working folder (the
    default roots hold ./datasets); otherwise it is an id, looked up in the server's Hugging
    Face cache alone (resolve_model_path's `served`). A name that exists outside the roots is
    answered as one that exists nowhere: "must be under the data roots" for mlflow.db and "not
    in the cache" for a missing name would tell a client what the server's folder holds."""
    looks_like_path = value.startswith(("/", ".", "~")) or "\\" in value or ".." in value
    found = [folder for folder in (base, _working_folder())
             if folder is not None and _exists_under(roots, folder / value)]
    if looks_like_path or found:
        before = len(problems)
        folder = _under(roots, found[0] if found else base, value, "embedding.model", "folder",
                        problems)
        if len(problems) == before and leads_outside(Path(folder), roots.roots):
            problems.append(f"grid_inline: embedding.model: {shown(value)} holds links that lead "
                            f"outside the server's data roots ({roots.names}), or more than "
                            f"{MAX_MODEL_FILES} entries")
        return folder
    if not _MODEL_ID.fullmatch(value):
        problems.append(f"grid_inline: embedding.model: expects a Hugging Face model id "
                        f"(org/name) or a folder under the server's data roots "
                        f"({roots.names}); got {shown(value)}")
    return value


def _exists_under(roots: DataRoots, path: Path) -> bool:
    try:
        return (is_dir(path) or is_file(path)) and roots.contains(path.resolve())
    except (OSError, RuntimeError, ValueError):  # a NUL byte, a symlink loop
        return False


def _working_folder() -> Path | None:
    try:
        return Path.cwd()
    except OSError:  # removed while the server runs: nothing can be found there
        return None
