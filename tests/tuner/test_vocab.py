"""English preprocessing options: the Mallet stop list, quoted-reply and header stripping, and
the bag-of-words cache key that keeps them apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_grid, read_jsonl, write_jsonl
from tuner.data.cleaning import strip_boilerplate
from tuner.data.vocab import Preprocessing, tokenize
from tuner.errors import GridError
from tuner.grid import load_grid

REPO = Path(__file__).resolve().parents[2]
# The first post of datasets/20ng-mini: a reply that quotes the post it answers.
REPLY = read_jsonl(REPO / "datasets" / "20ng-mini" / "corpus.jsonl")[0]["text"]


@pytest.mark.parametrize("word", ["don", "ve", "ll", "just", "like", "know", "think"])
def test_mallet_list_drops_what_sklearn_keeps(word):
    text = f"system {word} computer"
    assert word in tokenize(text, "en", Preprocessing())
    assert word not in tokenize(text, "en", Preprocessing(stopwords="mallet"))


@pytest.mark.parametrize(("text", "words"), [
    ("we've said it'll be don't isn't I'm they'd", ["said"]),
    ("the 20th, 2nd, 3rd and 1st rounds", ["rounds"]),
    ("Obama's plan and the students’ union", ["obama", "plan", "students", "union"]),
    ("O'Brien, rock'n'roll, mp3, h2o", ["o'brien", "rock'n'roll", "mp3", "h2o"]),
    ("He said 'stop' and the ‘windows’ computer", ["said", "stop", "windows", "computer"]),
])
def test_no_word_is_a_piece_of_another(text, words):
    """Words begun after a digit or an apostrophe were pieces: th of 20th, ve of we've, ll of
    it'll, don of don't, kept in the vocabularies of 20 Newsgroups, BBC and UN speeches (audit
    of 2026-12-01)."""
    assert tokenize(text, "en", Preprocessing()) == words


def test_mallet_list_keeps_topical_words_sklearn_drops():
    text = "the computer system"
    assert tokenize(text, "en", Preprocessing()) == ["computer"]
    assert tokenize(text, "en", Preprocessing(stopwords="mallet")) == ["computer", "system"]


def test_quoted_reply_lines_are_stripped():
    stripped = strip_boilerplate(REPLY, Preprocessing(strip_quotes=True))
    assert "In article" in REPLY and ">Yes." in REPLY
    assert "In article" not in stripped and "writes:" not in stripped
    assert not any(line.lstrip().startswith(">") for line in stripped.splitlines())
    assert "Take your foot out of your mouth" in stripped  # the reply's own words stay


def test_header_lines_are_stripped_but_not_the_subject_text():
    text = "Re: space shuttle\n\nFrom: someone@nasa.gov\nOrganization: NASA\nThe launch slipped."
    stripped = strip_boilerplate(text, Preprocessing(strip_headers=True))
    assert stripped.splitlines() == ["Re: space shuttle", "", "The launch slipped."]


def test_options_off_leave_the_text_and_the_cache_key_as_before():
    settings = Preprocessing()
    assert strip_boilerplate(REPLY, settings) == REPLY
    key = settings.key("sha", "en", 1000)
    assert "strip_quotes" not in key and "strip_headers" not in key


@pytest.mark.parametrize("change", [{"strip_quotes": True}, {"strip_headers": True},
                                    {"stopwords": "mallet"}])
def test_each_option_changes_the_cache_key(change):
    assert Preprocessing(**change).key("sha", "en", 1000) != Preprocessing().key("sha", "en", 1000)


@pytest.mark.parametrize(("section", "message"), [
    ({"stopwords": "nltk"},
     r"preprocessing.stopwords: expects one of auto/english/mallet/chinese/none; got 'nltk'"),
    ({"strip_quotes": "yes"}, r"preprocessing.strip_quotes: expects a boolean; got 'yes'"),
    ({"extra_stopwords": ["heads of state"]},
     r"preprocessing.extra_stopwords\[0\]: expects a word without spaces"),
    ({"extra_stopwords": "excellency"}, r"preprocessing.extra_stopwords: expects a list"),
])
def test_bad_preprocessing_names_the_field_and_the_choices(tmp_path, section, message):
    corpus = REPO / "datasets" / "20ng-mini" / "corpus.jsonl"
    grid = {"experiment": "x", "dataset": {"path": str(corpus)}, "models": ["lda"],
            "preprocessing": section}
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid), encoding="utf-8")
    with pytest.raises(GridError, match=message):
        load_grid(path)


WEB_POST = ("Read more at https://www.example.com/path?x=1 &amp; www.foo.org, or mail me@x.co.uk"
            " <br/><a href=\"x\">Trump&#39;s plan</a> &quot;tariffs&quot;&nbsp;today")


def test_strip_markup_reads_entities_and_drops_tags_and_addresses():
    """Web text's debris came apart into words that headed topics: amp, quot, nbsp, https,
    www, com (new-user audit of 2026-12-02)."""
    assert tokenize(WEB_POST, "en", Preprocessing(strip_markup=True)) == [
        "read", "mail", "trump", "plan", "tariffs", "today"]
    assert {"amp", "quot", "nbsp", "https", "www", "com", "href"} <= set(
        tokenize(WEB_POST, "en", Preprocessing()))  # off by default: bags stay as they were


@pytest.mark.parametrize(("text", "language", "words"), [
    # a link against Chinese text took the rest of the post, or was kept whole (new-user audit)
    ("http://t.cn/b20bZ2b为什么美国首都很少有超高层建筑", "zh", ["美国", "首都"]),
    ("小米手机发布http://t.cn/Rxyz 新品", "zh", ["小米", "手机", "发布", "新品"]),
    ("联系我test@example.com谢谢", "zh", ["联系", "谢谢"]),
    ("pic.twitter.com/aBcDeF12 bit.ly/3xYzAb Tom &amp;amp; Jerry", "en", ["tom", "jerry"]),
    ("U.S./China trade in km/h and/or node.js", "en", ["china", "trade", "km", "node", "js"]),
    # text that looks like a domain and a path stays (review of 2026-12-02)
    ("Node.js/React on ASP.NET/C# in St.Louis/Chicago, report.pdf/2", "en",
     ["node", "js", "react", "asp", "net", "st", "louis", "chicago", "report", "pdf"]),
    ("&amp;quot;Tariffs&amp;quot; &amp;copy", "en", ["tariffs", "copy"]),  # once-escaped: kept
    ("josé@example.com said", "en", ["said"]),
])
def test_strip_markup_drops_addresses_however_they_sit(text, language, words):
    kept = tokenize(text, language, Preprocessing(strip_markup=True))
    assert kept[:len(words)] == words if language == "zh" else kept == words


def test_strip_markup_is_in_the_key_only_when_on():
    """Keys made before the setting existed stay valid."""
    off = Preprocessing().key("c", "en", 10)
    on = Preprocessing(strip_markup=True).key("c", "en", 10)
    assert "strip_markup" not in off and on["strip_markup"] and off != on


def test_web_text_is_told_of_strip_markup(tmp_path, capsys):
    from tests.conftest import make_grid, write_jsonl
    from tuner.cli import main

    rows = [{"id": str(i), "text": f"{WEB_POST} story {i}" if i % 4 == 0 else f"plain story {i}",
             "label": str(i % 2)} for i in range(40)]
    corpus = write_jsonl(tmp_path / "web.jsonl", rows)
    for strip, warned in ((False, True), (True, False)):
        path = make_grid(tmp_path, corpus, params={"num_topics": 5},
                         preprocessing={"strip_markup": strip})
        assert main(["validate", str(path)]) == 0
        assert ("preprocessing.strip_markup: 25% of the documents hold HTML tags or entities"
                in capsys.readouterr().err) is warned


TWEET = "@NYTimes thanks for the story on #ClimateChange; mail me@x.co or @张三 @dev_team."


def test_strip_mentions_drops_handles_but_not_hashtags_or_mail():
    """A few busy accounts' handles headed LDA topics of tweets (audit of 2026-12-02)."""
    stripped = tokenize(TWEET, "en", Preprocessing(strip_mentions=True))
    assert stripped == ["thanks", "story", "climatechange", "mail"]  # me@x.co: me, x, co
    assert "nytimes" in tokenize(TWEET, "en", Preprocessing())  # off by default
    for post, left in [("@张三 今天 天气", "今天 天气"), ("回复@张三:今天天气", ":今天天气"),
                       ("//@李四：转发 微博", "//：转发 微博"), (".@nytimes 报道", ". 报道"),
                       ("@北京吃货，你看比赛了吗", "，你看比赛了吗"),
                       ("今天一起看比赛 @北京吃货", "今天一起看比赛"),
                       ("@北京吃货@娱乐八卦王 一起看比赛", "一起看比赛"),
                       ("推荐给@科技宅。", "推荐给。"),
                       ("@王五#话题# 好", "#话题# 好"), ("@张三（北京）", "（北京）"),
                       ("@张三…好", "…好"), ("张三@example.com 好", "张三@example.com 好"),
                       # unspaced, a name takes the words after it along to the next mark
                       ("今天和@李四一起吃饭。真好", "今天和。真好"),
                       ("转发微博", ""), ("转发微博//@张三:好", "//:好")]:
        assert tokenize(post, "zh", Preprocessing(strip_mentions=True)) == \
            tokenize(left, "zh", Preprocessing()), post
    for tweet in ("RT @CNN: storm hits coast", "RT@CNN storm hits coast", "RT: storm hits coast",
                  "@alice@bob storm hits coast", "@Müller(storm) hits coast"):
        assert tokenize(tweet, "en", Preprocessing(strip_mentions=True)) == \
            ["storm", "hits", "coast"], tweet  # the retweet mark goes with the handle
    # without a handle or a colon, RT may be a name (Russia Today): kept
    assert "rt" in tokenize("RT storm hits coast", "en", Preprocessing(strip_mentions=True))
    assert "example" in tokenize("josé@example.com", "en", Preprocessing(strip_mentions=True))


