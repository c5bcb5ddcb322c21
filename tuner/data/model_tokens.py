"""How many tokens an embedding model's own tokenizer makes of each document, and how many of
them it does not know: what says whether documents fit the model's window (the embedding key's
`long_documents` auto, validation's truncation advice) and whether the model reads the corpus's
language at all."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

CHARACTERS_COUNTED = 20_000  # of a longer document; its count is scaled to its length

_COUNTED: dict[tuple[str, str], list[tuple[int, int]] | None] = {}
COUNTS_KEPT = 8  # a long-lived service counts many corpora


def model_token_counts(folder: Path, texts: Sequence[str]) -> list[tuple[int, int]] | None:
    """Each text's (tokens, unknown tokens) by the model's own tokenizer, None where its folder
    has no tokenizer.json the tokenizers library reads; remembered for the process, as the
    advice and the embedding's key (long_documents auto) both count (2.7 s for the UN
    speeches on a loaded host)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    try:  # a model folder replaced under a long-lived service is counted again
        stat = (folder / "tokenizer.json").stat()
        digest.update(f"{stat.st_mtime_ns}:{stat.st_size}".encode())
    except OSError:
        pass
    memo = (str(folder), digest.hexdigest())
    if memo not in _COUNTED:
        if len(_COUNTED) >= COUNTS_KEPT:
            _COUNTED.pop(next(iter(_COUNTED)))
        _COUNTED[memo] = _token_counts(folder, texts)
    return _COUNTED[memo]


def _token_counts(folder: Path, texts: Sequence[str]) -> list[tuple[int, int]] | None:
    """One text at a time: a batch runs the tokenizers library's thread pool, after which
    every fork of this process prints a warning."""
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # noqa: BLE001 - no file, or a format this library version cannot read
        return None
    tokenizer.no_truncation()  # MiniLM's file cuts at 128: else no count exceeds 128
    tokenizer.no_padding()
    unknown = {tokenizer.token_to_id(name) for name in ("[UNK]", "<unk>", "<UNK>")} - {None}
    counts = []
    for text in texts:
        ids = tokenizer.encode(text[:CHARACTERS_COUNTED], add_special_tokens=False).ids
        scale = max(1.0, len(text) / CHARACTERS_COUNTED)
        counts.append((round(len(ids) * scale), round(sum(i in unknown for i in ids) * scale)))
    return counts if counts else None
