"""The embedded broker's transport: true changelog ends for recovery, and the worker's fetches.

Table recovery reads a changelog to its true end, even after a batch of many records.
"""

from __future__ import annotations

import aiokafka
from confluent_kafka import Producer
from faust.types import TP

from streams.app import create_worker
from streams.embedded_transport import FETCH_MIN_BYTES, FETCH_WAIT_MS, fetched_ends
from streams.kafka import ensure_topics, producer_config
from streams.settings import Settings
from tests.streams.test_kafka import Topic

BATCH = 10
"""Records produced in one batch: the embedded broker lists their end after the first."""


def produce_batches(settings: Settings, topic: str, sizes: list[int]) -> None:
    """Produce to partition 0 in batches of the given sizes, one flush per batch."""
    producer = Producer(producer_config(settings, **{"linger.ms": 100}))
    for size in sizes:
        for index in range(size):
            producer.produce(topic, value=f"record {index}".encode(), partition=0)
        producer.flush(30)


async def test_the_end_is_after_the_last_record_of_a_batch_of_many(
    settings: Settings, unique_topic_prefix: str
) -> None:
    name = f"{unique_topic_prefix}changelog"
    ensure_topics(settings, [Topic(name, partitions=2)])
    produce_batches(settings, name, [3, BATCH])
    written, empty = TP(name, 0), TP(name, 1)
    reader = aiokafka.AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers)
    await reader.start()
    try:
        listed = await reader.end_offsets([written, empty])
    finally:
        await reader.stop()

    ends = await fetched_ends(
        lambda: aiokafka.AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers, fetch_max_wait_ms=FETCH_WAIT_MS
        ),
        listed,
    )

    assert ends == {written: 3 + BATCH, empty: 0}


async def test_the_workers_fetches_wait_briefly_for_a_few_kilobytes(settings: Settings) -> None:
    # The options are set on aiokafka's consumer before it starts; its fetcher must get them.
    worker = create_worker(settings, embedded_broker=True)
    consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)
    await consumer.start()
    try:
        fetcher = consumer._fetcher
        waits = (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms)
    finally:
        await consumer.stop()

    assert waits == (FETCH_MIN_BYTES, FETCH_WAIT_MS)