def test_led_patterns_find_what_their_plain_patterns_find():
    """MENTION and WEB_DEBRIS are led by the characters a match can start with (a speed-up):
    every match of the plain pattern is theirs, on crafted cases and on the bundled corpora, so
    an alternative added with another first character fails here until the lead names it."""
    import re

    from tests.conftest import DATASETS, read_jsonl
    from tuner.data.cleaning import MENTION, MENTION_PATTERN, WEB_DEBRIS, WEB_DEBRIS_PATTERN

    crafted = [TWEET, "RT @CNN: a", "xRT @CNN a", "RT@CNN a", "RT: a", "回复@张三:好", "转发微博",
               "//@李四：转发", "a@b.com", "@Müller(ok)", "<B>bold</B> &amp; &#39; &#x27;",
               "HTTP://x.org www.x.org WWW.X.ORG ftp://x FTP://x", "xhttp://x awww.x",
               "&AMP; <Table> <td>"]
    texts = crafted + [row["text"] for name in ("20ng-mini", "huffpost-mini", "thucnews-mini")
                       for row in read_jsonl(DATASETS / name / "corpus.jsonl")]
    for led, plain in ((MENTION, re.compile(MENTION_PATTERN)),
                       (WEB_DEBRIS, re.compile(WEB_DEBRIS_PATTERN, re.IGNORECASE))):
        for text in texts:
            assert [m.span() for m in led.finditer(text)] == \
                [m.span() for m in plain.finditer(text)], text[:80]


