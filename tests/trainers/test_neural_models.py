"""NVDM, GSM, ETM, CTM and THETA fit a real 400-document subset: valid and distinct (that a seed
repeats its fit, tests/contracts/test_trainers.py checks for every model)."""

from __future__ import annotations

import pytest

from trainers import load_trainer
from tuner.data.inputs import FitContext

MODELS = ["NVDM", "GSM", "ETM", "CTM", "THETA"]
# Test budgets: tiny widths (below the schema minimums on purpose: fit() trusts its input).
FAST = {
    "NVDM": {"num_topics": 6, "vocab_size": 1000, "epochs": 10, "hidden_dim": 64, "num_layers": 1},
    "GSM": {"num_topics": 6, "vocab_size": 1000, "epochs": 10, "hidden_dim": 64, "num_layers": 1},
    "ETM": {"num_topics": 6, "vocab_size": 1000, "epochs": 10, "hidden_dim": 64, "num_layers": 1,
            "embedding_dim": 50},
    "CTM": {"num_topics": 6, "vocab_size": 1000, "epochs": 10, "hidden_dim": 32, "num_layers": 1},
    "THETA": {"num_topics": 6, "vocab_size": 1000, "epochs": 10, "hidden_dim": 64,
              "num_layers": 1, "kl_warmup": 2},
}


@pytest.fixture(scope="module")
def fits(small_data, tmp_path_factory):
    """One fit per model."""
    cache = str(tmp_path_factory.mktemp("neural_cache"))
    results = {}
    for model in MODELS:
        trainer = load_trainer(model)
        params = trainer.params.with_defaults(FAST[model])
        results[model] = trainer().fit(small_data, params, FitContext(seed=7, cache_dir=cache))
    return results


@pytest.mark.parametrize("model", MODELS)
def test_output_is_valid(model, fits, small_data):
    output = fits[model]
    assert output.n_docs == small_data.bow.n_docs
    assert output.num_topics == FAST[model]["num_topics"]
    assert output.topic_word.shape == (6, len(small_data.bow.vocab))
    assert all(len(words) == 25 for words in output.topic_words)


@pytest.mark.parametrize("model", MODELS)
def test_topics_are_distinct(model, fits):
    """A collapsed model gives every topic the same top words."""
    output = fits[model]
    tops = {frozenset(words[:10]) for words in output.topic_words}
    assert len(tops) == output.num_topics
    assert len(set(output.assignments.tolist()) - {-1}) >= 2


@pytest.mark.parametrize("model", MODELS)
def test_schema_rejects_bad_values(model):
    schema = load_trainer(model).params
    problems = schema.validate({"num_topics": 200})
    assert problems == [f"{model} expects an int in 5-100; got 200"]


def test_ctm_hidden_dim_range():
    schema = load_trainer("CTM").params
    assert schema.with_defaults({})["hidden_dim"] == 100
    assert schema.validate({"hidden_dim": 32}) == []
    assert schema.validate({"hidden_dim": 2048}) == ["CTM expects an int in 32-1024; got 2048"]


@pytest.mark.parametrize("model", ["NVDM", "GSM"])
def test_hidden_dim_default_256(model):
    assert load_trainer(model).params.with_defaults({})["hidden_dim"] == 256
