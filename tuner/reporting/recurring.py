"""Words that lead many of one fit's topics at once: they do not tell those topics from one
another. Often they are the corpus's boilerplate (20 Newsgroups' "edu" and "writes", news's
"said"), which `preprocessing.extra_stopwords` drops; sometimes a subject several topics share
("nuclear" in UN speeches), which is better kept. The report names them under the fit's topic
list and says both.

Measured on LDA fits (K=20, 300 iterations, seed 42) of six real corpora (2026-12-04): 4,000
20 Newsgroups posts gave edu in 8 of the 20 topics' top 10 words, writes, com and use in 6,
article, just, know and like in 5; 5,000 HuffPost headlines and leads said in 10, trump in 6,
people and new in 5; 2,225 BBC articles new in 6, mr and year in 5; 5,000 toutiao headlines and
1,000 THUCNews articles 中国 in 5; 330 UN speeches no word above 3. ProdLDA's fits of the same
corpora repeated no word in more than 3 topics. Following the advice (measured 2026-12-04):
on 1,500 BBC articles, LDA with new, year and people dropped went from NPMI 0.080
to 0.086 and diversity 0.826 to 0.847 (K=10, ten seeds), ARI within its seeds' spread; on the
330 UN speeches, with nuclear, global, south and weapons dropped (named under BERTopic's fit),
LDA's NPMI went from 0.041 to 0.020 at K=12 (two seeds) and BERTopic's ARI did not move. NPMI is
counted on the words each sweep's preprocessing leaves, so these pairs are indicative, not like
for like; the BBC words read as boilerplate, the UN ones as subjects."""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Mapping, Sequence

from tuner.reporting.health import counted
from tuner.reporting.plots import TOPIC_WORDS_SHOWN

TOP_WORDS = TOPIC_WORDS_SHOWN  # of each topic, as the report lists them
SHARE = 0.25  # of a fit's topics, at least MIN_TOPICS, whose top words hold a word
MIN_TOPICS = 3
SHOWN = 10


def recurring_words(topics: Mapping[str, Sequence[str]], top: int = TOP_WORDS
                    ) -> list[tuple[str, int]]:
    """The words among the `top` words of a quarter or more of the topics (and of MIN_TOPICS
    or more), with how many topics' top words hold each, most first (ties by word)."""
    counts = Counter(word for words in topics.values() for word in dict.fromkeys(words[:top]))
    least = _least(len(topics))
    return sorted(((w, n) for w, n in counts.items() if n >= least),
                  key=lambda item: (-item[1], item[0]))


def _least(topics: int) -> int:
    """How many of `topics` topics a word must lead to be named."""
    return max(MIN_TOPICS, math.ceil(SHARE * topics))


def recurring_for(topics: Mapping[str, Sequence[str]], model: str) -> list[tuple[str, int]]:
    """recurring_words of a fit of one of tuner's models; none of a model scored with `tuner
    score`, which no sweep fits again, so a stop word would change nothing of it."""
    from trainers import canonical_name

    return recurring_words(topics) if canonical_name(model) is not None else []


def recurring_html(topics: Mapping[str, Sequence[str]], model: str) -> str:
    """The line under a fit's topic list naming its shared words (RECURRING_NOTE says what they
    mean, once a page); empty when it has none."""
    found = recurring_for(topics, model)
    if not found:
        return ""
    shown = ", ".join(f"{html.escape(word)} {n}" for word, n in found[:SHOWN])
    more = len(found) - SHOWN
    shown += f" and {counted(more, 'more word')}" if more > 0 else ""
    return (f"<p><i>Shared by {_least(len(topics))} or more of its "
            f"{counted(len(topics), 'topic')}: {shown}.</i></p>")


# Said once above the topic lists when a fit's line names shared words (the same paragraph under
# each fit read four times over on the demo's page).
RECURRING_NOTE = (
    f"<p><i>Under a fit's topics, \"shared by\" names the words in the top {TOP_WORDS} of a "
    f"quarter or more of its topics (and at least {MIN_TOPICS}), with how many topics hold each. "
    "Such a word does not tell those topics from one another. Boilerplate (a signature, a "
    "headline template, a reporting verb) can be dropped with the grid's "
    "preprocessing.extra_stopwords, and the next sweep fits every trial again; the quoted "
    "replies and headers of mail and forum posts (writes, article, edu) go whole with "
    "preprocessing.strip_quotes and strip_headers. A word that names "
    "something (nuclear, a place) is more likely a subject those topics share, and better kept. "
    "In a short fit such a word can also be a frequent word not yet sorted into topics.</i></p>")
# The same for Chinese words: the English examples and the mail strips, which match no Chinese
# text, would read as advice for another corpus.
RECURRING_NOTE_ZH = (
    f"<p><i>Under a fit's topics, \"shared by\" names the words in the top {TOP_WORDS} of a "
    f"quarter or more of its topics (and at least {MIN_TOPICS}), with how many topics hold each. "
    "Such a word does not tell those topics from one another. Boilerplate (a site's name such "
    "as 新浪, a column tag such as 组图 or 导语, a byline word such as 记者) can be dropped "
    "with the grid's preprocessing.extra_stopwords, and the next sweep fits every trial again. "
    "A word that names something (中国, a place) is more likely a subject those topics share, "
    "and better kept. In a short fit such a word can also be a frequent word not yet sorted "
    "into topics.</i></p>")


def recurring_note(language: str) -> str:
    """What "shared by" means, with examples in the language the topic words are in."""
    return RECURRING_NOTE_ZH if language == "zh" else RECURRING_NOTE
