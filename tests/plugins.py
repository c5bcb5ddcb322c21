"""Plug-in trainers for runner tests, registered through $TUNER_TRAINERS like a user's own.

`Flaky` fits a real LDA but raises for one seed: the runner must record that trial FAILED and
finish the others. Its failures are real exceptions raised in a real worker process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from trainers.base import Requirement
from trainers.lda import LDATrainer
from tuner.data.inputs import FitContext, TrialData
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, Param, ParamSchema, between, one_of

FAILING_SEED = 13


class FlakyTrainer:
    name: ClassVar[str] = "Flaky"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("Flaky", [
        NUM_TOPICS, VOCAB_SIZE,
        Param("max_iter", int, 10, between(10, 500), "Gibbs iterations"),
        Param("crash", str, "raise", one_of("raise", "abort"), "how the failing seed fails"),
    ])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        if ctx.seed == FAILING_SEED:
            if params["crash"] == "abort":
                os.abort()
            raise RuntimeError(f"deliberate failure for seed {ctx.seed}")
        lda_params = {"num_topics": params["num_topics"], "vocab_size": params["vocab_size"],
                      "max_iter": params["max_iter"], "alpha": None}
        return LDATrainer().fit(data, lda_params, ctx)
