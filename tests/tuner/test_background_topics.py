"""Background topics: a topic of words common to every subject, spread over far more documents
than the fit's others, is named at the end of `tuner run`, noted on its leaderboard row and
marked in the report (tuner.metrics.spread; Chinese audit of 2026-12-04)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, dataset_path, make_grid, sqlite_store
from tuner.metrics.spread import (
    BACKGROUND_IDS,
    BACKGROUND_WORDS,
    background_topic_ids,
    background_words,
    document_shares,
    topic_spread,
)
from tuner.output import TopicModelOutput


def output_of(doc_topic: np.ndarray) -> TopicModelOutput:
    topics = doc_topic.shape[1]
    return TopicModelOutput([[f"w{k}", f"v{k}"] for k in range(topics)], doc_topic,
                            doc_topic.argmax(axis=1))


def spread_theta(wide: float, rest: float, topics: int = 8, docs: int = 400,
                 seed: int = 0) -> np.ndarray:
    """θ of documents that each have a main topic among 1..K-1, and topic 0 above 1/K in a
    `wide` share of them, each other topic also in a `rest` share."""
    rng = np.random.default_rng(seed)
    theta = np.full((docs, topics), 0.01)
    theta[np.arange(docs), rng.integers(1, topics, docs)] = 0.5
    theta[rng.random(docs) < wide, 0] = 0.5
    for k in range(1, topics):
        theta[rng.random(docs) < rest, k] = 0.5
    return theta / theta.sum(axis=1, keepdims=True)


def test_a_topic_above_its_even_share_in_most_documents_is_a_background_topic():
    theta = spread_theta(0.7, 0.15)
    assert topic_spread(theta)[0] > 0.6
    assert background_topic_ids(output_of(theta)) == [0]


@pytest.mark.parametrize(("wide", "rest"), [(0.25, 0.1), (0.45, 0.3)])
def test_a_topic_narrower_than_the_rule_is_not(wide, rest):
    """Under 3 in 10 documents (however narrow the others), or under twice the median topic."""
    assert background_topic_ids(output_of(spread_theta(wide, rest))) == []


@pytest.mark.parametrize("topics", [15, 100])
def test_documents_left_even_do_not_count_for_every_topic(topics):
    """LDA gives a document with no word an even row: renormalised, every entry sat an ulp
    above 1/K at K=15 and 100, so 30% such rows counted for every topic and hid a background
    topic (review of 2026-12-04)."""
    theta = spread_theta(0.7, 0.15, topics=topics)
    even = np.full((170, topics), 1.0 / topics)
    even /= even.sum(axis=1, keepdims=True)
    assert (even > 1.0 / topics).all()  # what the rule must not count
    assert background_topic_ids(output_of(np.vstack([theta, even]))) == [0]


def test_a_background_topics_words_are_judged_common_rare_or_neither():
    """The Chinese audit of 2026-12-05 found ProdLDA's catch-alls of words in 2 to 5 of 2,000
    headlines, and an LDA film topic, marked "words common to every subject"."""
    vocab = ["the", "and", "goal", "match", "vote", "poll", "tax", "bank", "zeta", "quark"]
    index = {w: i for i, w in enumerate(vocab)}
    documents = ([["the", "and", "goal", "match"]] * 10 + [["the", "and", "vote", "poll"]] * 10
                 + [["the", "tax", "bank"]] * 10 + [["zeta", "quark"]])
    flat = np.asarray([index[w] for d in documents for w in d], dtype=np.int32)
    offsets = np.cumsum([0] + [len(d) for d in documents]).astype(np.int64)
    topics = [["the", "and"], ["goal", "match"], ["vote", "poll"], ["tax", "bank"],
              ["zeta", "quark"]]
    output = TopicModelOutput(topics, None, np.zeros(len(documents), dtype=int))
    holding = document_shares(len(vocab), flat, offsets)
    assert holding[index["the"]] == pytest.approx(30 / 31)
    found = background_words(output, [0, 4, 1], vocab, holding, top=2)
    assert [found[k]["words"] for k in ("0", "4", "1")] == ["common", "rare", ""]
    assert found["0"]["share"] == pytest.approx(25 / 31, abs=1e-4)  # the 30, and 20 of 31


def test_a_model_without_proportions_has_none():
    clusters = TopicModelOutput([["a", "b"]] * 5, None, np.arange(100) % 5)
    assert background_topic_ids(clusters) == []


def test_lda_on_newsgroups_posts_is_told_its_background_topic(tmp_path):
    """LDA at K=20 on 20ng-mini (500 iterations, seed 42) spreads its "people think just does
    like know" topic over 60% of the posts, its median topic over 17%
    (bench/background_topics.py): said at the run's end, noted on its row, marked in the
    report, and carried by a re-scored fit."""
    from tuner.reporting.report import write_report
    from tuner.tracking.tracker import MlflowTracker

    corpus = dataset_path("20ng-mini")
    grid = make_grid(tmp_path, corpus, experiment="background", models=["lda"], seeds=[42],
                     params={"num_topics": 20, "vocab_size": 5000, "lda.max_iter": 500},
                     dataset={"path": str(corpus), "text_field": "text", "id_field": "id",
                              "label_field": "label", "language": "en"})
    uri = sqlite_store(tmp_path / "mlflow.db")
    done = subprocess.run([sys.executable, "-m", "tuner.cli", "run", str(grid), "--tracking-uri",
                           uri, "--max-workers", "1", "--cache-dir", str(tmp_path / "cache")],
                          capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "background topic" in done.stdout  # the leaderboard row's note
    assert "1 trial spread one or more topics over far more documents than their other " \
           "topics" in done.stderr

    tracker = MlflowTracker(uri, existing=True)
    (trial,) = tracker.finished_trials("background")
    assert trial.metrics["background_topics"] >= 1
    extras = tracker.read_json(trial.run_id, "extras.json") or {}
    widest = extras[BACKGROUND_IDS][0]
    words = tracker.topics(trial.run_id)[str(widest)][:10]
    assert {"think", "like", "know"} <= set(words)

    assert extras[BACKGROUND_WORDS][str(widest)]["words"] == "common"  # think, like, know
    # said with its words: the report shows one fit per configuration, often not the one the
    # warning named (new-user audit of 2026-12-05)
    assert (f"warning: the widest background topic of 1 fit: LDA#seed=42: topic {widest}, "
            f"{' '.join(words[:8])} (common words: stop words for "
            "preprocessing.extra_stopwords)") in done.stderr.replace("\n", " ")

    page = write_report(uri, "background", tmp_path / "report").html.read_text(encoding="utf-8")
    assert page.count(" topic: above its even share") == len(extras[BACKGROUND_IDS])
    assert "its words are common, each in " in page
    assert "background topic" in page.split("<h3>")[0]  # the row's note in the ranking table

