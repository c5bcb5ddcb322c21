"""Tokenisation, vocabulary, bag of words and NPMI co-occurrence counts, cached per corpus key."""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from tuner.data.cleaning import line_patterns, strip_boilerplate
from tuner.data.corpus import Corpus
from tuner.data.jieba_dict import dictionary_identity, loaded_jieba, with_private_cache
from tuner.data.store import (
    DAMAGED,
    file_sha256,
    json_sha256,
    key_digest,
    load_npy,
    locked,
    nearest_key_change,
    read_json,
    write_atomic,
    write_json_atomic,
)
from tuner.data.versions import installed_version
from tuner.errors import CacheError, DataError

Language = Literal["en", "zh"]
StopList = Literal["auto", "english", "mallet", "chinese", "none"]
STOP_LISTS: tuple[str, ...] = ("auto", "english", "mallet", "chinese", "none")
# An English word: a letter, then letters or digits, with apostrophes inside (o'brien, don't);
# never begun inside another word, or after an apostrophe that follows one, where "20th",
# "2nd", "we've" and "it'll" would give th, nd, ve and ll, which the vocabularies of 20
# Newsgroups, BBC and UN speeches keep. A word in quotes ('stop') is a word.
_WORD = re.compile(
    r"(?<![^\W_])(?<![^\W_]['’])[^\W\d_][^\W_]*(?:['’][^\W\d_][^\W_]*)*", re.UNICODE)
_CONTRACTION = re.compile(r"(?:n't|'ve|'ll|'re|'d|'m)$")  # function words: don't, we've, i'm
# A jieba word with a letter anywhere: 5g, 4s店, 3d, p20 (English keeps _WORD, where "2nd"
# or "3pm" would be noise); a word that must start with a letter drops 5G, in 99 of 20,000
# toutiao headlines.
_ZH_WORD = re.compile(r"[^\W_]*[^\W\d_][^\W_]*", re.UNICODE)
# A Latin word with an apostrophe in Chinese text (isn't, trump's), read as English reads it
_LATIN_CLITIC_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)+")
MAX_TOKEN_LEN = 25  # longer "words" are uuencoded or URL noise in real corpora
MALLET_LIST = Path(__file__).parent / "stopwords" / "mallet_en.txt"
CHINESE_EXTRA = Path(__file__).parent / "stopwords" / "chinese_extra.txt"
CHINESE_TRADITIONAL = Path(__file__).parent / "stopwords" / "chinese_traditional.txt"
SEGMENTERS_KEPT = 4  # jieba segmenters with user_words a process keeps (about 70 MB each)
LISTS_KEPT = 16  # word lists (extra_stopwords) whose derived sets a process keeps
SHOWN_STOP_WORDS = 20  # of extra_stopwords in a sweep run's parameter (Preprocessing.as_logged)


@dataclass(frozen=True)
class Preprocessing:
    """Tokeniser and vocabulary settings (the grid's optional `preprocessing` section).

    `stopwords`: "auto" (the default: "english" for English, "chinese" for Chinese), "english"
    (scikit-learn's list), "mallet" (Mallet's English list, as ETM uses, plus contraction
    fragments such as "don" and "ve"), "chinese" (stopwords-iso's Chinese list, 794 function
    words such as 什么, 怎么, 一个, with scikit-learn's English list for the English words
    Chinese text holds) or "none". `strip_quotes` drops quoted reply lines and `strip_headers`
    mail/news header lines before tokenising; `strip_markup` reads HTML entities as the
    characters they stand for and drops HTML tags, web addresses and e-mail addresses (which
    web text turns into the words amp, quot, nbsp, https, www and com); `strip_mentions`
    drops social posts' @handles (@user, Weibo's @用户名), names that head topics of tweets,
    with the repost mark before them (RT @user, 回复@用户名), and the marks "RT:" and 转发微博
    left without one;
    `extra_stopwords` are the corpus's own words to drop besides the list (a UN speech's
    "excellency" and "delegation"). `user_words` are words jieba keeps whole in Chinese text,
    as a jieba user dictionary does (比特币, which it otherwise cuts into 比特 and a dropped 币);
    English text does not read them.
    """

    lowercase: bool = True
    stopwords: StopList = "auto"
    min_token_len: int = 2
    min_df: int = 2
    max_df: float = 0.7  # measured on five corpora against 0.5 and 0.9, see the README
    strip_quotes: bool = False
    strip_headers: bool = False
    strip_markup: bool = False
    strip_mentions: bool = False
    extra_stopwords: tuple[str, ...] = ()
    user_words: tuple[str, ...] = ()

    def as_logged(self) -> dict[str, str]:
        """Each setting as a sweep run's parameter holds it (`preprocessing.NAME`): MLflow keeps
        6,000 characters, so extra_stopwords lists its first SHOWN_STOP_WORDS."""
        logged = {name: str(value) for name, value in asdict(self).items()}
        for name in ("extra_stopwords", "user_words"):
            words = getattr(self, name)
            shown = ",".join(words[:SHOWN_STOP_WORDS])
            logged[name] = shown if len(words) <= SHOWN_STOP_WORDS else \
                f"{shown},... ({len(words)} words)"
        return logged

    def key(self, corpus_sha256: str, language: str, vocab_size: int) -> dict[str, object]:
        """Everything a bag of words depends on: the settings and the code they select (where
        the stop list's words come from, the line patterns that strip boilerplate, jieba's
        version)."""
        settings: dict[str, object] = asdict(self)
        for name, pattern in line_patterns().items():  # only when on: keys stay valid without
            if settings[name]:
                settings[name] = pattern
            else:
                del settings[name]
        # the words they add to the stop list: only when some, so keys without them stay valid,
        # and ["the"] on the English list is no change (else it refits every trial to the same
        # scores); a word no token can equal drops nothing, so it stays out too
        added = extra_stop_words(self, language) - stop_words(self.stopwords, language) \
            - unmatchable_tokens(self, language) if self.extra_stopwords else frozenset()
        if added:
            settings["extra_stopwords"] = sorted(added)
        else:
            del settings["extra_stopwords"]
        kept_whole = segmenter_words(self, language)
        if kept_whole:  # only when some, so keys without them stay valid
            settings["user_words"] = list(kept_whole)
        else:
            del settings["user_words"]
        settings["stopwords"] = stop_list_name(self.stopwords, language)  # auto: as it resolves
        return {"kind": "bow", "corpus": corpus_sha256, "language": language,
                "vocab_size": vocab_size, **settings,
                "stop_words": _stop_list_identity(stop_list_name(self.stopwords, language)),
                **tokeniser_identity(language)}


