"""bench/parallel_efficiency.py's Amdahl bound, checked against hand-worked cases, since the
README quotes it as the ceiling of issue #11's speed-up target."""

from __future__ import annotations

import pytest

from tests.bench.conftest import bench_script


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
