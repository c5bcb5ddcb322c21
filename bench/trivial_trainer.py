"""A trainer that fits nothing, for measuring what the sweep itself costs per trial."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from trainers.base import Requirement, Trainer
from tuner.data.inputs import FitContext, TrialData
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, Param, ParamSchema, anything


class TrivialTrainer(Trainer):
    name: ClassVar[str] = "Trivial"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("Trivial", [
        NUM_TOPICS, VOCAB_SIZE, Param("variant", int, 0, anything(), "makes trials distinct")])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        k = params["num_topics"]
        words = [data.bow.vocab[i::k][:ctx.top_n] for i in range(k)]
        assignments = np.arange(data.bow.n_docs, dtype=np.int64) % k
        return TopicModelOutput(words, None, assignments)