def _settings_as_set(key: Mapping[str, Any]) -> dict[str, Any]:
    """A bag's key with each `strip_*` setting as a user sets it, not as the pattern it selects:
    "strip_mentions: (unset) -> (?:(?<![A-Za-z0-9_])RT..." reads as a regular expression where
    the user turned the setting on; a pattern of an earlier tuner is said so. Its `user_words`
    as the user set them: the key's also hold the Chinese stop words jieba would cut, kept
    whole (split_stop_words), and a stop word added read as "user_words" changed too."""
    shown = dict(key)
    for name, pattern in line_patterns().items():
        if name in shown:
            shown[name] = True if shown[name] == pattern else "true (an earlier tuner's pattern)"
        else:
            shown[name] = False
    stop = set(shown.get("extra_stopwords") or ())
    own = [w for w in shown.get("user_words") or () if w not in stop]
    if "user_words" in shown:
        shown["user_words"] = own or None
    return shown


def tokeniser_identity(language: str) -> dict[str, object]:
    """The code that cuts a text of `language` into words, as a bag of words' key holds it."""
    # jieba's dictionary, and so the words, come with its version (and its content where it
    # is not the one keyed before: jieba_dict.dictionary_identity)
    # 2: lowercased after segmenting, words that start with a digit
    # 3: English words with a clitic read as English reads them
    tokeniser = f"nfkc+regex+jieba-{installed_version('jieba')}+3" if language == "zh" \
        else "regex+clitics"
    words = {"word_pattern": _ZH_WORD.pattern, "clitics": _CONTRACTION.pattern,
             "latin_clitic_words": _LATIN_CLITIC_WORD.pattern} if language == "zh" else \
        {"word_pattern": _WORD.pattern, "clitics": _CONTRACTION.pattern}
    dictionary = dictionary_identity() if language == "zh" else {}
    return {**words, "max_token_len": MAX_TOKEN_LEN, "tokeniser": tokeniser, **unicode_tables(),
            **dictionary}


# The Unicode version of the Python every bag of words was keyed with before it was in the key
# (3.11's). Another Python's tables class other characters as letters (the word patterns' \w,
# NFKC, jieba's regexes): a Han character of Unicode 15 (CJK Extension H, U+31350 on) is a letter
# on 3.12 and nothing on 3.11, so the same corpus's words would differ under one key. Bags of words
# made on 3.11 keep their key.
KEYED_UNICODE = "14.0.0"


def unicode_tables() -> dict[str, str]:
    """The Unicode version this Python reads text with, for a bag of words' key: none where it
    is KEYED_UNICODE."""
    version = unicodedata.unidata_version
    return {} if version == KEYED_UNICODE else {"unicode": version}


def tokenize(text: str, language: str, settings: Preprocessing) -> list[str]:
    """Split one document into word tokens: regex words for English, jieba words for Chinese."""
    return tokeniser(language, settings)(text)


