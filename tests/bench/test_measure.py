import math

import pytest
from rich.console import Console

from tests.bench.cpu import CpuPerEvent, usable_cores
from tests.bench.hops import Hop
from tests.bench.latency import LatencyRun, nearest_rank, sustainable_rate
from tests.bench.measure import Series, Throughput, throughput
from tests.bench.pipeline import PipelineRun
from tests.bench.report import BenchResult, render_table, summary_line


def series(*samples: tuple[float, int]) -> Series:
    result = Series()
    for at, count in samples:
        result.add(at, count)
    return result


def test_the_clock_starts_at_the_first_sample_that_saw_events() -> None:
    samples = series((0.0, 500), (1.0, 500), (2.0, 1500), (4.0, 5500))

    rate = throughput(samples, done_at=4.0)

    assert rate == Throughput(events=4000, seconds=2.0)
    assert rate.eps == 2000


def test_counts_are_relative_to_the_first_sample() -> None:
    samples = series((0.0, 100), (1.0, 250), (2.0, 250))

    assert samples.last == 150
    assert samples.reached_at(150) == 1.0
    assert samples.last_change_at() == 1.0


def test_a_run_that_never_started_has_no_rate() -> None:
    assert throughput(series((0.0, 7), (1.0, 7)), done_at=1.0).eps == 0.0


def test_p99_counts_missing_probes_as_slower_than_any() -> None:
    complete = LatencyRun(2000, 2000.0, 100, {f"p{n}": float(n) for n in range(100)})
    two_missing = LatencyRun(2000, 2000.0, 100, {f"p{n}": 1.0 for n in range(98)})

    assert complete.percentile(0.99) == 98.0
    assert complete.percentile(0.5) == 49.0
    assert two_missing.percentile(0.99) is None


def test_every_percentile_takes_the_nearest_rank() -> None:
    hundred = [float(n) for n in range(1, 101)]

    assert nearest_rank(hundred, 0.99) == 99.0
    assert nearest_rank(hundred, 0.5) == 50.0
    assert nearest_rank([10.0, 20.0], 0.5) == 10.0
    assert nearest_rank([10.0, 20.0], 0.99) == 20.0
    assert nearest_rank([], 0.5) is None


def test_the_summary_line_carries_every_figure_and_ratio() -> None:
    result = BenchResult(
        events=1000,
        raw_runs=[Throughput(1000, 0.1)],
        faust_runs=[Throughput(1000, 1.0)],
        one_worker_runs=[PipelineRun(1, Throughput(1000, 0.5), outputs=10)],
        two_worker_runs=[PipelineRun(2, Throughput(1000, 0.3125), outputs=10)],
        latency=LatencyRun(2000, 2000.0, probes=1, by_probe={"p1": 123.4}),
    )

    assert summary_line(result) == (
        "bench: pipeline_eps=2000 faust_baseline_eps=1000 raw_eps=10000 "
        "ratio_vs_faust=2.00 ratio_vs_raw=0.20 p99_ms=123 scale2=1.60"
    )


def test_repeated_runs_count_with_their_median_so_one_slow_spell_decides_nothing() -> None:
    def worker_runs(workers: int, *seconds: float) -> list[PipelineRun]:
        return [PipelineRun(workers, Throughput(1000, each), outputs=10) for each in seconds]

    result = BenchResult(
        events=1000,
        raw_runs=[Throughput(1000, 0.1), Throughput(1000, 0.05), Throughput(1000, 0.125)],
        faust_runs=[Throughput(1000, 1.0), Throughput(1000, 2.0)],
        one_worker_runs=worker_runs(1, 0.5, 1.0, 0.4),  # 2,000, a slow 1,000, 2,500 events/s
        two_worker_runs=worker_runs(2, 0.25, 0.3125, 0.2),  # 4,000, 3,200, 5,000 events/s
    )
    console = Console(record=True, width=250)

    render_table(result, console)

    assert summary_line(result) == (
        "bench: pipeline_eps=2000 faust_baseline_eps=500 raw_eps=10000 "
        "ratio_vs_faust=4.00 ratio_vs_raw=0.20 p99_ms=inf scale2=2.00"
    )
    rows = console.export_text().splitlines()
    assert any(
        "1 worker" in row and "median of 3 runs (2,000, 1,000, 2,500 events/s)" in row
        for row in rows
    )
    assert any(
        "stock Faust" in row and "median of 2 runs (1,000, 500 events/s)" in row for row in rows
    )