def test_strip_mentions_is_in_the_key_only_when_on():
    off = Preprocessing().key("c", "en", 10)
    on = Preprocessing(strip_mentions=True).key("c", "en", 10)
    assert "strip_mentions" not in off and on["strip_mentions"] and off != on


def test_social_posts_are_told_of_strip_mentions(tmp_path, capsys):
    from tests.conftest import make_grid, write_jsonl
    from tuner.cli import main

    rows = [{"id": str(i), "text": f"@user{i % 3} great game tonight {i}" if i % 2 else
             f"plain story {i}", "label": str(i % 2)} for i in range(40)]
    corpus = write_jsonl(tmp_path / "posts.jsonl", rows)
    for strip, warned in ((False, True), (True, False)):
        path = make_grid(tmp_path, corpus, params={"num_topics": 5},
                         preprocessing={"strip_mentions": strip})
        assert main(["validate", str(path)]) == 0
        assert ("preprocessing.strip_mentions: 50% of the documents hold @handles or repost marks"
                in capsys.readouterr().err) is warned
    path = make_grid(tmp_path, corpus, models=["lda", "bertopic"], params={"num_topics": 5},
                     preprocessing={"strip_mentions": True})
    assert main(["validate", str(path)]) == 0
    assert ("preprocessing.strip_mentions: it changes the bags of words only; BERTopic reads "
            "document embeddings of the raw text, handles included") in capsys.readouterr().err


