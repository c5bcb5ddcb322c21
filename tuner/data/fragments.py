"""Words jieba cuts into pieces that the text keeps together: names and terms its dictionary
lacks. Each piece becomes a token of its own, or, one character long, is dropped, so a topic
lists 王者 and 荣耀 for 王者荣耀, or loses 汤唯 (汤 + 唯) altogether; `preprocessing.user_words`
keeps such a word whole. Found as two adjacent pieces of Han characters that each appear
beside the other in most of their uses, in varied company (a headline template repeated
word for word is no word).

Measured (`python bench/jieba_fragments.py CORPUS`, 2026-12-05, the rules below): on 3,000
random toutiao headlines, 王者荣耀 (王者 and 荣耀 together in 90% and 95% of their uses),
绝地求生 and 区块链, in 0.6 s on an idle machine (1.6 s beside a running test suite); on
1,000 THUCNews articles (a sample of 300,000 characters), 15 words in 1.3 to 1.4 s (2.3 s
beside the suite), names of people and places (汤唯, 斯塔德迈尔, 珠江新城), brands
(施华洛世奇) and terms (中外合作办学, 基准地价, 金九银十). A scratch run without the company rule
found a toutiao template's 泰山黄山 and 黄山赵本山 too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tuner.data.language import even_sample
from tuner.data.vocab import Preprocessing, segmenting

SAMPLE_CHARACTERS = 300_000  # of text segmented, spread over the corpus: 0.6 to 1.4 s
TOGETHER = 0.8  # of each piece's uses that are beside the other
LEAST_SEEN = 5  # times the pair is seen in the sample
LEAST_COMPANY = 3  # different pieces before the pair, and after it
LONGEST = 6  # characters of the word: longer pairs are phrases
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Fragments:
    """A word jieba cut in two: its pieces, how often they were seen together, and what share
    of each piece's uses that was."""

    first: str
    second: str
    together: int
    of_first: float
    of_second: float

    @property
    def word(self) -> str:
        return self.first + self.second


def cut_words(texts: Sequence[str], settings: Preprocessing) -> list[Fragments]:
    """The words jieba cuts in two in a sample of Chinese `texts`, as the bag of words' settings
    segment them (their user_words kept whole), most seen first."""
    pieces, pairs = Counter[str](), Counter[tuple[str, str]]()
    before: dict[tuple[str, str], set[str]] = {}
    after: dict[tuple[str, str], set[str]] = {}
    segmented = segmenting(settings)
    for text in _sample(texts):
        words = ["", *segmented(text), ""]
        for index in range(1, len(words) - 1):
            first, second = words[index], words[index + 1]
            if not _HAN.fullmatch(first):
                continue
            pieces[first] += 1
            if _HAN.fullmatch(second):
                pairs[first, second] += 1
                before.setdefault((first, second), set()).add(words[index - 1])
                after.setdefault((first, second), set()).add(
                    words[index + 2] if index + 2 < len(words) else "")
    found = [Fragments(a, b, n, n / pieces[a], n / pieces[b]) for (a, b), n in pairs.items()
             if n >= LEAST_SEEN and len(a + b) <= LONGEST
             and n >= TOGETHER * pieces[a] and n >= TOGETHER * pieces[b]
             and len(before[a, b]) >= LEAST_COMPANY and len(after[a, b]) >= LEAST_COMPANY]
    return sorted(found, key=lambda f: (-f.together, f.word))


def _sample(texts: Sequence[str]) -> Sequence[str]:
    """Texts spread evenly over the corpus (even_sample), about SAMPLE_CHARACTERS in all, by
    the mean length of a first even sample of 200."""
    lengths = [len(t) for t in even_sample(texts, 200)]
    mean = max(1, sum(lengths) // max(1, len(lengths)))
    return even_sample(texts, max(1, SAMPLE_CHARACTERS // mean))
