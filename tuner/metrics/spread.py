"""Background topics: topics a fit spreads over far more documents than its others.

A topic of words common to every subject (20 Newsgroups' like, just, know, think; Chinese news's
记者, 表示, 今年, 需要) holds a share of nearly every document and is the subject of none. It is
found by its spread: the share of documents in which it is above its even share (θ_dk > 1/K),
against the fit's median topic. Measured with `python bench/background_topics.py CORPUS
--topics K` (LDA, 500 iterations, seeds 42 and 43, 2026-12-04), each topic the rule names and
the widest it does not:
- 20ng-mini, K=20: "people think just does like know", "just like know time think did" and
  "edu article writes com" at 2.0 to 3.6 times the median spread (0.17, 0.20);
- BBC News, K=10: "people new like uk think work" at 2.3 and 3.5 times; the next, politics
  and economy, 1.2 to 1.4;
- 1,000 THUCNews articles, K=10: "记者 表示 今年 情况 需要 认为" at 3.5 times, and a film topic
  mixed with 知道 看到 觉得 at 2.2 and 2.8; the next 1.3 to 1.6;
- 330 UN speeches, K=12: two of diplomatic phrasing ("possible necessary based relations law")
  at 2.1 to 2.5 times; "nuclear weapons arms" 1.4;
- 3,000 HuffPost headlines and leads (K=30) and 3,000 toutiao headlines (K=15): none above 1.2.
ProdLDA's θ (a logistic normal) spreads every topic alike: none above 1.6 on 20ng-mini. Models
without θ (clustering) are not judged.

Not every wide topic is one of common words. Its words are judged by the share of documents
that hold each of its top ten words (their median) against the fit's median topic's
(`background_words`). Measured on the fits of a Chinese audit (2026-12-05, seeds 42 and 43):
- 1,000 THUCNews articles, LDA K=10 and 20: 记者 表示 今年 情况 需要 认为, 问题 需要 选择 进行 and
  中国 成为 国内 关注 at 2.1 to 2.7 times; the colloquial 知道 觉得 感觉 生活 喜欢 at 1.4 to 1.7;
  the film topic with 知道 看到 觉得 mixed in at 1.0 to 1.35 (its documents 67% 娱乐);
- 2,000 toutiao headlines, ProdLDA K=15 and 30: catch-alls of rare words (变速箱 店铺 接句 4k,
  农药 吡虫啉 c1, each in 2 to 9 documents) at 0.4 to 0.6.
So at COMMON_WORDS or more its words are common (stop words for extra_stopwords); at RARE_WORDS
or less it is a catch-all of rare words, the documents no other topic took; between, a subject
that runs through many documents, which no stop word helps."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tuner.output import TopicModelOutput

BACKGROUND_SPREAD = 0.3  # a background topic is above its even share in this share of documents
BACKGROUND_RATIO = 2.0  # ... and in this many times as many documents as the median topic
BACKGROUND_IDS = "background_topic_ids"  # extras.json: the fit's background topics, widest first
EVEN_SLACK = 1e-6  # above 1/K by more than rounding: a renormalised uniform row is 1/K + 1 ulp


def topic_spread(doc_topic: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each topic's share of the documents in which it is above its even share, 1/K, among the
    documents the fit told apart: otherwise a row left even (LDA's document with no word)
    counts for every topic at some K, where renormalising puts each entry an ulp above 1/K, and
    30% empty documents hide a topic at 2.9 times the median."""
    topics = doc_topic.shape[1]
    above = doc_topic > 1.0 / topics + EVEN_SLACK
    told = doc_topic.max(axis=1) - doc_topic.min(axis=1) > EVEN_SLACK
    if not told.any():
        return np.zeros(topics)
    return np.asarray(above[told].mean(axis=0), dtype=np.float64)


COMMON_WORDS = 1.5  # a background topic's words are common at this many times the median's
RARE_WORDS = 0.7  # ... and rare at or below this many
BACKGROUND_WORDS = "background_topic_words"  # extras.json: background topic -> its words' kind


def background_words(output: TopicModelOutput, topics: list[int], vocab: list[str],
                     holding: NDArray[np.float64], top: int = 10
                     ) -> dict[str, dict[str, float | str]]:
    """For each of `topics` (background_topic_ids): the median share of documents that hold
    each of its `top` words (`holding`: each vocabulary word's, document_shares), that share
    over the fit's median topic's, and what its words are by it ("common", "rare" or ""
    between; see the module's measurements)."""
    shares = _word_shares(output.topic_words, vocab, holding, top)
    median = float(np.median(shares)) if len(shares) else 0.0
    found: dict[str, dict[str, float | str]] = {}
    for k in topics:
        ratio = shares[k] / median if median > 0 else 1.0
        kind = "common" if ratio >= COMMON_WORDS else "rare" if ratio <= RARE_WORDS else ""
        found[str(k)] = {"words": kind, "share": round(float(shares[k]), 4),
                         "ratio": round(float(ratio), 2)}
    return found


def document_shares(vocab_size: int, flat: NDArray[np.int32], offsets: NDArray[np.int64]
                    ) -> NDArray[np.float64]:
    """Each vocabulary word's share of the documents that hold it, from a bag's tokens."""
    documents = len(offsets) - 1
    if documents <= 0:
        return np.zeros(vocab_size)
    rows = np.repeat(np.arange(documents, dtype=np.int64), np.diff(offsets))
    pairs = np.unique(rows * vocab_size + flat)  # each (document, word) once
    return np.bincount(pairs % vocab_size, minlength=vocab_size) / documents


def _word_shares(topic_words: list[list[str]], vocab: list[str], holding: NDArray[np.float64],
                 top: int) -> NDArray[np.float64]:
    """Each topic's median share of documents holding each of its `top` words."""
    index = {word: i for i, word in enumerate(vocab)}
    return np.asarray([float(np.median([holding[index[w]] for w in words[:top] if w in index]
                                       or [0.0])) for words in topic_words])


def background_topic_ids(output: TopicModelOutput) -> list[int]:
    """The fit's background topics, widest first; none without θ or with fewer than 4 topics
    (a median of three says little)."""
    if output.doc_topic is None or output.num_topics < 4:
        return []
    spread = topic_spread(output.doc_topic)
    median = float(np.median(spread))
    return [int(k) for k in np.argsort(-spread, kind="stable")
            if spread[k] >= BACKGROUND_SPREAD and spread[k] >= BACKGROUND_RATIO * median]