SPEECH = "Excellency, my delegation congratulates the President on his election; co-operation."


def test_extra_stopwords_drop_the_corpus_own_words_whatever_their_case():
    """UN speeches open with greetings: "delegation" (57% of them), "excellency" (21%) headed
    BERTopic's and CTM's topics, under max_df 0.7, with no way to drop them (audit of
    2026-12-02)."""
    plain = tokenize(SPEECH, "en", Preprocessing())
    dropped = tokenize(SPEECH, "en", Preprocessing(extra_stopwords=("EXCELLENCY", "delegation")))
    assert {"excellency", "delegation"} <= set(plain)
    assert dropped == [w for w in plain if w not in ("excellency", "delegation")]
    kept_case = Preprocessing(lowercase=False, extra_stopwords=("excellency",))
    assert "Excellency" in tokenize(SPEECH, "en", kept_case)


def test_an_extra_stop_word_with_a_mark_is_read_as_its_word_and_one_never_a_token_is_named(
        tmp_path, small_corpus):
    """"Mr." was kept as "mr.", which no token is: it dropped nothing and changed the bag's key,
    unsaid (user audit of 2026-12-03)."""
    from tests.conftest import make_grid
    from tuner.engine.advice import advisories
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid

    text = "Mr. Smith thanked the U.S. delegation"
    assert "mr" not in tokenize(text, "en", Preprocessing(extra_stopwords=("Mr.", "#smith")))
    assert "smith" not in tokenize(text, "en", Preprocessing(extra_stopwords=("#smith",)))
    grid = load_grid(make_grid(tmp_path, small_corpus, models=["lda"],
                               preprocessing={"extra_stopwords": ["Mr.", "U.S.", "x", "2020",
                                                                  "obama's"]}))
    [said] = [a for a in advisories(grid, check_inputs(grid)) if "extra_stopwords" in a]
    assert said.startswith(f"{grid.path}: preprocessing.extra_stopwords: 'U.S.', 'x', '2020', "
                           "\"obama's\" can never be a token") and said.endswith("drop nothing")
    assert "characters, starting with a letter, with no space" in said
    # nor do they key the bag: it is the bag without them (review of 2026-12-03)
    never = Preprocessing(extra_stopwords=("U.S.", "x", "2020", "obama's"))
    assert never.key("sha", "en", 1000) == Preprocessing().key("sha", "en", 1000)


