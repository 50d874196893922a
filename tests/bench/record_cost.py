"""`python -m tests.bench.record_cost`: the CPU one record costs to publish, Faust's way and ours.

A worker publishes some three records per source event: two table writes' changelog records
and about one output. What each costs the worker's process is measured here apart from
everything else, on a fresh embedded broker (or ``KAFKA_BOOTSTRAP_SERVERS``): an app with the
worker's transport and producer writes a number of rows into a memory table, then sends as
many records to a topic, and flushes after each; the process's CPU time over it, divided by
the records, is the cost of one (the producer's own work included: it runs in the same
process). The arms are Faust's ``Table``, ``Topic`` and serializers against the worker's
(:mod:`streams.lean_table`, :mod:`streams.lean_topic`, :mod:`streams.lean_registry`),
alternating in rounds, since this machine's speed swings between runs; each arm's median
counts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from confluent_kafka import Consumer

from streams.embedded_transport import use_embedded_transport
from streams.kafka import end_offsets, faust_broker_options
from streams.lean_registry import LeanRegistry
from streams.lean_table import LeanTable
from streams.lean_topic import LeanTopic
from streams.settings import Settings
from tests.bench.cluster import PARTITIONS, Cluster, create_topics, fresh_cluster

ROW = {"visits": 3, "name": "a value of the size of a small row", "score": 0.5}
"""The value of every table write."""
OUTPUT = b"x" * 300
"""The value of every output, about an Avro profile's size."""
BATCH = 500
"""Records between two turns of the event loop, as an agent's burst gives the sender one."""


@dataclass(frozen=True)
class Arm:
    """Which table and topic classes, and which serializers, an app uses."""

    name: str
    table: type[faust.Table]
    topic: type[faust.Topic]
    serializers: type[faust.serializers.Registry]


ARMS = (
    Arm("Faust", faust.Table, faust.Topic, faust.serializers.Registry),
    Arm("journeyhub", LeanTable, LeanTopic, LeanRegistry),
)


@dataclass(frozen=True)
class Cost:
    """CPU microseconds of the measuring process per record, and the records the broker got."""

    table_write_us: float
    output_us: float
    delivered: int


def _partition_zero(table_class: type[faust.Table]) -> type[faust.Table]:
    """The table class, writing every row's changelog record to partition 0.

    A table writes to the partition of the event its stream is processing; no stream runs
    here, so every write goes where an event of partition 0 would send it.
    """

    class PartitionZero(table_class):  # type: ignore[valid-type,misc]
        def partition_for_key(self, key: Any) -> int:
            return 0

    return PartitionZero


async def measure(cluster: Cluster, arm: Arm, records: int) -> Cost:
    """Publish ``records`` table writes, then ``records`` outputs; return what one cost."""
    app = faust.App(
        f"bench-records-{arm.name}-{uuid.uuid4().hex[:8]}",
        **faust_broker_options(cluster.settings()),
        Table=_partition_zero(arm.table),
        Topic=arm.topic,
        Serializers=arm.serializers,
        web_enabled=False,
    )
    use_embedded_transport(app)
    table = app.Table("rows", key_type=str, partitions=PARTITIONS)
    output = app.topic(f"{app.conf.id}-out", key_type=str, value_serializer="raw")
    topics = [table.changelog_topic.get_topic_name(), output.get_topic_name()]
    create_topics(cluster, topics)

    def write(index: int) -> None:
        table[f"c-{index}"] = ROW

    async def send(index: int) -> None:
        await output.send(key=f"c-{index}", value=OUTPUT)

    await app.producer.start()
    try:
        table_cpu = await _timed(app, write, records)
        output_cpu = await _timed(app, send, records)
    finally:
        await app.producer.stop()
    delivered = sum(_records_on(cluster, name) for name in topics)
    return Cost(table_cpu / records * 1e6, output_cpu / records * 1e6, delivered)


def _records_on(cluster: Cluster, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "bench-records"})
    try:
        return sum(end_offsets(consumer, topic, range(PARTITIONS)).values())
    finally:
        consumer.close()


async def _timed(
    app: faust.App, publish: Callable[[int], Awaitable[None] | None], records: int
) -> float:
    """CPU seconds of this process to publish ``records`` records and flush them."""
    started = time.process_time()
    for index in range(records):
        sending = publish(index)
        if sending is not None:
            await sending
        if index % BATCH == BATCH - 1:
            await asyncio.sleep(0)
    await app.producer.flush()
    return time.process_time() - started


def main() -> None:
    """Run the rounds and print each arm's runs and median, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    costs: dict[str, list[Cost]] = {arm.name: [] for arm in ARMS}
    log_dir = Settings.from_env().data_dir / "bench" / time.strftime("record-cost-%Y%m%d-%H%M%S")
    with fresh_cluster(log_dir) as cluster:
        for round_index in range(args.rounds):
            for arm in ARMS if round_index % 2 == 0 else ARMS[::-1]:
                cost = asyncio.run(measure(cluster, arm, args.records))
                costs[arm.name].append(cost)
                print(
                    f"round {round_index + 1}, {arm.name}: {cost.table_write_us:.1f} µs per "
                    f"table write, {cost.output_us:.1f} µs per output, "
                    f"{cost.delivered} records delivered"
                )
    faust_table, faust_output = _medians(costs["Faust"])
    lean_table, lean_output = _medians(costs["journeyhub"])
    print(
        f"records: faust_table_write_us={faust_table:.1f} lean_table_write_us={lean_table:.1f} "
        f"faust_output_us={faust_output:.1f} lean_output_us={lean_output:.1f} "
        f"ratio_table={lean_table / faust_table:.2f} ratio_output={lean_output / faust_output:.2f}"
    )


def _medians(costs: list[Cost]) -> tuple[float, float]:
    """The median cost of a table write and of an output over an arm's runs."""
    return (
        statistics.median(cost.table_write_us for cost in costs),
        statistics.median(cost.output_us for cost in costs),
    )


if __name__ == "__main__":
    main()
