"""What `make bench` prints: a table for people, then one line for scripts.

The last line is the contract with whoever tracks the figures over time:
``bench: pipeline_eps=N faust_baseline_eps=N raw_eps=N ratio_vs_faust=X ratio_vs_raw=X
p99_ms=N scale2=X``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from tests.bench.connector import ConnectorRun
from tests.bench.cpu import usable_cores
from tests.bench.hops import Hop
from tests.bench.latency import LatencyRun
from tests.bench.measure import Throughput
from tests.bench.pipeline import PipelineRun
from tests.bench.state_size import StateSize

_Run = TypeVar("_Run", Throughput, PipelineRun)


@dataclass
class BenchResult:
    """Every figure of one benchmark run; a scenario that failed leaves its field empty."""

    events: int
    raw_runs: list[Throughput] = field(default_factory=list)
    faust_runs: list[Throughput] = field(default_factory=list)
    lean_runs: list[Throughput] = field(default_factory=list)
    domain: Throughput | None = None
    one_worker_runs: list[PipelineRun] = field(default_factory=list)
    rocksdb_runs: list[PipelineRun] = field(default_factory=list)
    two_worker_runs: list[PipelineRun] = field(default_factory=list)
    standby_runs: list[PipelineRun] = field(default_factory=list)
    latency: LatencyRun | None = None
    sustained_latency: LatencyRun | None = None
    sustained_hops: list[Hop] = field(default_factory=list)
    connector: ConnectorRun | None = None
    profile_state: StateSize | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def raw(self) -> Throughput | None:
        """The median raw passthrough."""
        return median_of(self.raw_runs)

    @property
    def faust(self) -> Throughput | None:
        """The median stock Faust passthrough."""
        return median_of(self.faust_runs)

    @property
    def lean_faust(self) -> Throughput | None:
        """The median Faust passthrough on our consume and publish paths."""
        return median_of(self.lean_runs)

    @property
    def one_worker(self) -> PipelineRun | None:
        """The median one-worker run of the pipeline."""
        return median_of(self.one_worker_runs)

    @property
    def one_worker_rocksdb(self) -> PipelineRun | None:
        """The median one-worker run with its tables in RocksDB, the worker's default store."""
        return median_of(self.rocksdb_runs)

    @property
    def two_workers(self) -> PipelineRun | None:
        """The median two-worker run on the default settings (in memory: no standby copies)."""
        return median_of(self.two_worker_runs)

    @property
    def two_workers_standby(self) -> PipelineRun | None:
        """The median two-worker run with a standby copy of each table partition."""
        return median_of(self.standby_runs)

    @property
    def pipeline_eps(self) -> float:
        """Events per second of the median one-worker run, 0 when every run failed."""
        return self.one_worker.throughput.eps if self.one_worker else 0.0

    @property
    def p99_ms(self) -> float:
        """p99 latency at the offered load; infinite when more than 1 % of probes never came."""
        value = self.latency.percentile(0.99) if self.latency else None
        return math.inf if value is None else value

    @property
    def scale2(self) -> float:
        """The median two workers' rate over the median one worker's, on the default settings."""
        return self.over_one_worker(self.two_workers)

    def over_one_worker(self, run: PipelineRun | None) -> float:
        """A run's rate over one worker's; 0 when either failed."""
        if not (run and self.pipeline_eps):
            return 0.0
        return run.throughput.eps / self.pipeline_eps

    def round_by_round(self, runs: Sequence[PipelineRun]) -> list[float]:
        """Each run's rate over the one-worker run of its own round, in round order.

        The runs of a round follow each other within minutes, so these ratios show how much
        of the ratio of the medians is the machine's swing between rounds.
        """
        one_worker = {run.round_index: run.eps for run in self.one_worker_runs}
        return [
            run.eps / one_worker[run.round_index]
            for run in sorted(runs, key=lambda run: run.round_index)
            if one_worker.get(run.round_index)
        ]


