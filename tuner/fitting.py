"""The one way a trial's model is fitted, in a worker or in a test: thread limits set once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuner.data.inputs import FitContext, TrialData
from tuner.devices import thread_limit
from tuner.output import TopicModelOutput

if TYPE_CHECKING:
    from trainers.base import Trainer


def fit_trial(trainer: Trainer, data: TrialData, params: Mapping[str, Any],
              ctx: FitContext) -> TopicModelOutput:
    """Fit `trainer` on `data` with validated, complete `params`, on `ctx.threads` threads.

    Trainers do not limit threads themselves: this is the only place that does.
    """
    with thread_limit(ctx.threads):
        return trainer.fit(data, params, ctx)
