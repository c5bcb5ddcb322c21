"""A plug-in trainer that breaks the sweep's SQLite tracking store while its trial runs: a real
tracking-store failure after trials have started (see test_cli)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from trainers.base import Requirement, Trainer
from trainers.lda import LDATrainer
from tuner.data.inputs import FitContext, TrialData
from tuner.output import TopicModelOutput
from tuner.params import NUM_TOPICS, VOCAB_SIZE, ParamSchema

STORE_VARIABLE = "TUNER_TEST_BROKEN_STORE"
MOVE_VARIABLE = "TUNER_TEST_MOVE_STORE"  # set: the store's file is moved away, not overwritten


class StoreBreakerTrainer(Trainer):
    name: ClassVar[str] = "StoreBreaker"
    requires: ClassVar[frozenset[Requirement]] = frozenset({"bow"})
    params: ClassVar[ParamSchema] = ParamSchema("StoreBreaker", [NUM_TOPICS, VOCAB_SIZE])

    def fit(self, data: TrialData, params: Mapping[str, Any], ctx: FitContext
            ) -> TopicModelOutput:
        output = LDATrainer().fit(data, LDATrainer.params.with_defaults({**params,
                                                                          "max_iter": 10}), ctx)
        # After the fit: the parent opens the trial's run as it submits it, and a commit of its
        # still in flight writes the store's first page back over damage done at once (seen
        # once workers started their trials within milliseconds).
        path = os.environ[STORE_VARIABLE]
        if os.environ.get(MOVE_VARIABLE):
            os.rename(path, f"{path}.moved")
            return output
        with open(path, "r+b") as store:
            store.write(b"this is no longer an SQLite database" * 100)
        return output
