"""jieba as tuner loads it: its prefix dictionary cached where only this user writes, under a
name that its dictionary's content gives, and that content in the bag of words' key.

jieba caches the prefix dictionary it builds from its dict.txt in `$TMPDIR/jieba.cache` and, for
its default dictionary, loads that file whatever wrote it: another jieba version's cache, or
one built with other words, segmented a corpus otherwise under the same bag key (content audit
of 2026-12-05: ARI 0.589 and 0.556 for one key and seed on thucnews-mini).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
import threading
from functools import cache
from pathlib import Path
from typing import Any

# The sha256 of jieba 0.42.1's dict.txt, with which every Chinese bag of words was keyed before
# the dictionary's content was in the key: another dictionary adds its digest to the key, so
# the bags made with this one keep theirs.
KEYED_DICTIONARY = "7197c3211ddd98962b036cdf40324d1ea2bfaa12bd028e68faa70111a88e12a8"


_SETTING_UP = threading.Lock()  # `tuner serve` tokenises in threads


@cache
def loaded_jieba() -> Any:
    """jieba, its default segmenter's cache private (with_private_cache) and its logger left to
    the application's logging: jieba gives it a stderr handler of its own at DEBUG, so its
    dictionary-loading lines print twice (once through the root logger) even under
    `tuner --quiet`."""
    with _SETTING_UP:
        import jieba

        for handler in list(jieba.default_logger.handlers):
            jieba.default_logger.removeHandler(handler)
        jieba.default_logger.setLevel(logging.NOTSET)
        if not jieba.dt.initialized and jieba.dt.cache_file is None:
            with_private_cache(jieba.dt)
        return jieba


def with_private_cache(segmenter: Any) -> Any:
    """`segmenter` (a jieba.Tokenizer not yet initialised) with its prefix dictionary cached in
    private_folder(), named by its dictionary's digest: a cache of another dictionary has
    another name, and no other user can leave one there. Without such a folder, the dictionary
    is built in memory (about a second) and cached nowhere."""
    folder = private_folder()
    if folder is None:
        segmenter.FREQ, segmenter.total = segmenter.gen_pfdict(segmenter.get_dict_file())
        segmenter.initialized = True
        return segmenter
    segmenter.tmp_dir = folder
    segmenter.cache_file = f"jieba-{dictionary_digest()[:32]}.cache"
    return segmenter


@cache
def dictionary_digest() -> str:
    """The sha256 of the dictionary jieba segments with (its package's dict.txt)."""
    import jieba

    with jieba.get_dict_file() as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def dictionary_identity() -> dict[str, str]:
    """The dictionary as a bag of words' key holds it: nothing for KEYED_DICTIONARY."""
    digest = dictionary_digest()
    return {} if digest == KEYED_DICTIONARY else {"jieba_dictionary": digest}


@cache
def private_folder() -> str | None:
    """`$TMPDIR/tuner-jieba-<uid>`, made readable and writable by this user alone; None where
    that name is taken by anything else (a link, another user's folder, one others may write)
    or cannot be made."""
    folder = Path(tempfile.gettempdir()) / f"tuner-jieba-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        found = folder.lstat()
    except OSError:
        return None
    mine = stat.S_ISDIR(found.st_mode) and found.st_uid == os.getuid() \
        and not found.st_mode & 0o077
    return str(folder) if mine else None