def test_extra_stopwords_key_the_bag_only_when_given():
    """Bags of words from before keep their key; the same words in another order or case are
    one bag."""
    assert Preprocessing(extra_stopwords=()).key("sha", "en", 1000) == \
        Preprocessing().key("sha", "en", 1000)
    one = Preprocessing(extra_stopwords=("beta", "Alpha")).key("sha", "en", 1000)
    assert one == Preprocessing(extra_stopwords=("alpha", "BETA")).key("sha", "en", 1000)
    assert one != Preprocessing().key("sha", "en", 1000)


def test_extra_stopwords_in_chinese_are_compared_as_the_text_is_segmented():
    settings = Preprocessing(extra_stopwords=("ＮＢＡ", "记者"))  # full-width letters: NFKC
    words = tokenize("记者报道，ＮＢＡ总决赛今晚开打。", "zh", settings)
    assert "记者" not in words and "nba" not in words and words


def test_a_grid_takes_extra_stopwords_or_null(tmp_path):
    corpus = REPO / "datasets" / "20ng-mini" / "corpus.jsonl"
    for given, expected in ((["excellency"], ("excellency",)), (None, ())):
        grid = {"experiment": "x", "dataset": {"path": str(corpus)}, "models": ["lda"],
                "preprocessing": {"extra_stopwords": given}}
        path = tmp_path / "grid.json"
        path.write_text(json.dumps(grid), encoding="utf-8")
        assert load_grid(path).preprocessing.extra_stopwords == expected


def test_extra_stop_words_the_list_already_holds_are_no_change():
    """["the"] on the English list rebuilt the bag and refitted every trial to the same scores
    (trust audit of 2026-12-02): the key holds the words the extras add."""
    plain = Preprocessing().key("c", "en", 10)
    assert Preprocessing(extra_stopwords=("the", "The")).key("c", "en", 10) == plain
    added = Preprocessing(extra_stopwords=("the", "Excellency")).key("c", "en", 10)
    assert added["extra_stopwords"] == ["excellency"]
    kept_case = Preprocessing(lowercase=False, extra_stopwords=("The",)).key("c", "en", 10)
    assert kept_case["extra_stopwords"] == ["The"]  # "The" is no stop word when case is kept


def test_posts_that_quote_replies_get_the_strips_suggested(tmp_path, small_corpus):
    """Half of 1,500 20NG posts quote ("... writes:", "> ..."), and their words led topics while
    nothing pointed at strip_quotes (new-user audit of 2026-12-04). News whose lines say
    "said:" is not taken for quoting (BBC: 23% of its articles)."""
    from tuner.engine.advice import advisories
    from tuner.engine.sweep import check_inputs
    from tuner.grid import load_grid

    def said(corpus, **preprocessing) -> list[str]:
        grid = load_grid(make_grid(tmp_path, corpus, preprocessing=preprocessing))
        return [a for a in advisories(grid, check_inputs(grid))
                if "quoted replies" in a or "mail or news headers" in a]

    [advice] = said(small_corpus)
    assert "set strip_quotes to true" in advice and "35.5%" in advice
    assert said(small_corpus, strip_quotes=True) == []
    news = [{"id": str(n), "label": "x" if n % 2 else "y",
             "text": f"Mr Brown said: \"We expect growth of {n}%.\"\nMarkets rose on the news."}
            for n in range(60)]
    assert said(write_jsonl(tmp_path / "news.jsonl", news)) == []
    mail = [{**row, "text": f"From: a{n}@b.org\nSubject: rates {n}\n\n{row['text']}"}
            for n, row in enumerate(news)]
    [advice] = said(write_jsonl(tmp_path / "mail.jsonl", mail))
    assert "mail or news headers (From:, Subject:" in advice and "set strip_headers" in advice
    # an abstract's one "Keywords:" line is no mail header (review of 2026-12-04)
    papers = [{**row, "text": f"Keywords: growth, markets\n{row['text']}"} for row in news]
    assert said(write_jsonl(tmp_path / "papers.jsonl", papers)) == []
