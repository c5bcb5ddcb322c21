"""HDP infers its topic count: more than one topic, never more than max_topics."""

from __future__ import annotations

import numpy as np
import pytest

from trainers import load_trainer
from tuner.data.inputs import FitContext


@pytest.fixture(scope="module")
def hdp_fit(small_data):
    trainer = load_trainer("HDP")
    params = trainer.params.with_defaults({"max_topics": 50, "vocab_size": 1000})
    return trainer().fit(small_data, params, FitContext(seed=4))


def test_topic_count_is_inferred_within_the_cap(hdp_fit):
    found = hdp_fit.extras["num_topics_found"]
    assert 1 < found <= 50
    assert found == hdp_fit.num_topics == hdp_fit.doc_topic.shape[1]
    assert hdp_fit.extras["topics_truncated"] == 0


def test_only_live_topics_are_output(hdp_fit):
    # every topic reported holds documents' mass: dead topics would have all-zero columns
    assert np.all(hdp_fit.doc_topic.max(axis=0) > 0.01)
    assert len({tuple(words[:10]) for words in hdp_fit.topic_words}) == hdp_fit.num_topics


def test_cap_keeps_the_largest_topics(small_data, hdp_fit):
    # fit() trusts validated input, so a cap below the schema minimum exercises the truncation
    trainer = load_trainer("HDP")
    params = trainer.params.with_defaults({"max_topics": 3, "vocab_size": 1000})
    capped = trainer().fit(small_data, params, FitContext(seed=4))
    assert capped.num_topics == 3
    assert capped.extras["topics_truncated"] == hdp_fit.num_topics - 3


def test_largest_topic_shares_are_logged(hdp_fit):
    token_share = hdp_fit.extras["largest_topic_token_share"]
    doc_share = hdp_fit.extras["largest_topic_doc_share"]
    assert 1 / hdp_fit.num_topics <= token_share < 1
    assert 0 < doc_share < 1


def test_tiny_topics_are_dropped_before_scoring(small_data, hdp_fit):
    trainer = load_trainer("HDP")
    params = trainer.params.with_defaults({"max_topics": 50, "vocab_size": 1000,
                                           "topic_threshold": 0.0})
    every_live = trainer().fit(small_data, params, FitContext(seed=4))
    assert every_live.extras["topics_below_threshold"] == 0
    assert hdp_fit.extras["topics_below_threshold"] > 0
    assert hdp_fit.num_topics == (hdp_fit.extras["topics_alive"]
                                  - hdp_fit.extras["topics_below_threshold"])


def test_initial_k_above_max_topics_is_rejected():
    problems = load_trainer("HDP").params.validate({"initial_k": 60, "max_topics": 50})
    assert problems == ["HDP requires initial_k <= max_topics; got initial_k=60, max_topics=50"]
