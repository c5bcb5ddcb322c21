"""The one way a trial's model is fitted, in a worker or in a test: thread limits set once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuner.data.inputs import FitContext, TrialData
from tuner.devices import device_kind, thread_limit
from tuner.output import TopicModelOutput

if TYPE_CHECKING:
    from trainers.base import Trainer


def fit_code(model: str) -> dict[str, str]:
    """What of the machine a fit of `model` depends on, for its fit key: the code behind the
    model (trainers.trainer_code: its class and its libraries' versions) and, for a torch
    model, the kind of device (a fit on CUDA is not the CPU's)."""
    from trainers import load_trainer, trainer_code

    code = trainer_code(model)
    if "torch" in load_trainer(model).libraries:
        code["device"] = device_kind()
    return code


def fit_trial(trainer: Trainer, data: TrialData, params: Mapping[str, Any],
              ctx: FitContext) -> TopicModelOutput:
    """Fit `trainer` on `data` with validated, complete `params`, on `ctx.threads` threads.

    Trainers do not limit threads themselves: this is the only place that does.
    """
    with thread_limit(ctx.threads):
        return trainer.fit(data, params, ctx)
