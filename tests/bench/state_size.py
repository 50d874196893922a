"""Profile state per customer: the bytes the profile table keeps for one person.

A table's state is what its changelog holds for each key after compaction: the last value
written. Reading the changelog after a pipeline run and averaging those last values gives
the state per customer that the worker keeps in memory or RocksDB and that a restarted
worker has to recover.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from streams.app import APP_ID
from streams.kafka import end_offsets
from streams.profile_agent import PROFILES_TABLE
from tests.bench.cluster import Cluster

PROFILES_CHANGELOG = f"{APP_ID}-{PROFILES_TABLE}-changelog"
"""Faust names a table's changelog ``<app id>-<table>-changelog``."""
_READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class StateSize:
    """The last value of every key of a changelog, summed up.

    Attributes:
        keys: Keys that hold a value (tombstoned keys are gone).
        mean_bytes: Mean size of those values.
        max_bytes: Size of the largest one.
    """

    keys: int
    mean_bytes: float
    max_bytes: int


def last_value_sizes(cluster: Cluster, topic: str) -> dict[bytes, int]:
    """The size of the last value of every key of ``topic``; tombstoned keys are left out."""
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap,
            "group.id": f"bench-state-{cluster.run_id}",
            "enable.auto.commit": "false",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        listed = end_offsets(consumer, topic, partitions)
        ends = {p: end for p, end in listed.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        sizes: dict[bytes, int] = {}
        deadline = time.monotonic() + _READ_TIMEOUT
        while ends:
            if time.monotonic() > deadline:
                msg = f"{topic} stopped short of its end; partitions left: {sorted(ends)}"
                raise RuntimeError(msg)
            for message in consumer.consume(1000, 0.2):
                partition, offset = message.partition(), message.offset()
                if message.error() is not None or partition is None or offset is None:
                    continue
                key, value = message.key() or b"", message.value()
                if value is None:
                    sizes.pop(key, None)
                else:
                    sizes[key] = len(value)
                if offset + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
        return sizes
    finally:
        consumer.close()


def profile_state(cluster: Cluster) -> StateSize:
    """The profile table's state per customer after a run on ``cluster``."""
    sizes = list(last_value_sizes(cluster, PROFILES_CHANGELOG).values())
    if not sizes:
        return StateSize(0, 0.0, 0)
    return StateSize(len(sizes), statistics.fmean(sizes), max(sizes))
