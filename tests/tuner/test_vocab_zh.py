"""Chinese tokenisation: jieba words, not characters; punctuation, digits and single characters
dropped; Latin words lower-cased; a bag of words of real THUCNews text holds Chinese words."""

from __future__ import annotations

import re

import pytest

from tests.conftest import dataset_path, read_jsonl
from tuner.data.vocab import Preprocessing, build_vocabulary, tokenize

HAN = re.compile(r"[\u4e00-\u9fff]+")


@pytest.fixture(scope="module")
def thucnews():
    return read_jsonl(dataset_path("thucnews-mini"))[:50]


def test_real_sentence_is_segmented_into_words():
    text = ("湖人1消息比赢球开心10倍 小拜膝伤无碍季后赛复出新浪体育讯"
            "北京时间4月12日，在和马刺的比赛中")
    tokens = tokenize(text, "zh", Preprocessing())
    assert {"湖人", "季后赛", "比赛", "马刺"} <= set(tokens)
    assert "，" not in tokens and not any(t.isdigit() for t in tokens)
    assert all(len(t) >= 2 for t in tokens)  # min_token_len drops single characters


def test_latin_words_in_chinese_text_are_lowercased():
    tokens = tokenize("新浪体育讯 NBA季后赛，湖人队 Kobe Bryant 得分！", "zh", Preprocessing())
    assert {"nba", "kobe", "bryant", "湖人队"} <= set(tokens)


def test_english_stopwords_do_not_touch_chinese(thucnews):
    with_stop = tokenize(thucnews[0]["text"], "zh", Preprocessing(stopwords="english"))
    without = tokenize(thucnews[0]["text"], "zh", Preprocessing(stopwords="none"))
    assert [t for t in with_stop if HAN.fullmatch(t)] == [t for t in without if HAN.fullmatch(t)]


def test_vocabulary_of_real_news_is_multi_character_chinese(thucnews):
    docs = [tokenize(r["text"], "zh", Preprocessing()) for r in thucnews]
    vocab = build_vocabulary(docs, 200, Preprocessing())
    chinese = [w for w in vocab if HAN.fullmatch(w)]
    assert len(chinese) >= 0.8 * len(vocab)
    assert all(len(w) >= 2 for w in chinese)