def tokeniser(language: str, settings: Preprocessing) -> Callable[[str], list[str]]:
    """`tokenize` for many documents: the segmenter and the stop words looked up once, so a
    pass over a corpus keeps its segmenter however many other sweeps' lists the bounded cache
    turns over meanwhile."""
    segmented = segmenting(settings) if language == "zh" else None
    stop = _dropped_words(settings.stopwords, language, settings.extra_stopwords,
                          settings.lowercase)

    def tokens(text: str) -> list[str]:
        if segmented is not None:
            # Lowercased after segmenting: jieba's dictionary spells A股, X光 and T恤 with
            # capitals, and lowercased first they come out as 股大涨, 光 and 恤.
            words = [w for w in segmented(text) if _ZH_WORD.fullmatch(w)]
            words = [w.lower() for w in words] if settings.lowercase else words
        else:
            text = strip_boilerplate(text, settings)
            words = _english_words(text.lower() if settings.lowercase else text)
        return [w for w in words
                if settings.min_token_len <= len(w) <= MAX_TOKEN_LEN and w not in stop]
    return tokens


def segmenting(settings: Preprocessing) -> Callable[[str], list[str]]:
    """Chinese text as jieba cuts it for a bag of words, every piece kept (marks and spaces
    too), before words are filtered and lower-cased: the boilerplate the settings strip
    dropped, full-width letters and digits (ＮＢＡ, ２０１８, common in Chinese text) read as
    ASCII, which jieba would split into single letters, and with the settings' user_words and
    split stop words kept whole."""
    segmenter = _segmenter(segmenter_words(settings, "zh"), settings.lowercase)

    def pieces(text: str) -> list[str]:
        normal = unicodedata.normalize("NFKC", strip_boilerplate(text, settings))
        return list(segmenter.lcut(_english_clitics_cut(normal)))
    return pieces


def chinese_word_count(text: str) -> int:
    """How many words jieba makes of `text` as `tokenize` segments it, before any word is
    dropped: what "a short text" counts in Chinese (a character is not a word)."""
    return sum(_ZH_WORD.fullmatch(w) is not None for w in
               loaded_jieba().lcut(_english_clitics_cut(unicodedata.normalize("NFKC", text))))


def _english_clitics_cut(text: str) -> str:
    """English words with an apostrophe in Chinese text as English reads them (isn't, we've
    dropped; trump's is trump): jieba splits "isn't" at its apostrophe, which makes isn, don,
    ve and ll words of a zh bag of words, 38 "don" in 2,000 HuffPost headlines."""
    if "'" not in text and "’" not in text:
        return text
    return _LATIN_CLITIC_WORD.sub(lambda found: _without_clitic(found.group()), text)


def _english_words(text: str) -> list[str]:
    """_WORD's words, contractions dropped (don't, we've: function words that no stop list
    spells) and a possessive 's cut (obama's is obama)."""
    words = _WORD.findall(text)
    if "'" not in text and "’" not in text:
        return words
    return [kept for word in words if (kept := _without_clitic(word))]


def _without_clitic(word: str) -> str:
    if "'" not in word and "’" not in word:
        return word
    word = word.replace("’", "'")
    if _CONTRACTION.search(word.lower()):
        return ""
    return word[:-2] if word.lower().endswith("'s") else word


def segmenter_words(settings: Preprocessing, language: str) -> tuple[str, ...]:
    """The words jieba keeps whole, as the text it segments writes them (NFKC, before
    lower-casing), sorted and once each: the `user_words`, and the `extra_stopwords` it would
    cut (split_stop_words); none for English text."""
    if language != "zh":
        return ()
    kept = {unicodedata.normalize("NFKC", w.strip()) for w in settings.user_words}
    split = split_stop_words(settings.extra_stopwords, settings.lowercase,
                             settings.min_token_len)
    return tuple(sorted(kept | set(split)))


@lru_cache(maxsize=LISTS_KEPT)
def split_stop_words(words: tuple[str, ...], lowercase: bool, shortest: int
                     ) -> tuple[str, ...]:
    """Those of Chinese `extra_stopwords` jieba would cut into several tokens (新浪体育讯 into
    新浪 and 体育讯, 东方IC into 东方 and ic): no token equalled them, so they dropped nothing,
    unsaid. Kept whole by the segmenter, each drops what it names. Not added: a word jieba keeps
    whole already (its frequency would change how the text around it is cut), and one no
    token can equal (新华社-记者, a mark inside: kept whole it would drop 新华社 and 记者 while
    `validate` says it drops nothing)."""
    jieba = loaded_jieba()
    unmatchable = set(_unmatchable(words, lowercase, "zh", shortest))
    normal = {unicodedata.normalize("NFKC", w.strip()) for w in words if w not in unmatchable}
    return tuple(sorted(w for w in normal
                        if jieba.re_han_default.fullmatch(w) and len(jieba.lcut(w)) > 1))


