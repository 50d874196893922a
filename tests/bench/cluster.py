"""The Kafka side of the benchmark: a clean broker per scenario, its topics, loading, reading.

Against the embedded broker every scenario gets a fresh one, so no consumer group, table or
topic of one scenario colours the next; ``KAFKA_BOOTSTRAP_SERVERS`` names a shared one.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.broker import EmbeddedBroker, free_port
from streams.kafka import end_offsets
from streams.settings import Settings
from tests.bench.preload import EncodedEvent

PARTITIONS = 4
"""Partitions of the benchmark's own topics, as many as every source topic has."""
SEND_TIMEOUT = 120.0
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class Cluster:
    """A Kafka to run one scenario on.

    Attributes:
        bootstrap: ``host:port`` for clients.
        embedded: True for a fresh embedded broker that holds nothing but this scenario.
        run_id: A suffix that keeps the benchmark's own topics apart on a shared Kafka.
        broker_pid: The embedded broker's process, whose CPU a scenario may measure.
    """

    bootstrap: str
    embedded: bool
    run_id: str
    broker_pid: int | None = None

    def topic(self, name: str) -> str:
        """Name a benchmark topic so that it is new on this cluster."""
        return name if self.embedded else f"{name}.{self.run_id}"

    def settings(self) -> Settings:
        """Journeyhub settings for clients of this cluster."""
        return Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap})


@contextlib.contextmanager
def fresh_cluster(log_dir: Path) -> Iterator[Cluster]:
    """A Kafka for one scenario: ``KAFKA_BOOTSTRAP_SERVERS``, else a new embedded broker."""
    run_id = uuid.uuid4().hex[:8]
    log_dir.mkdir(parents=True, exist_ok=True)
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield Cluster(configured, embedded=False, run_id=run_id)
        return
    with EmbeddedBroker(port=free_port(), log_path=log_dir / f"broker-{run_id}.log") as broker:
        yield Cluster(broker.bootstrap_servers, embedded=True, run_id=run_id, broker_pid=broker.pid)


def create_topics(cluster: Cluster, names: Iterable[str]) -> None:
    """Create the benchmark's own topics with :data:`PARTITIONS` partitions each."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    futures = admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in names])
    for future in futures.values():
        future.result()


def send_all(cluster: Cluster, events: Sequence[EncodedEvent], topic: str | None = None) -> None:
    """Send records and wait for the broker to store them.

    Args:
        cluster: Where to send.
        events: The records.
        topic: Send every record here instead of to its own topic.
    """
    producer = Producer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": max(len(events), 100_000),
        }
    )
    for event in events:
        producer.produce(topic or event.topic, key=event.key, value=event.value)
        producer.poll(0)
    left = producer.flush(SEND_TIMEOUT)
    if left:
        msg = f"the broker did not confirm {left} records within {SEND_TIMEOUT:g} s"
        raise RuntimeError(msg)


def read_all(cluster: Cluster, topic: str) -> Iterator[Message]:
    """Every record of ``topic`` up to its end as of the call, each partition in offset order.

    Raises:
        RuntimeError: The records stopped short of the end within :data:`READ_TIMEOUT`.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": f"bench-read-{cluster.run_id}",
            "enable.auto.commit": "false",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: end for p, end in end_offsets(consumer, topic, partitions).items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        deadline = time.monotonic() + READ_TIMEOUT
        while ends:
            if time.monotonic() > deadline:
                msg = f"{topic} stopped short of its end; partitions left: {sorted(ends)}"
                raise RuntimeError(msg)
            for message in consumer.consume(1000, 0.2):
                partition, offset = message.partition(), message.offset()
                if message.error() is not None or partition is None or offset is None:
                    continue
                if partition in ends and offset < ends[partition]:
                    yield message
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
    finally:
        consumer.close()
