"""Web and mail debris a bag of words may drop, and the patterns that tell a corpus holds it:
markup (HTML tags and entities, web and e-mail addresses), social mentions and reposts, quoted
reply lines and mail or news headers. Each pattern a `strip_*` setting selects is in the bag of
words' key (line_patterns): rewritten, every cached bag would miss."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuner.data.vocab import Preprocessing

# A quoted reply line, as scikit-learn's strip_newsgroup_quoting finds them ("> ...", "| ...",
# "In article <...>", "... writes:"), and a mail/news header line by its field name.
_QUOTED = re.compile(r"(writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>)")
_HEADER = re.compile(
    r"^(from|subject|organi[sz]ation|lines|reply-to|nntp-posting-host|distribution|keywords|"
    r"summary|article-i\.d\.|expires|followup-to|sender|message-id|references|date|path|"
    r"newsgroups|x-[\w-]+|in-reply-to|originator|disclaimer):", re.IGNORECASE)


def line_patterns() -> dict[str, str]:
    """What a bag's key holds for each `strip_*` setting that is on: the code it selects."""
    return {"strip_quotes": _QUOTED.pattern, "strip_headers": _HEADER.pattern,
            "strip_markup": f"{_MARKUP.pattern} ({MARKUP_READING})",
            "strip_mentions": MENTION_PATTERN}