def unsegmentable_words(words: tuple[str, ...]) -> list[str]:
    """Those of `words` (user_words) jieba cannot keep whole: it segments runs of the characters
    its re_han_default spans (Chinese, Latin letters, digits and + # & . _ % -) and cuts text
    at any other, so Pokémon宝可梦 becomes pok, mon and 宝可梦."""
    pattern = loaded_jieba().re_han_default
    return [w for w in words if not pattern.fullmatch(unicodedata.normalize("NFKC", w.strip()))]


def _segmenter(words: tuple[str, ...], lowercase: bool) -> Any:
    """jieba's own segmenter, or for `words` one of its own with them added: the module's
    default is shared by every bag of words a process builds."""
    return _own_segmenter(words, lowercase) if words else loaded_jieba()


# Bounded: a grid's lists are the key, and `tuner serve` takes any list from the network. Each
# segmenter of its own is about 70 MB; unbounded, 30 requests with other user_words (refused
# later, for another field) keep 1.9 GB. Sized for the service's sweeps
# tokenising at once: each looks its segmenter up per document, and a rebuild takes 0.7 s.
@lru_cache(maxsize=SEGMENTERS_KEPT)
def _own_segmenter(words: tuple[str, ...], lowercase: bool) -> Any:
    """A segmenter with `words` added. With `lowercase`, each word in lower, upper and title
    case too, as tokens are compared: jieba reads the text before it is lower-cased, and
    "nba球星" alone leaves NBA球星 in the text split."""
    segmenter = with_private_cache(loaded_jieba().Tokenizer())
    cased = {variant for word in words for variant in (
        (word, word.lower(), word.upper(), word.capitalize()) if lowercase else (word,))}
    for word in sorted(cased):  # in one order: each word's suggested frequency reads the rest
        segmenter.add_word(word)  # no frequency: jieba's suggest_freq, high enough to keep it
    return segmenter


@lru_cache(maxsize=LISTS_KEPT)
def _dropped_words(stop_list: str, language: str, extra: tuple[str, ...], lowercase: bool
                   ) -> frozenset[str]:
    """The stop list with the extra words: joined once, not per document."""
    return stop_words(stop_list, language) | _extra_stop_words(extra, lowercase, language)


def extra_stop_words(settings: Preprocessing, language: str) -> frozenset[str]:
    """`extra_stopwords` as tokens are compared with them: lower-cased when `lowercase` is on,
    Chinese ones NFKC-normalised as Chinese text is before segmenting."""
    return _extra_stop_words(settings.extra_stopwords, settings.lowercase, language)


@lru_cache(maxsize=LISTS_KEPT)
def _extra_stop_words(words: tuple[str, ...], lowercase: bool, language: str
                      ) -> frozenset[str]:
    # read as topic words are: "Mr." is the token mr (kept as "mr.", which no token is, it
    # would drop nothing and still change the bag's key)
    return frozenset(_word_token(w, lowercase, language) for w in words)


def unmatchable_stop_words(settings: Preprocessing, language: str) -> list[str]:
    """The `extra_stopwords` no token can equal: several words (U.S.), a number, a word
    shorter than `min_token_len` or longer than the longest token kept, a word the English
    tokeniser cuts (obama's is obama) or drops (don't)."""
    return list(_unmatchable(settings.extra_stopwords, settings.lowercase, language,
                             settings.min_token_len))


def unmatchable_words(words: tuple[str, ...], settings: Preprocessing, language: str
                      ) -> list[str]:
    """Those of `words` (user_words) no token can equal, as unmatchable_stop_words says."""
    return list(_unmatchable(words, settings.lowercase, language, settings.min_token_len))


def unmatchable_tokens(settings: Preprocessing, language: str) -> frozenset[str]:
    """unmatchable_stop_words as the stop list would hold them."""
    return frozenset(_word_token(w, settings.lowercase, language)
                     for w in unmatchable_stop_words(settings, language))


@lru_cache(maxsize=LISTS_KEPT)  # every bag key asks (Preprocessing.key), up to 10,000 words
def _unmatchable(words: tuple[str, ...], lowercase: bool, language: str, shortest: int
                 ) -> tuple[str, ...]:
    pattern = _ZH_WORD if language == "zh" else _WORD
    tokens = {word: _word_token(word, lowercase, language) for word in words}
    return tuple(word for word, token in tokens.items()
                 if not shortest <= len(token) <= MAX_TOKEN_LEN
                 or not pattern.fullmatch(token)
                 or (language != "zh" and _english_words(token) != [token]))  # obama's, don't


