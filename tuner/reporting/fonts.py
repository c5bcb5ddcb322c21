"""The font that draws a report's topic words: matplotlib's default for English; for Chinese an
installed font with Chinese glyphs, found even when it was installed after matplotlib cached its
font list."""

from __future__ import annotations

import glob
import logging
import shutil
import subprocess
from functools import lru_cache

log = logging.getLogger(__name__)
CJK_PROBE = "主题模型中文"  # a font for zh must draw these
# Where Debian/Ubuntu, Fedora, Arch and macOS put the usual CJK fonts (fc-list finds the rest).
KNOWN_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-*.tt[cf]",
    "/usr/share/fonts/wenquanyi/*/wqy-*.tt[cf]",
    "/usr/share/fonts/opentype/noto/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/noto-cjk/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK*.tt[cf]",
    "/usr/share/fonts/truetype/arphic/*.tt[cf]",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti*.ttc",
)
FC_LIST_TIMEOUT_S = 10


def font_for(language: str) -> str | None:
    """The font family that draws `language`'s words: None (matplotlib's default) for en; for zh
    the first installed font with Chinese glyphs, or None when the machine has none."""
    return _chinese_font() if language == "zh" else None


def draws_chinese(path: str) -> bool:
    """Whether the font file at `path` has a distinct glyph for every character of CJK_PROBE."""
    from matplotlib import ft2font

    try:
        face = ft2font.FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    glyphs = [face.get_char_index(ord(ch)) for ch in CJK_PROBE]
    return all(glyphs) and len(set(glyphs)) == len(set(CJK_PROBE))  # not one fallback glyph


@lru_cache(maxsize=1)
def _chinese_font() -> str | None:
    return _listed_chinese_font() or _register_chinese_font()


def _listed_chinese_font() -> str | None:
    from matplotlib import font_manager

    for entry in sorted(font_manager.fontManager.ttflist, key=lambda e: e.name):
        if draws_chinese(entry.fname):
            return str(entry.name)
    return None


def _register_chinese_font() -> str | None:
    """Add the first CJK font file on the machine to matplotlib's font list, for this process.

    matplotlib reads its font list from a cache (fontlist-*.json) built on first use and never
    rescans, so a font installed later (scripts/install-system-deps.sh) is not in the list.
    """
    from matplotlib import font_manager

    listed = {entry.fname for entry in font_manager.fontManager.ttflist}
    for path in _cjk_font_files():
        if path in listed or not draws_chinese(path):
            continue
        font_manager.fontManager.addfont(path)
        name = font_manager.FontProperties(fname=path).get_name()
        log.info("registered %s (%s): installed after matplotlib cached its font list", name, path)
        return str(name)
    return None


def _cjk_font_files() -> list[str]:
    """Font files that claim Chinese: fontconfig's list first, then the known paths."""
    found: list[str] = []
    fc_list = shutil.which("fc-list")
    if fc_list:
        try:
            listing = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True,
                                     text=True, timeout=FC_LIST_TIMEOUT_S, check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            listing = ""
        found += sorted(line.split(":")[0].strip() for line in listing.splitlines()
                        if line.strip())
    for pattern in KNOWN_CJK_FONTS:
        found += sorted(glob.glob(pattern))
    return list(dict.fromkeys(found))
