"""What every worker of a Dask cluster runs before its first trial, as a worker plugin: workers that
join or restart during a sweep get it too (`client.run` reaches only the workers there at connect: a
worker restarted mid-sweep would run its trials with its own thread count, untold). Imported only by
the Dask executor: the process pool's parent never loads `distributed`."""

from __future__ import annotations

import uuid
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from tuner.engine.worker import init_worker


class TunerWorkerSetup(WorkerPlugin):
    """Named per sweep: a second sweep's registration replaced the first's on every worker,
    thread caps included, under the first's running trials; each sweep removes its own as it
    ends."""

    def __init__(self, threads: int, jit_cache: str | None) -> None:
        self.threads, self.jit_cache = threads, jit_cache
        self.name = f"tuner-worker-setup-{uuid.uuid4().hex[:12]}"

    def setup(self, worker: Any) -> None:
        init_worker(self.threads, None, self.jit_cache)