def as_token(word: str, settings: Preprocessing, language: str) -> str:
    """A word given from outside (a stop word, another tool's topic word) as the tokeniser
    writes its tokens: lower-cased when `lowercase` is on, NFKC-normalised for Chinese."""
    return _as_token(word, settings.lowercase, language)


_WORD_MARKS = "\"'“”‘’«»()[]{}<>,.;:!?，。；：！？、（）《》【】「」"


def topic_word_token(word: str, settings: Preprocessing, language: str) -> str:
    """Another tool's topic word as the tokeniser would read it: `as_token`, and a hashtag or a
    word in quotes, brackets or before a comma (#politics, "economy,", #话题#) as that word,
    or `tuner score` leaves hashtags out of NPMI as words the vocabulary lacks. Several words
    (U.S., New York) and C++ or C# stay as given."""
    return _word_token(word, settings.lowercase, language)


def _word_token(word: str, lowercase: bool, language: str) -> str:
    token = _as_token(word, lowercase, language)
    pattern = _ZH_WORD if language == "zh" else _WORD
    if pattern.fullmatch(token):
        return token
    inner = token[1:].removesuffix("#") if token.startswith(("#", "＃")) else token
    inner = inner.strip(_WORD_MARKS)  # "economy," and «word»; C++ and C# are not cut to c
    return inner if pattern.fullmatch(inner) else token


def _as_token(word: str, lowercase: bool, language: str) -> str:
    word = unicodedata.normalize("NFKC", word.strip()) if language == "zh" else word.strip()
    return word.lower() if lowercase else word


def stop_words(name: str, language: str) -> frozenset[str]:
    """The words of the stop list `name` picks for text in `language`."""
    return _stopwords(stop_list_name(name, language))


def _stop_list_identity(name: str) -> str:
    """The hash of the file that holds a stop list's words, read without importing the package
    that ships it (importing scikit-learn's list takes a second of every sweep's start-up), so
    an edited list is another bag of words and a release that leaves the list alone is not."""
    if name == "english":
        return _file_identity(_package_file("sklearn", "feature_extraction", "_stop_words.py"))
    if name == "chinese":
        return (_file_identity(_package_file("stopwordsiso", "stopwords-iso.json")) + "+"
                + _file_identity(CHINESE_EXTRA) + "+" + _file_identity(CHINESE_TRADITIONAL)
                + "+" + _stop_list_identity("english"))
    if name == "mallet":
        return _file_identity(MALLET_LIST)
    return name


@cache
def _package_file(package: str, *parts: str) -> Path | None:
    """A file inside an installed package, found without importing it."""
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _file_identity(path: Path | None) -> str:
    try:
        return file_sha256(path)[:16] if path is not None else "absent"
    except OSError:
        return "absent"


def stop_list_name(name: str, language: str) -> str:
    """"auto" as it resolves for `language` (its own list); any other name as it is."""
    if name == "auto":
        return "chinese" if language == "zh" else "english"
    return name


@cache
def _stopwords(name: str) -> frozenset[str]:
    if name == "chinese":
        import stopwordsiso

        return (frozenset(stopwordsiso.stopwords("zh")) | _word_list(CHINESE_EXTRA)
                | _word_list(CHINESE_TRADITIONAL) | _stopwords("english"))
    if name == "english":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        return frozenset(ENGLISH_STOP_WORDS)
    if name == "mallet":
        return _word_list(MALLET_LIST)
    return frozenset()


