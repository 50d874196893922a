"""Scenarios (c) and (d): the real pipeline, `journeyhub worker` processes on preloaded topics.

The rate counts source events from the first one a worker read until the last was read, every
agent of every worker went idle and the outputs (profiles, leads, actuals, jobs, alerts, dead
letters) stopped growing: whatever the registered domains do is waited for, unnamed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from schemas.catalog import CATALOG
from streams.kafka import ensure_topics
from tests.bench.cluster import Cluster, send_all
from tests.bench.cpu import BROKER, CpuPerEvent, cpu_per_event, cpu_snapshot
from tests.bench.measure import SAMPLE_INTERVAL, Series, Throughput, throughput
from tests.bench.preload import EncodedEvent
from tests.bench.processes import Profiler, WorkerProcess, running_workers
from tests.bench.tally import TopicTally

OUTPUT_TOPICS = (
    *(spec.name for spec in CATALOG.values() if spec.kind == "derived"),
    *(spec.dlq for spec in CATALOG.values() if spec.kind == "source"),
)
"""Where the pipeline's effects become visible: derived topics and source dead letters."""
QUIET_SECONDS = 3.0
"""Workers idle and outputs unchanged for this long, after the last input was read: done."""


@dataclass(frozen=True)
class PipelineRun:
    """What one run of the pipeline did.

    Attributes:
        workers: Worker processes in the consumer group.
        throughput: Source events per second, first read to last effect written.
        outputs: Records the run wrote to the output topics.
        complete: False when the time ran out first; the rate is then that of the events
            read so far, which overstates a pipeline whose later stages lag behind.
        cpu: What each event cost the workers and the embedded broker, first read to done.
        round_index: The benchmark's round the run belongs to; a round runs each arm once.
    """

    workers: int
    throughput: Throughput
    outputs: int
    complete: bool = True
    cpu: CpuPerEvent | None = None
    round_index: int = 0

    @property
    def eps(self) -> float:
        """Source events per second of the run."""
        return self.throughput.eps


def prepare_sources(cluster: Cluster, mix: Sequence[EncodedEvent]) -> None:
    """Create every contract topic and preload the mix onto the source topics."""
    ensure_topics(cluster.settings(), CATALOG.values())
    send_all(cluster, mix)


def run_pipeline(
    cluster: Cluster,
    mix: Sequence[EncodedEvent],
    workers: int,
    log_dir: Path,
    timeout: float,
    profiler: Profiler | None = None,
    settings: Mapping[str, str] | None = None,
) -> PipelineRun:
    """Preload the mix, start ``workers`` workers at once and time them through it.

    With a ``profiler``, the first worker is profiled from its first event to the end;
    ``settings`` are environment variables of every worker, e.g. a standby count.

    Raises:
        RuntimeError: A worker exited.
    """
    prepare_sources(cluster, mix)
    with (
        TopicTally(cluster, OUTPUT_TOPICS) as outputs,
        running_workers(cluster, workers, log_dir, settings) as processes,
    ):
        pids = {f"worker-{index}": worker.process.pid for index, worker in enumerate(processes)}
        if cluster.broker_pid is not None:
            pids[BROKER] = cluster.broker_pid
        try:
            return _until_settled(processes, pids, outputs, len(mix), timeout, profiler)
        finally:
            if profiler is not None:
                profiler.stop()


def _until_settled(
    processes: list[WorkerProcess],
    pids: Mapping[str, int],
    outputs: TopicTally,
    events: int,
    timeout: float,
    profiler: Profiler | None,
) -> PipelineRun:
    """Sample inputs, worker activity and outputs until all is read and everything is quiet.

    The CPU of the processes in ``pids`` is read from the sample that first saw an event read
    to the last sample in which anything changed.
    """
    inputs, written, activity = Series(), Series(), Series()
    changes, last_samples = 0, ""
    cpu_at_start: dict[str, float] | None = None
    cpu_at_change: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        progress = [process.progress() for process in processes]
        cpu = cpu_snapshot(pids)
        samples = "\n".join(text for _, text in progress)
        changes, last_samples = changes + (samples != last_samples), samples
        inputs.add(now, sum(read for read, _ in progress))
        written.add(now, outputs.count())
        activity.add(now, changes)
        if inputs.started_at() is not None:
            if cpu_at_start is None:
                cpu_at_start = cpu
            if profiler is not None:
                profiler.start(processes[0])
        read_all = inputs.reached_at(events)
        last = max(written.last_change_at() or 0.0, activity.last_change_at() or 0.0)
        if now in (last, read_all):  # something changed in this sample
            cpu_at_change = cpu
        if read_all is not None and now - max(read_all, last) >= QUIET_SECONDS:
            done = max(read_all, last)
            rate = throughput(inputs, done)
            used = cpu_per_event(cpu_at_start or {}, cpu_at_change, rate.events)
            return PipelineRun(len(processes), rate, written.last, cpu=used)
        if now > deadline:
            return PipelineRun(len(processes), throughput(inputs, now), written.last, False)
        for process in processes:
            process.check_alive()
        time.sleep(SAMPLE_INTERVAL)
