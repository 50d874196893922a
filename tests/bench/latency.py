"""Scenario (c), second half: end-to-end latency at a fixed offered load.

The realistic mix is offered at a steady rate and, among it, probes: product views of
brand-new sessions. A probe's effect is the profile that names its session on
``customer360.profiles``; the time from sending the probe to reading that profile is its
latency, so the figure covers intake, identity resolution, the profile and the emit.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Message, Producer

from schemas.catalog import CATALOG
from schemas.codec import Codec
from streams.kafka import ensure_topics
from streams.workload import PRODUCTS, WorkloadBuilder
from tests.bench.cluster import Cluster
from tests.bench.preload import EncodedEvent
from tests.bench.processes import running_workers, wait_healthy
from tests.bench.tally import TopicTally

PROFILES = "customer360.profiles"
PROBE_TOPIC = "shop.events"
PROBE_EVERY = 40
"""One event in this many is a probe: 50 probes a second at 2,000 events a second."""
TICK = 0.005
SETTLE_SECONDS = 15.0


def nearest_rank(
    ordered: Sequence[float], share: float, population: int | None = None
) -> float | None:
    """The value below which ``share`` of a population lies, by the nearest-rank rule.

    One rule serves every percentile the bench prints, so the end-to-end figure and the
    hops it is made of are read the same way. ``ordered`` holds the values seen, smallest
    first; ``population`` also counts those never seen (slower than any, so a rank among
    them has no value: None). It defaults to the values seen.
    """
    size = len(ordered) if population is None else population
    if size == 0:
        return None
    rank = max(1, round(share * size))
    return ordered[rank - 1] if rank <= len(ordered) else None


@dataclass(frozen=True)
class LatencyRun:
    """Latencies of the probes of one run, in milliseconds.

    Attributes:
        offered_eps: The offered load, events per second.
        achieved_eps: The rate the sender kept up.
        probes: Probes sent.
        by_probe: Latency of each probe whose profile appeared, in sending order.
    """

    offered_eps: int
    achieved_eps: float
    probes: int
    by_probe: dict[str, float]

    @property
    def latencies_ms(self) -> list[float]:
        """The latencies of the probes that arrived, in sending order."""
        return list(self.by_probe.values())

    @property
    def missing(self) -> int:
        """Probes whose profile did not appear within the settle time."""
        return self.probes - len(self.latencies_ms)

    def percentile(self, share: float) -> float | None:
        """The latency below which ``share`` of all probes came; None if that many never came.

        A missing probe counts as slower than any that arrived.
        """
        return nearest_rank(sorted(self.latencies_ms), share, population=self.probes)

    @property
    def mean_ms(self) -> float | None:
        """Mean latency of the probes that arrived."""
        return statistics.fmean(self.latencies_ms) if self.latencies_ms else None


def sustainable_rate(pipeline_eps: float) -> int:
    """Half the rate one worker reached, in steps of 50: a load it keeps up with.

    The latency at the fixed offered load is unbounded when that load exceeds what a worker
    processes; this second figure shows the latency of the pipeline itself. 0 without a rate.
    """
    return int(pipeline_eps / 2 / 50) * 50


def probe_prefix(cluster: Cluster) -> str:
    """The start of every probe's session id (and key) in a run on ``cluster``."""
    return f"bench-probe-{cluster.run_id}-"


def probe_record(session_id: str, at: datetime) -> dict[str, Any]:
    """A product view of a session no one has seen: it creates a profile of its own."""
    value = WorkloadBuilder(seed=0).shop_event("product_view", session_id, at, product=PRODUCTS[0])
    return {**value, "event_id": session_id}


def profile_sessions(codec: Codec, prefix: str) -> Any:
    """A spotter naming the probe sessions a profile record lists."""

    def spot(message: Message) -> list[str]:
        value = message.value()
        if value is None:
            return []
        sessions = codec.decode(PROFILES, value)["identities"]["session_ids"]
        return [session for session in sessions if session.startswith(prefix)]

    return spot


def offer(
    producer: Producer,
    events: Sequence[EncodedEvent],
    rate: int,
    probes: Iterator[tuple[str, bytes]],
    sent: dict[str, float],
) -> float:
    """Send ``events`` at ``rate`` a second, every :data:`PROBE_EVERY`-th a probe.

    Returns:
        The rate achieved, events per second.
    """
    started = time.monotonic()
    index = 0
    while index < len(events):
        due = min(len(events), int((time.monotonic() - started) * rate) + 1)
        while index < due:
            if index % PROBE_EVERY == 0:
                session_id, value = next(probes)
                sent[session_id] = time.time()
                producer.produce(PROBE_TOPIC, key=session_id.encode(), value=value)
            else:
                event = events[index]
                producer.produce(event.topic, key=event.key, value=event.value)
            index += 1
        producer.poll(0)
        time.sleep(TICK)
    producer.flush(30)
    return len(events) / (time.monotonic() - started)


def run_latency(
    cluster: Cluster,
    mix: Sequence[EncodedEvent],
    codec: Codec,
    rate: int,
    seconds: float,
    log_dir: Path,
) -> LatencyRun:
    """Offer ``rate`` events a second for ``seconds`` to one running worker and time probes."""
    ensure_topics(cluster.settings(), CATALOG.values())
    prefix = probe_prefix(cluster)

    def probes() -> Iterator[tuple[str, bytes]]:
        number = 0
        while True:
            number += 1
            session_id = f"{prefix}{number:06d}"
            record = probe_record(session_id, datetime.now(UTC))
            yield session_id, codec.encode(PROBE_TOPIC, record)

    events = list(mix[: int(rate * seconds)])
    sent: dict[str, float] = {}
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "linger.ms": 1})
    with (
        running_workers(cluster, 1, log_dir) as workers,
        TopicTally(cluster, [PROFILES], profile_sessions(codec, prefix)) as tally,
    ):
        wait_healthy(workers)
        achieved = offer(producer, events, rate, probes(), sent)
        deadline = time.monotonic() + SETTLE_SECONDS
        while len(tally.seen()) < len(sent) and time.monotonic() < deadline:
            time.sleep(0.2)
        seen = tally.seen()
    latencies = {probe: (seen[probe] - at) * 1000 for probe, at in sent.items() if probe in seen}
    return LatencyRun(rate, achieved, len(sent), latencies)
