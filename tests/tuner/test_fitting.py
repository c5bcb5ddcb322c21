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
    assert ThreadProbe.expected_cost({"epochs": 4, "num_topics": 20, "vocab_size": 18750}) \
        == 4 * 550 * 1.25


def test_the_default_cost_follows_what_the_fits_took():
    """The measured shape (trainers/base.py): an iteration costs about (15 + K), a neural epoch
    grows with K only through K x V, and 15 ProdLDA epochs at K=20 on a 2,000-word vocabulary
    took 1.2 times as long as 200 LDA iterations at K=20 (1.95 against 1.60 s)."""
    cost = ThreadProbe.expected_cost
    assert cost({"max_iter": 200, "num_topics": 20}) / cost({"max_iter": 200, "num_topics": 10}) \
        == pytest.approx(1.60 / 1.15, rel=0.02)
    small = {"epochs": 15, "vocab_size": 2000}
    assert cost({**small, "num_topics": 20}) / cost({**small, "num_topics": 10}) \
        == pytest.approx(1.95 / 1.90, rel=0.02)
    large = {"epochs": 1, "vocab_size": 10000}
    assert cost({**large, "num_topics": 50}) / cost({**large, "num_topics": 20}) \
        == pytest.approx(1.16, rel=0.03)
    assert cost({**small, "num_topics": 20}) / cost({"max_iter": 200, "num_topics": 20}) \
        == pytest.approx(1.95 / 1.60, rel=0.02)
