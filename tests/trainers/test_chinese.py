"""LDA and BTM on 300 real THUCNews articles (language zh, jieba): Chinese topic words and
assignments that agree with the 10 news categories better than chance."""

from __future__ import annotations

import re

import pytest
from sklearn.metrics import adjusted_rand_score

from tests.conftest import dataset_path, read_jsonl, stratified_subset
from tests.trial_data import trial_data_for
from trainers import load_trainer
from tuner.data.inputs import FitContext

HAN_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
BUDGETS = {
    "LDA": {"num_topics": 10, "vocab_size": 1000, "max_iter": 50},
    "BTM": {"num_topics": 10, "vocab_size": 1000, "n_iter": 30},
}


@pytest.fixture(scope="module")
def zh_data(tmp_path_factory):
    records = stratified_subset(read_jsonl(dataset_path("thucnews-mini")), 30)
    assert len(records) == 300
    return trial_data_for(records, tmp_path_factory.mktemp("zh"), language="zh")


@pytest.fixture(scope="module")
def zh_fits(zh_data):
    fits = {}
    for model, budget in BUDGETS.items():
        trainer = load_trainer(model)
        fits[model] = trainer().fit(zh_data, trainer.params.with_defaults(budget),
                                    FitContext(seed=8, top_n=10))
    return fits


@pytest.mark.parametrize("model", sorted(BUDGETS))
def test_topic_words_are_chinese_words(model, zh_fits):
    words = [w for topic in zh_fits[model].topic_words for w in topic]
    assert sum(bool(HAN_WORD.fullmatch(w)) for w in words) >= 0.9 * len(words)


@pytest.mark.parametrize("model", sorted(BUDGETS))
def test_assignments_agree_with_categories(model, zh_fits, zh_data):
    ari = adjusted_rand_score(zh_data.labels, zh_fits[model].assignments)
    assert ari > 0.25