def test_failed_scenarios_leave_zeros_and_an_infinite_p99() -> None:
    result = BenchResult(events=1000)

    assert math.isinf(result.p99_ms)
    assert summary_line(result) == (
        "bench: pipeline_eps=0 faust_baseline_eps=0 raw_eps=0 "
        "ratio_vs_faust=0.00 ratio_vs_raw=0.00 p99_ms=inf scale2=0.00"
    )


def test_the_sustained_load_is_half_a_workers_rate_in_steps_of_fifty() -> None:
    assert sustainable_rate(311.0) == 150
    assert sustainable_rate(99.0) == 0
    assert sustainable_rate(0.0) == 0


def test_the_table_compares_each_other_pipeline_arm_with_one_worker() -> None:
    result = BenchResult(
        events=1000,
        one_worker_runs=[PipelineRun(1, Throughput(1000, 0.5), outputs=10)],
        rocksdb_runs=[PipelineRun(1, Throughput(1000, 0.625), outputs=10)],
        two_worker_runs=[PipelineRun(2, Throughput(1000, 0.625), outputs=10)],
        standby_runs=[PipelineRun(2, Throughput(1000, 0.4), outputs=10)],
    )
    console = Console(record=True, width=200)

    render_table(result, console)

    rows = console.export_text().splitlines()
    assert any("tables in RocksDB" in row and "default store, x0.80" in row for row in rows)
    assert any("2 workers" in row and "x0.80" in row for row in rows)
    assert any("with standby copies" in row and "x1.25" in row for row in rows)
    assert "pipeline_eps=2000 " in summary_line(result), "the summary keeps the memory tables"


def test_two_workers_are_also_compared_with_one_round_by_round() -> None:
    def run(workers: int, round_index: int, seconds: float) -> PipelineRun:
        return PipelineRun(workers, Throughput(1000, seconds), 10, round_index=round_index)

    result = BenchResult(
        events=1000,
        one_worker_runs=[run(1, 0, 0.5), run(1, 1, 1.0), run(1, 2, 0.4)],  # 2,000, 1,000, 2,500
        two_worker_runs=[run(2, 2, 0.4), run(2, 0, 1 / 3)],  # round 2: 2,500; round 0: 3,000
        standby_runs=[run(2, 1, 0.5)],
    )
    console = Console(record=True, width=250)

    render_table(result, console)

    assert result.round_by_round(result.two_worker_runs) == pytest.approx([1.5, 1.0])
    rows = console.export_text().splitlines()
    assert any("2 workers" in row and "x1.25 (rounds x1.50, x1.00)" in row for row in rows)
    assert any("with standby copies" in row and "x1.00, " in row for row in rows)
    assert not any("with standby copies" in row and "rounds" in row for row in rows)


def test_the_table_bounds_two_workers_by_what_the_cores_allow_at_their_cpu_per_event() -> None:
    cost = CpuPerEvent(workers=400.0, broker=100.0)  # the cores allow 2,000 events/s per core
    result = BenchResult(
        events=1000,
        one_worker_runs=[PipelineRun(1, Throughput(1000, 0.5), outputs=10, cpu=cost)],  # 2,000/s
        two_worker_runs=[PipelineRun(2, Throughput(1000, 0.4), outputs=10, cpu=cost)],
    )
    console = Console(record=True, width=300)

    render_table(result, console)

    bound = usable_cores() * 2_000 / 2_000
    rows = console.export_text().splitlines()
    assert any(
        "2 workers" in row and f"the cores allow at most x{bound:.2f}" in row for row in rows
    )
    assert not any("1 worker" in row and "allow at most" in row for row in rows)


def test_the_table_shows_each_hop_of_the_probes_at_a_sustained_load() -> None:
    result = BenchResult(events=1000, sustained_hops=[Hop("identity resolver", 150, 41.0, 97.0)])
    console = Console(record=True, width=200)

    render_table(result, console)

    rows = console.export_text().splitlines()
    assert any("hop: identity resolver" in r and "p50 41 ms, p99 97 ms" in r for r in rows)