def _word_list(path: Path) -> frozenset[str]:
    """A word per line; lines starting with # are comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def build_vocabulary(docs: Sequence[Sequence[str]], vocab_size: int,
                     settings: Preprocessing) -> list[str]:
    """The `vocab_size` most document-frequent words with min_df <= df <= max_df * n_docs."""
    df = Counter(w for doc in docs for w in set(doc))
    return _most_frequent(df.items(), len(docs), vocab_size, settings)


def _most_frequent(df: Iterable[tuple[str, int]], n_docs: int, vocab_size: int,
                   settings: Preprocessing) -> list[str]:
    ceiling = settings.max_df * n_docs
    kept = [(count, w) for w, count in df if settings.min_df <= count <= ceiling]
    kept.sort(key=lambda item: (-item[0], item[1]))
    return [w for _, w in kept[:vocab_size]]


@dataclass(frozen=True)
class TokenCounts:
    """A corpus tokenised once: every document's tokens as ids of all the words it holds (in
    order of first sight), and each word's document frequency. Vocabularies of any size and
    their bags of words are built from it, with no list of token strings per document: those
    take 120 MB for 100,000 paragraphs (4 M tokens), these ids 16 MB."""

    words: list[str]
    flat: NDArray[np.int32]
    offsets: NDArray[np.int64]
    df: NDArray[np.int64]

    def vocabulary(self, vocab_size: int, settings: Preprocessing) -> list[str]:
        """As `build_vocabulary` of the token lists."""
        return _most_frequent(zip(self.words, self.df.tolist(), strict=True),
                              len(self.offsets) - 1, vocab_size, settings)

    def kept_stream(self, vocab: list[str], key: str, settings: Preprocessing) -> BagOfWords:
        """Every token the preprocessing keeps (its stop list and df limits; no vocab_size cap),
        in text order, as ids of `vocab`, and OUTSIDE for a kept word `vocab` lacks: the windows
        of NPMI's "preprocessed" reference, which do not depend on the vocabulary's size."""
        kept = set(self.vocabulary(len(self.words), settings))
        index = {w: i for i, w in enumerate(vocab)}
        new_id = np.array([index.get(w, OUTSIDE) if w in kept else DROPPED for w in self.words],
                          dtype=np.int32)
        mapped = new_id[self.flat] if len(self.words) else np.zeros(0, dtype=np.int32)
        keep = mapped != DROPPED
        kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        return BagOfWords(vocab, mapped[keep], kept_before[self.offsets], key)

    def bag_of_words(self, vocab: list[str], key: str) -> BagOfWords:
        """As `make_bow` of the token lists."""
        index = {w: i for i, w in enumerate(self.words)}
        new_id = np.full(len(self.words), -1, dtype=np.int32)
        new_id[[index[w] for w in vocab]] = np.arange(len(vocab), dtype=np.int32)
        mapped = new_id[self.flat]
        kept = mapped >= 0
        kept_before = np.concatenate([[0], np.cumsum(kept, dtype=np.int64)])
        return BagOfWords(vocab, mapped[kept], kept_before[self.offsets], key)


STOP_CHECK_DOCUMENTS = 1000  # documents tokenised between two calls of a stop check


def count_tokens(corpus: Corpus, settings: Preprocessing,
                 stop_check: Callable[[], None] | None = None) -> TokenCounts:
    """Tokenise every document once into a `TokenCounts`, one document at a time;
    `stop_check`, called every STOP_CHECK_DOCUMENTS documents, may raise to stop."""
    index: dict[str, int] = {}
    flat, lengths, df = array("i"), array("q", [0]), array("q")
    tokens = tokeniser(corpus.language, settings)
    for number, text in enumerate(corpus.texts):
        if stop_check is not None and number % STOP_CHECK_DOCUMENTS == 0:
            stop_check()
        ids = [index.setdefault(w, len(index)) for w in tokens(text)]
        df.extend([0] * (len(index) - len(df)))
        for i in set(ids):
            df[i] += 1
        flat.extend(ids)
        lengths.append(len(ids))
    return TokenCounts(list(index), np.frombuffer(flat, dtype=np.int32),
                       np.cumsum(np.frombuffer(lengths, dtype=np.int64)),
                       np.frombuffer(df, dtype=np.int64))


@dataclass(frozen=True)
class BagOfWords:
    """In-vocabulary token streams (ids, in text order) and the vocabulary.

    `flat` holds all documents' token ids end to end; document d is flat[offsets[d]:offsets[d+1]].
    """

    vocab: list[str]
    flat: NDArray[np.int32]
    offsets: NDArray[np.int64]
    key: str

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    def doc_ids(self, d: int) -> NDArray[np.int32]:
        return self.flat[self.offsets[d]:self.offsets[d + 1]]

    def doc_tokens(self, d: int) -> list[str]:
        return [self.vocab[i] for i in self.doc_ids(d)]

    def matrix(self) -> sp.csr_matrix:
        """Documents x vocabulary counts (CSR, float32)."""
        lengths = np.diff(self.offsets)
        rows = np.repeat(np.arange(self.n_docs), lengths)
        data = np.ones(len(self.flat), dtype=np.float32)
        bow = sp.csr_matrix((data, (rows, self.flat)), shape=(self.n_docs, len(self.vocab)))
        bow.sum_duplicates()
        return bow

    def texts(self) -> list[str]:
        """Each document's in-vocabulary tokens joined by spaces (the 'preprocessed' variant)."""
        return [" ".join(self.doc_tokens(d)) for d in range(self.n_docs)]


def make_bow(tokenized: Sequence[Sequence[str]], vocab: list[str], key: str) -> BagOfWords:
    index = {w: i for i, w in enumerate(vocab)}
    ids = [[index[w] for w in doc if w in index] for doc in tokenized]
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(doc) for doc in ids])
    flat = np.fromiter((i for doc in ids for i in doc), dtype=np.int32, count=int(offsets[-1]))
    return BagOfWords(vocab, flat, offsets, key)