# Web text's debris: HTML tags, web and e-mail addresses (entities are read first, html.unescape)
# An address is made of URL characters, which are ASCII: a link written against Chinese text
# ("发布http://t.cn/Rxyz为什么...") ends where they do, not at the next space, which would take
# the rest of the post with it; and no \b leads it, as a \b never matches after a Chinese
# character, so no such link would be dropped. Addresses without a scheme are a domain and a
# path (bit.ly/3xYz, pic.twitter.com/aBc). The lookbehinds keep the matching linear.
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
# The lower-case top-level domains of links without a scheme: a known few, so "Node.js/React",
# "ASP.NET/C#" or "report.pdf/2" stay text
_LINK_DOMAINS = "com|net|org|edu|gov|info|biz|io|co|ly|me|gl|gd|be|to|tv|us|uk|ca|au|de|fr|jp|cn"
_MAIL_CHARS = r"A-Za-z0-9\u00c0-\u024f._%+-"  # Latin letters, accented ones too (josé@x.com)
_MARKUP = re.compile(
    r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>"
    rf"|(?<![A-Za-z0-9])(?:https?|ftp)://{_URL_CHARS}+|(?<![A-Za-z0-9.])www\.{_URL_CHARS}+"
    rf"|(?<![A-Za-z0-9.@-])(?:[a-z0-9-]+\.)+(?:{_LINK_DOMAINS})/{_URL_CHARS}*"
    rf"|(?<![{_MAIL_CHARS}])[{_MAIL_CHARS}]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# What tells web text (the advice that suggests strip_markup): a tag of HTML itself, an
# address or an entity; a bare e-mail address (20 Newsgroups' headers) does not.
WEB_DEBRIS_PATTERN = (r"</?(?:a|p|br|div|span|img|b|i|em|strong|li|ul|ol|h[1-6]|table|tr|td"
                      r"|font|blockquote)\b[^<>]*>|(?<![A-Za-z0-9])(?:https?|ftp)://"
                      r"|(?<![A-Za-z0-9.])www\.|&(?:amp|lt|gt"
                      r"|quot|apos|nbsp|#\d+|#x[0-9a-fA-F]+);")


def led_by(pattern: str, starts: str, flags: int = 0) -> re.Pattern[str]:
    """`pattern` behind a lookahead for the characters a match of it can start with: the same
    matches, found faster. A pattern that opens with lookbehinds has Python's engine try them at
    every character; led by a character set it skips to the candidates (20ng-mini's 3.6 million
    characters: the mention search 0.45 → 0.09 s, the web-debris search 0.35 → 0.11 s, which
    every `tuner run`'s advice pays in the parent before its first trial). For a pattern that
    matches no empty string: an empty match could start anywhere."""
    return re.compile(f"(?=[{re.escape(starts)}])(?:{pattern})", flags)


WEB_DEBRIS = led_by(WEB_DEBRIS_PATTERN, "<&hfw", re.IGNORECASE)


# A social post's @handles, one or a chain of them, with the reply or repost mark before them
# (RT, 回复): @ not after a Latin letter or digit, then a name of up to 30 letters of any script,
# digits, _ or -, ended by anything else (a space, a mark, an emoji, another @: 回复@张三:,
# //@李四：, @王五#话题#, @Müller(ok)). A name followed by a domain (.com) is an e-mail address,
# kept. Chinese text does not space words, so a name written straight into the next words
# (和@李四一起吃饭。) takes them along to that mark.
_HANDLE = r"@[\w-]{1,30}(?![\w-])(?!\.[A-Za-z]{2,})"
# A repost mark left without a handle ("RT: ...", Weibo's default 转发微博) goes too: "rt" and
# 转发 are the commonest words of a repost-heavy sample, not a topic.
MENTION_PATTERN = (r"(?:(?<![A-Za-z0-9_])RT\s*|回复|(?<![A-Za-z0-9_@]))(?:" + _HANDLE + ")+"
                   r"|(?<![A-Za-z0-9_])RT\s*:|转发微博")  # in the bag's key
MENTION = led_by(MENTION_PATTERN, "@R回转")


def strip_markup(text: str) -> str:
    """`text` with HTML entities read (&amp; is &, and an entity escaped twice, as scraped posts
    have them, is read too: read once, &amp;amp; leaves "amp") and tags, web and e-mail
    addresses dropped."""
    return _MARKUP.sub(" ", html.unescape(_DOUBLE_ESCAPED.sub(r"&\1;", text)))


# An entity escaped twice, whole (its ;): &amp;amp; &amp;quot; &amp;#39; read once more. A
# second html.unescape of the whole text would also read "&amp;copy" (text about &copy) as ©.
_DOUBLE_ESCAPED = re.compile(r"&amp;(#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
MARKUP_READING = f"unescape, {_DOUBLE_ESCAPED.pattern} first"  # in the bag's key


def quoted_line(line: str) -> bool:
    """A quoted reply's line (strip_quotes drops it)."""
    return _QUOTED.search(line.lstrip(" \t")) is not None


# A mail or forum reply's quoting alone, not "said:" or "|": strip_quotes drops those too, but a
# corpus is said to quote only by these (BBC News: 23% of its articles hold a line with "said:",
# 0.2% one of these; 20 Newsgroups 52%). A subset of _QUOTED's alternatives written apart, as
# _QUOTED's pattern is in the bag of words' key: rewritten, every cached bag would miss. Both
# patterns read a whole text at once, line by line (re.M): splitting 2,000 posts into lines
# takes 90 ms before the pool can start.
_REPLY_QUOTING = re.compile(r"writes in|writes:|wrote:|^[ \t]*(?:In article|>)", re.M)
_HEADER_IN_TEXT = re.compile(_HEADER.pattern, re.M | re.IGNORECASE)


def quotes_replies(text: str) -> bool:
    """Whether `text` holds a line of a mail or forum reply's quoting."""
    return _REPLY_QUOTING.search(text) is not None


def header_line(line: str) -> bool:
    """A mail or news header's line (strip_headers drops it)."""
    return _HEADER.match(line) is not None


def mail_headers(text: str) -> set[str]:
    """The header names at the starts of `text`'s lines (from, subject ...): a corpus is said to
    hold mail headers only where a document has two or more, not for an abstract's one
    "Keywords:" line."""
    return {name.lower() for name in _HEADER_IN_TEXT.findall(text)}


def strip_boilerplate(text: str, settings: Preprocessing) -> str:
    """The text without quoted reply lines, header lines and/or markup, as the settings ask."""
    if settings.strip_markup:
        text = strip_markup(text)
    if settings.strip_mentions:
        text = MENTION.sub(" ", text)
    if not (settings.strip_quotes or settings.strip_headers):
        return text
    kept = [line for line in text.splitlines()
            if not (settings.strip_quotes and quoted_line(line))
            and not (settings.strip_headers and header_line(line))]
    return "\n".join(kept)
