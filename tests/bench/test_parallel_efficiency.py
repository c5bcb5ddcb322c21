"""bench/parallel_efficiency.py's Amdahl and CPU bounds, checked against hand-worked cases, and
its CPU accounting of a command's whole process tree, since the README quotes them as the
ceiling of issue #11's speed-up target."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.bench.conftest import BENCH, bench_script


@pytest.fixture(scope="module")
def bench():
    with bench_script("parallel_efficiency") as module:
        yield module


def test_amdahl_bound_keeps_the_serial_part_and_slows_the_parallel_one(bench):
    assert bench.amdahl_bound(0.0, 20.0, 1.0) == pytest.approx(2.0)
    # 2 s serial + 20 s parallel: 22 s alone, 2 + 10 s on two workers
    assert bench.amdahl_bound(2.0, 20.0, 1.0) == pytest.approx(22 / 12)
    # each fit 10% slower beside the other: 2 + 11 s
    assert bench.amdahl_bound(2.0, 20.0, 1.1) == pytest.approx(22 / 13)


def test_phase_needed_is_where_the_bound_meets_the_target(bench):
    text = bench.phase_needed(2.0, 1.0, 1.8)
    needed = float(text.split("phase is ")[1].split(" s")[0])
    assert needed == pytest.approx(16, abs=0.5)  # 0.8 * 2 / (1 - 0.9)
    assert bench.amdahl_bound(2.0, 16.0, 1.0) == pytest.approx(1.8)
    assert "no sweep length" in bench.phase_needed(2.0, 1.12, 1.8)  # 1.8 x 1.12 / 2 > 1


def test_cpu_bound_spreads_the_many_worker_commands_cpu_over_every_core(bench):
    # 30 s on one worker; the two-worker command's processes used 36 CPU s on 2 cores: >= 18 s
    assert bench.cpu_bound(30.0, 36.0, 2) == pytest.approx(30 / 18)


ORPHAN_MAKER = """
import subprocess, sys, time
# a child that outlives this command: it sleeps 2 s, then burns about 0.4 s of CPU
subprocess.Popen([sys.executable, "-c",
                  "import time\\nt = time.process_time()\\ntime.sleep(2)\\n"
                  "while time.process_time() - t < 0.4: pass"])
"""


def test_run_accounted_counts_the_processes_a_command_leaves_behind(tmp_path):
    script = tmp_path / "accounted.py"
    script.write_text(f"""
import json, subprocess, sys
sys.path.insert(0, {str(BENCH)!r})
from _common import adopt_orphans, run_accounted
adopt_orphans()
mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # not waited for
ran = run_accounted([sys.executable, "-c", {ORPHAN_MAKER!r}])
mine.kill()
print(json.dumps({{"own": ran.own_cpu, "tree": ran.tree_cpu, "wall": ran.wall}}))
""")
    out = subprocess.run([sys.executable, str(script)], check=True, capture_output=True,
                         text=True, timeout=30).stdout
    found = json.loads(out)
    assert found["wall"] < 1.5  # the command did not wait for its child
    assert found["tree"] - found["own"] >= 0.35  # the orphan's CPU, counted once it exited
