"""The parent of a sweep reads every trainer without importing torch (about 1 s it never uses)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO
from trainers import EXTRA_VARIABLE

# What `tuner validate` and a sweep's parent do with each trainer: its schema, full parameters
# and shared steps; then the torch modules that came with them.
PARENT_WORK = """
import sys

import trainers
from tuner.data.inputs import StepInputs

inputs = StepInputs(seed=1, bow_key="bow", embedding_key="embeddings")
for name in trainers.registry():
    schema = trainers.load_trainer(name).params
    trainers.shared_steps(name, schema.resolved(schema.with_defaults({})), inputs)
print(sorted(m for m in sys.modules if m.split(".")[0] == "torch"))
"""


def test_reading_every_trainer_imports_no_torch():
    """Trainer modules import their torch networks (trainers/nets/) inside fit; a worker gets
    them before its first trial through `warm_imports`."""
    env = {k: v for k, v in os.environ.items() if k != EXTRA_VARIABLE} | {
        "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", PARENT_WORK], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
