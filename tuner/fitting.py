"""The one way a trial's model is fitted, in a worker or in a test: thread limits set once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuner.data.inputs import FitContext, TrialData
from tuner.data.numerics import cpu_numerics
from tuner.devices import device_identity, thread_limit
from tuner.output import TopicModelOutput

if TYPE_CHECKING:
    from trainers.base import Trainer


def fit_code(model: str, threads: int | None = None) -> dict[str, str]:
    """What of the machine a fit of `model` depends on, for its fit key: the code behind the
    model (trainers.trainer_code: its class and its libraries' versions), for a torch model the
    device (a fit on CUDA is not the CPU's, nor one GPU model's another's: device_identity),
    the code paths its libraries pick on this CPU (tuner.data.numerics), for a tomotopy
    model the instruction set tomotopy runs (tomotopy_isa), and for a model whose CPU fit moves
    with its thread count (Trainer.thread_sensitive), `threads`, the count it runs on, when
    given."""
    from trainers import load_trainer, trainer_code

    trainer = load_trainer(model)
    libraries = trainer.libraries
    code = trainer_code(model) | cpu_numerics(libraries)
    if "torch" in libraries:
        code["device"] = device_identity()
    if "tomotopy" in libraries:
        code["tomotopy_isa"] = tomotopy_isa()
    if threads is not None and trainer.thread_sensitive and code.get("device", "cpu") == "cpu":
        # ProdLDA's ARI is 0.0494 on one thread and 0.0492 on two: under one key, a sweep at
        # another --max-workers would be served the other count's fit
        code["threads"] = str(threads)
    return code


def tomotopy_isa() -> str:
    """The instruction set tomotopy's sampler was built for and loaded with here (avx512, avx2,
    sse2 or none: chosen at import from the CPU, or by $TOMOTOPY_ISA). Their floating-point
    sums differ: 200 posts, LDA K=20, 1,000 iterations, optim_interval 1, seed 42 gave ARI 0.068
    on avx512 and 0.105 on sse2, and without it in the key a store shared by two machines skips
    the second's trial as the first's. tomotopy's own module that picks it is imported, not
    the package (21 to 39 ms against 60 ms, in the parent of every LDA or HDP sweep)."""
    try:
        from _tomotopy import isa  # type: ignore[import-not-found]
    except ImportError:
        return "absent"
    return str(isa)


def fit_trial(trainer: Trainer, data: TrialData, params: Mapping[str, Any],
              ctx: FitContext) -> TopicModelOutput:
    """Fit `trainer` on `data` with validated, complete `params`, on `ctx.threads` threads.

    Trainers do not limit threads themselves: this is the only place that does.
    """
    with thread_limit(ctx.threads):
        return trainer.fit(data, params, ctx)
