"""LDA's extensions: eta reaches tomotopy, and optim_interval switches alpha re-estimation."""

from __future__ import annotations

import pytest

from trainers import load_trainer
from tuner.data.inputs import FitContext


def fit_lda(data, **params):
    trainer = load_trainer("LDA")
    full = trainer.params.with_defaults({"num_topics": 5, "vocab_size": 1000, "max_iter": 60,
                                         **params})
    return trainer().fit(data, full, FitContext(seed=3))


def test_alpha_stays_fixed_without_optimisation(small_data):
    assert fit_lda(small_data).extras["alpha_mean"] == pytest.approx(1 / 5)


def test_optim_interval_re_estimates_alpha(small_data):
    assert fit_lda(small_data, optim_interval=5).extras["alpha_mean"] != pytest.approx(1 / 5)


def test_eta_changes_the_topics(small_data):
    assert fit_lda(small_data).topic_words != fit_lda(small_data, eta=1.0).topic_words


@pytest.mark.parametrize("weight", ["idf", "pmi"])
def test_term_weight_lowers_words_spread_over_every_document(small_data, weight):
    """Weighted by IDF or PMI, words that top many topics unweighted rank lower, so the topics
    list more distinct words."""
    plain, weighted = fit_lda(small_data), fit_lda(small_data, term_weight=weight)

    def distinct_words(output):
        return len({w for topic in output.topic_words for w in topic})

    assert distinct_words(weighted) > distinct_words(plain)


@pytest.mark.parametrize(("model", "values", "field"), [
    ("LDA", {"alpha": 1e-300}, "alpha"), ("LDA", {"eta": 1e300}, "eta"),
    ("HDP", {"gamma": 1e-300}, "gamma"), ("HDP", {"alpha": 1e39}, "alpha")])
def test_a_prior_tomotopy_cannot_hold_is_refused(model, values, field):
    """tomotopy keeps priors as float32: 1e-300 became 0 and aborted the worker (SIGABRT,
    "wrong alpha value"), 1e39 gave NaN, after validation had passed them (audit of
    2026-12-01)."""
    from trainers import load_trainer

    value = values[field]
    assert load_trainer(model).params.validate(values) == [
        f"{model} requires 1e-30 <= {field} <= 1e+30 (kept as float32); got {field}={value:g}"]
    assert load_trainer(model).params.validate({field: 1e-20}) == []