def median_of(runs: Sequence[_Run]) -> _Run | None:
    """The run of median rate (the slower middle one of an even count), None if none ran.

    This machine's speed swings by a third between runs minutes apart; one slow spell in a
    single run would otherwise decide a ratio such as two workers over one.
    """
    ranked = sorted(runs, key=lambda run: run.eps)
    return ranked[(len(ranked) - 1) // 2] if ranked else None


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _rate_row(name: str, result: Throughput | None, note: str) -> list[str]:
    if result is None:
        return [name, "-", "-", "failed", note]
    return [name, f"{result.events:,}", f"{result.seconds:.2f}", f"{result.eps:,.0f}", note]


def _median_row(name: str, runs: Sequence[Throughput], note: str) -> list[str]:
    return _rate_row(name, median_of(runs), _runs(runs) + note)


def _runs(runs: Sequence[Throughput | PipelineRun]) -> str:
    """``median of 3 runs (2,183, 1,472, 2,050 events/s); `` in run order; empty for one run."""
    if len(runs) < 2:
        return ""
    rates = ", ".join(f"{run.eps:,.0f}" for run in runs)
    return f"median of {len(runs)} runs ({rates} events/s); "


def _pipeline_row(
    name: str, runs: Sequence[PipelineRun], prefix: str, one_worker_eps: float = 0.0
) -> list[str]:
    """A pipeline scenario's median run; with ``one_worker_eps``, the most the cores allow it.

    That bound is the rate all cores would reach at the run's CPU per event, over one
    worker's rate: more workers outrun one by at most this much on this machine.
    """
    run = median_of(runs)
    if run is None:
        return _rate_row(name, None, "")
    note = f"{prefix}{_runs(runs)}{run.outputs:,} records out"
    if run.cpu is not None:
        cores = usable_cores()
        busy = run.cpu.cores_busy(run.throughput.eps)
        note += (
            f"; CPU per event: workers {_us(run.cpu.workers)}, broker {_us(run.cpu.broker)}"
            f" ({busy:.2f} of {cores} cores busy)"
        )
        if one_worker_eps:
            bound = run.cpu.most_eps(cores) / one_worker_eps
            note += f"; at this cost the cores allow at most x{bound:.2f}"
    if not run.complete:
        note += "; time ran out: rate of the events read"
    return _rate_row(name, run.throughput, note)


def _over_one_worker(ratio: float, rounds: Sequence[float]) -> str:
    """``x1.49 (rounds x1.27, x1.49, x1.07), ``: the ratio of the medians, then each round's."""
    if len(rounds) < 2:
        return f"x{ratio:.2f}, "
    return f"x{ratio:.2f} (rounds {', '.join(f'x{each:.2f}' for each in rounds)}), "


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} µs"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _latency_row(latency: LatencyRun) -> list[str]:
    return [
        f"(c) latency at {latency.offered_eps:,} events/s",
        f"{latency.probes:,} probes",
        "",
        f"{latency.achieved_eps:,.0f}",
        f"p50 {_ms(latency.percentile(0.5))}, p99 {_ms(latency.percentile(0.99))}, "
        f"missing {latency.missing}",
    ]


def render_table(result: BenchResult, console: Console) -> None:
    """Print one row per scenario and the notes below."""
    table = Table(title=f"journeyhub bench ({result.events:,} events of the realistic mix)")
    for column in ("scenario", "events", "seconds", "events/s", "note"):
        table.add_column(column, justify="left" if column in ("scenario", "note") else "right")
    table.add_row(
        *_median_row("(a) raw aiokafka passthrough", result.raw_runs, "consume + produce")
    )
    table.add_row(
        *_median_row("(b) stock Faust passthrough", result.faust_runs, "one event at a time")
    )
    table.add_row(
        *_median_row("(b) same on our paths", result.lean_runs, "lean consumer and topics, batches")
    )
    faust_eps = result.faust.eps if result.faust else 0.0
    domain_eps = result.domain.eps if result.domain else 0.0
    table.add_row(
        *_rate_row(
            "(c) domain code alone, no broker",
            result.domain,
            f"ceiling of one worker, x{_ratio(domain_eps, faust_eps):.1f} stock Faust",
        )
    )
    table.add_row(*_pipeline_row("(c) journeyhub pipeline, 1 worker", result.one_worker_runs, ""))
    on_disk = result.over_one_worker(result.one_worker_rocksdb)
    table.add_row(
        *_pipeline_row(
            "(c) same, tables in RocksDB",
            result.rocksdb_runs,
            "the default store, "
            + _over_one_worker(on_disk, result.round_by_round(result.rocksdb_runs)),
        )
    )
    table.add_row(
        *_pipeline_row(
            "(d) journeyhub pipeline, 2 workers",
            result.two_worker_runs,
            _over_one_worker(result.scale2, result.round_by_round(result.two_worker_runs)),
            result.pipeline_eps,
        )
    )
    copied = result.over_one_worker(result.two_workers_standby)
    table.add_row(
        *_pipeline_row(
            "(d) same, with standby copies",
            result.standby_runs,
            _over_one_worker(copied, result.round_by_round(result.standby_runs)),
            result.pipeline_eps,
        )
    )
    for latency in (result.latency, result.sustained_latency):
        if latency is not None:
            table.add_row(*_latency_row(latency))
    for hop in result.sustained_hops:
        table.add_row(
            f"    hop: {hop.name}",
            f"{hop.probes:,} probes",
            "",
            "",
            f"p50 {_ms(hop.p50_ms)}, p99 {_ms(hop.p99_ms)}",
        )
    state = result.profile_state
    if state is not None:
        table.add_row(
            "(c) profile state per customer",
            f"{state.keys:,} profiles",
            "",
            "",
            f"mean {state.mean_bytes:,.0f} bytes, largest {state.max_bytes:,} bytes",
        )
    crm = result.connector
    table.add_row(
        *_rate_row(
            "(e) CRM connector deliveries",
            crm.throughput if crm else None,
            f"{crm.contacts:,} contacts, {crm.leads:,} leads" if crm else "",
        )
    )
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}")


def summary_line(result: BenchResult) -> str:
    """The one line scripts read, always the last thing the benchmark prints."""
    faust = result.faust.eps if result.faust else 0.0
    raw = result.raw.eps if result.raw else 0.0
    pipeline = result.pipeline_eps
    p99 = "inf" if math.isinf(result.p99_ms) else f"{result.p99_ms:.0f}"
    return (
        f"bench: pipeline_eps={pipeline:.0f} faust_baseline_eps={faust:.0f} raw_eps={raw:.0f} "
        f"ratio_vs_faust={_ratio(pipeline, faust):.2f} ratio_vs_raw={_ratio(pipeline, raw):.2f} "
        f"p99_ms={p99} scale2={result.scale2:.2f}"
    )
