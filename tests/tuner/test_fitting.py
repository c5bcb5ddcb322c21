"""fit_trial: the one place that limits threads around a fit, in a worker and in the tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
import torch
from threadpoolctl import threadpool_info

from trainers.base import Requirement, Trainer
from trainers.lda import LDATrainer
from tuner.data.inputs import FitContext, TrialData
from tuner.fitting import fit_trial
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, ParamSchema


class ThreadProbe(Trainer):
    """A real LDA fit that notes the thread settings it ran under."""

    name: ClassVar[str] = "ThreadProbe"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("ThreadProbe", [NUM_TOPICS, VOCAB_SIZE])

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        self.seen = {"torch": torch.get_num_threads(), "env": os.environ.get("OMP_NUM_THREADS"),
                     "pools": {pool["num_threads"] for pool in threadpool_info()}}
        full = LDATrainer.params.with_defaults({**params, "max_iter": 10})
        return LDATrainer().fit(data, full, ctx)


def test_fit_runs_on_the_context_threads_and_restores_them(small_data):
    torch.set_num_threads(2)
    before_env = os.environ.get("OMP_NUM_THREADS")
    probe = ThreadProbe()
    output = fit_trial(probe, small_data, {"num_topics": 5, "vocab_size": 1000},
                       FitContext(seed=3, threads=1))
    assert output.num_topics == 5
    assert probe.seen == {"torch": 1, "env": "1", "pools": {1}}
    assert torch.get_num_threads() == 2
    assert os.environ.get("OMP_NUM_THREADS") == before_env


def test_the_defaults_of_the_protocol_reach_a_trainer():
    assert ThreadProbe.revision is None and ThreadProbe.seed_param is None
    assert ThreadProbe.cache_params == ("vocab_size",)
    assert ThreadProbe.default_embedding({}, None) is None  # type: ignore[arg-type]
    assert ThreadProbe.expected_cost({"max_iter": 50, "num_topics": 10}) == 50 * (15 + 10)
    assert ThreadProbe.expected_cost({"epochs": 4, "num_topics": 20, "vocab_size": 2000}) \
        == 4 * 565


def test_the_default_cost_follows_what_the_fits_took():
    """The measured fits behind trainers/base.py's constants (one thread, 20ng-mini): LDA's
    iterations against K, ProdLDA's epochs against K and the vocabulary, and 15 ProdLDA epochs
    against 200 LDA iterations at K=20."""
    cost = ThreadProbe.expected_cost
    assert cost({"max_iter": 200, "num_topics": 20}) / cost({"max_iter": 200, "num_topics": 10}) \
        == pytest.approx(1.60 / 1.15, rel=0.02)
    took = {(20, 2000): 1.02, (50, 2000): 1.125, (20, 10000): 2.41, (50, 10000): 2.665}
    for (topics, words), seconds in took.items():
        ratio = cost({"epochs": 10, "num_topics": topics, "vocab_size": words}) \
            / cost({"epochs": 10, "num_topics": 20, "vocab_size": 2000})
        assert ratio == pytest.approx(seconds / took[(20, 2000)], rel=0.02)
    assert cost({"epochs": 15, "num_topics": 20, "vocab_size": 2000}) \
        / cost({"max_iter": 200, "num_topics": 20}) == pytest.approx(1.95 / 1.60, rel=0.02)