BOW_TOKENS = "flat.npy"  # a cached bag's tokens, memory-mapped by the workers


class BowCache:
    """Bags of words on disk under `root/bow/<digest>/`, computed once per key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "bow"

    def path_for(self, corpus: Corpus, vocab_size: int, settings: Preprocessing) -> Path:
        return self.root / key_digest(settings.key(corpus.sha256, corpus.language, vocab_size))

    def get_or_compute(self, corpus: Corpus, vocab_size: int, settings: Preprocessing,
                       tokens: Callable[[], TokenCounts] | None = None) -> BagOfWords:
        """Load the cached bag of words, or tokenise (with `tokens`, which gives this corpus's
        counts under these settings, if given: called under the lock, so that a second sweep
        waiting on it reads the first's bag instead of tokenising too)
        and build it, cache it and return it memory-mapped. A size at or above the N words the
        preprocessing leaves keeps them all: its bag is the bag of N, cached and keyed as
        vocab_size N whatever size asked for it, and found again without tokenising."""
        known = self.every_word(corpus, settings, vocab_size)
        if known is not None:
            return known
        folder = self.path_for(corpus, vocab_size, settings)
        with locked(folder):
            cached = self.load(folder)
            if cached is not None and len(cached.vocab) == vocab_size:
                return cached
            known = self.every_word(corpus, settings, vocab_size)  # found meanwhile
            if known is not None:
                return known
            if cached is not None:  # every word, kept under a larger size by an earlier tuner
                vocab, make = cached.vocab, _renamed(cached)
            else:
                counts = tokens() if tokens is not None else count_tokens(corpus, settings)
                vocab = counts.vocabulary(vocab_size, settings)
                if not vocab:
                    raise DataError(_no_vocabulary(corpus, settings, counts))
                if len(vocab) == vocab_size:
                    return self._saved(folder, corpus, vocab_size, settings,
                                       counts.bag_of_words(vocab, folder.name))
                make = partial(counts.bag_of_words, vocab)
        every = self.path_for(corpus, len(vocab), settings)  # its own lock, after the first
        with locked(every):
            bow = self.load(every) or self._saved(every, corpus, len(vocab), settings,
                                                  make(every.name))
        write_json_atomic(self._every_word_path(corpus, settings),
                          {"words": len(vocab), "sha256:vocab": json_sha256(bow.vocab)})
        return bow

    def _saved(self, folder: Path, corpus: Corpus, size: int, settings: Preprocessing,
               bow: BagOfWords) -> BagOfWords:
        """Write `bow` to `folder` (locked by the caller) and read it back."""
        self._save(folder, bow, settings.key(corpus.sha256, corpus.language, size))
        saved = self.load(folder)
        if saved is None:
            raise CacheError(f"{folder}: the bag of words just written cannot be read back")
        return saved

    def every_word(self, corpus: Corpus, settings: Preprocessing, vocab_size: int
                   ) -> BagOfWords | None:
        """The bag of every word these settings leave, if `vocab_size` is at or above their
        number, a sweep recorded it, and the bag of that many words is cached and checks out
        (a record that disagrees with the bag is passed over)."""
        found = read_json(self._every_word_path(corpus, settings)) or {}
        words = found.get("words")
        if not isinstance(words, int) or isinstance(words, bool) or not 1 <= words <= vocab_size:
            return None
        bow = self.load(self.path_for(corpus, words, settings))
        if bow is None or json_sha256(bow.vocab) != found.get("sha256:vocab"):
            return None
        return bow

    def _every_word_path(self, corpus: Corpus, settings: Preprocessing) -> Path:
        return self._every_word_file(settings.key(corpus.sha256, corpus.language, 0))

    def _every_word_file(self, key: dict[str, Any]) -> Path:
        """Where the count of every word a bag's preprocessing leaves is kept: under its key
        with any vocab_size, every size alike."""
        return self.root / f"every-word-{key_digest({**key, 'vocab_size': 0})}.json"

    def miss_reason(self, corpus: Corpus, vocab_size: int, settings: Preprocessing
                    ) -> str | None:
        """What separates this bag's key from the nearest one cached for the same corpus and
        language (nearest_key_change), or None when there is none. A folder under this key
        whose description cannot be read (a truncated meta.json) is a damaged entry too, not a
        bare "computed"."""
        folder = self.path_for(corpus, vocab_size, settings)
        if (folder / "meta.json").exists() and _meta_key(folder / "meta.json") is None:
            return DAMAGED
        as_asked = self._key_as_asked(vocab_size)
        return nearest_key_change(
            _settings_as_set(settings.key(corpus.sha256, corpus.language, vocab_size)),
            self.root.glob("*/meta.json"),
            lambda meta: _settings_as_set(key) if (key := as_asked(meta)) else None,
            ("corpus", "language"))

    def _key_as_asked(self, vocab_size: int) -> Callable[[Path], dict[str, Any] | None]:
        """A cached bag's key as a request for `vocab_size` words reads it: a bag that holds
        every word its preprocessing leaves, fewer than asked, is keyed by that count, and its
        size is no change of the user's (else a grid that asks 5,000 both times is told
        "vocab_size: 1943 -> 5000" beside the stop word it added)."""
        def read(meta: Path) -> dict[str, Any] | None:
            key = _meta_key(meta)
            size = key.get("vocab_size") if key else None
            if key is None or not isinstance(size, int) or size >= vocab_size:
                return key
            every = read_json(self._every_word_file(key))
            return {**key, "vocab_size": vocab_size} if every and every.get("words") == size \
                else key
        return read

    def load(self, folder: Path) -> BagOfWords | None:
        """The bag of words in `folder`, or None if absent or inconsistent."""
        meta = read_json(folder / "meta.json")
        if meta is None:
            return None
        try:
            if any(file_sha256(folder / name) != meta.get(f"sha256:{name}")
                   for name in (BOW_TOKENS, "offsets.npy")):
                return None  # damaged in place: recomputed, never read as it is
        except OSError:
            return None
        flat, offsets = load_npy(folder / BOW_TOKENS), load_npy(folder / "offsets.npy", mmap=False)
        if flat is None or offsets is None or len(flat) != meta.get("n_tokens") \
                or len(offsets) != meta.get("n_docs", -2) + 1:
            return None
        if json_sha256(meta.get("vocab")) != meta.get("sha256:vocab"):
            return None  # else a word changed in meta.json is served as a hit
        return BagOfWords(list(meta["vocab"]), flat, offsets, folder.name)

    def _save(self, folder: Path, bow: BagOfWords, key: dict[str, object]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / BOW_TOKENS, lambda p: _save_npy(p, bow.flat))
        write_atomic(folder / "offsets.npy", lambda p: _save_npy(p, bow.offsets))
        write_json_atomic(folder / "meta.json", {
            "key": key, "vocab": bow.vocab, "sha256:vocab": json_sha256(bow.vocab),
            "n_docs": bow.n_docs, "n_tokens": len(bow.flat),
            **{f"sha256:{name}": file_sha256(folder / name)
               for name in (BOW_TOKENS, "offsets.npy")}})


def _meta_key(path: Path) -> dict[str, Any] | None:
    key = (read_json(path) or {}).get("key")
    return key if isinstance(key, dict) else None


def _save_npy(path: Path, array: NDArray[np.generic]) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.ascontiguousarray(array), allow_pickle=False)


def _renamed(bow: BagOfWords) -> Callable[[str], BagOfWords]:
    """`bow` under another folder name (its key)."""
    return lambda key: BagOfWords(bow.vocab, bow.flat, bow.offsets, key)


def _no_vocabulary(corpus: Corpus, settings: Preprocessing, counts: TokenCounts) -> str:
    """Why no word is left: the tokeniser and stop list (not the df filters, at their
    loosest, for a corpus of emoji and function words that tokenising leaves empty), or the
    filters."""
    if not counts.words:
        return _no_word_left(corpus, settings)
    return (f"{corpus.source}: no word passes the vocabulary filters "
            f"(min_df={settings.min_df}, max_df={settings.max_df})")


def _no_word_left(corpus: Corpus, settings: Preprocessing) -> str:
    return (f"{corpus.source}: no document holds a word once tokenised as "
            f"{corpus.language} and the stop list '{settings.stopwords}' removed "
            f"(words of {settings.min_token_len} or more letters; numbers, punctuation "
            "and symbols are not words); check dataset.text_field and dataset.language")


def check_some_word(corpus: Corpus, settings: Preprocessing) -> None:
    """Refuse a corpus no document of which keeps a word, as the sweep's bag of words would:
    else `tuner validate` says valid what `tuner run` refuses. A corpus with words is read up
    to its first document that keeps one.

    Raises:
        DataError: no document keeps a word.
    """
    tokens = tokeniser(corpus.language, settings)
    if not any(tokens(text) for text in corpus.texts):
        raise DataError(_no_word_left(corpus, settings))


def tokenize_corpus(corpus: Corpus, settings: Preprocessing) -> list[list[str]]:
    tokens = tokeniser(corpus.language, settings)
    return [tokens(text) for text in corpus.texts]


OUTSIDE, DROPPED = -1, -2  # a kept word outside the vocabulary (it takes a window position)


def check_cache_writable(root: Path) -> None:
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CacheError(f"{root}: cache folder cannot be created: {err.strerror}") from err
