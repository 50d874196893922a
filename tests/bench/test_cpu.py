"""CPU per event from /proc, and the rate the cores allow at that cost."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.bench.cpu import BROKER, CpuPerEvent, cpu_per_event, cpu_seconds, cpu_snapshot

SPIN = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"


def test_the_cpu_a_process_spent_is_read_while_it_runs_and_none_once_it_is_gone() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", SPIN + "\nimport time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while (cpu_seconds(spinner.pid) or 0.0) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (cpu_seconds(spinner.pid) or 0.0) >= 0.5
        assert cpu_snapshot({"worker-0": spinner.pid})["worker-0"] >= 0.5
    finally:
        spinner.kill()
        spinner.wait()
    assert cpu_seconds(spinner.pid) is None
    assert cpu_snapshot({"worker-0": spinner.pid}) == {}


def test_cpu_per_event_adds_up_the_workers_and_keeps_the_broker_apart() -> None:
    start = {"worker-0": 1.0, "worker-1": 4.0, BROKER: 2.0}
    end = {"worker-0": 3.0, "worker-1": 5.0, BROKER: 2.5}

    used = cpu_per_event(start, end, 10_000)

    assert used == CpuPerEvent(workers=300.0, broker=50.0)
    assert used.cores_busy(4_000) == pytest.approx(1.4)


def test_without_a_worker_read_at_both_ends_there_is_no_cost_per_event() -> None:
    assert cpu_per_event({BROKER: 1.0}, {BROKER: 2.0}, 100) is None
    assert cpu_per_event({"worker-0": 1.0}, {}, 100) is None
    assert cpu_per_event({"worker-0": 1.0}, {"worker-0": 2.0}, 0) is None


def test_a_kafka_elsewhere_leaves_the_broker_out_of_the_cost() -> None:
    used = CpuPerEvent(workers=500.0, broker=None)

    assert used.cores_busy(2_000) == 1.0


def test_the_cores_bound_the_rate_at_a_cost_per_event() -> None:
    used = CpuPerEvent(workers=400.0, broker=100.0)

    assert used.most_eps(2) == pytest.approx(4_000)
    assert CpuPerEvent(workers=500.0, broker=None).most_eps(1) == pytest.approx(2_000)
