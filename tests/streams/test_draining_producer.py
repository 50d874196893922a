"""The flush before a commit returns only once the broker has every queued table write."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.draining_producer import DrainingProducer
from streams.kafka import ensure_topics, faust_broker_options
from streams.settings import Settings
from tests.drills.drilltools import read_topic
from tests.streams.test_kafka import Topic

QUEUED = 3
SLOW_SEND_SECONDS = 0.3
"""How long aiokafka takes to accept each record, as while it waits for room or metadata."""


class FaustTransport(faust_aiokafka.Transport):
    """Faust's own transport, with Faust's producer."""


class DrainingTransport(faust_aiokafka.Transport):
    """Faust's transport with the draining producer."""

    Producer = DrainingProducer


async def records_after_flush(
    settings: Settings, topic_name: str, transport: type[faust_aiokafka.Transport]
) -> int:
    """Queue records as a table write does, make aiokafka slow to take them, flush, count."""
    app = faust.App(f"flush-test-{transport.__name__}", **faust_broker_options(settings))
    app.transport = transport(app.conf.broker_consumer, app)
    topic = app.topic(topic_name, value_serializer="raw", partitions=1)
    producer = app.producer
    await producer.start()
    aiokafka_producer: Any = producer._producer  # type: ignore[attr-defined]
    send = aiokafka_producer.send

    async def slow_send(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(SLOW_SEND_SECONDS)
        return await send(*args, **kwargs)

    aiokafka_producer.send = slow_send
    try:
        for index in range(QUEUED):
            topic.send_soon(value=str(index).encode())
        await producer.flush()
        return len(read_topic(settings, topic_name))
    finally:
        await producer.buffer.flush()
        await producer.stop()


@pytest.mark.parametrize(
    ("transport", "expected"), [(FaustTransport, "fewer"), (DrainingTransport, "all")]
)
async def test_a_flush_returns_once_the_broker_has_every_queued_record(
    settings: Settings,
    unique_topic_prefix: str,
    transport: type[faust_aiokafka.Transport],
    expected: str,
) -> None:
    name = f"{unique_topic_prefix}queued"
    ensure_topics(settings, [Topic(name, partitions=1)])

    delivered = await records_after_flush(settings, name, transport)

    if expected == "all":
        assert delivered == QUEUED
    else:  # Faust's flush gives up while aiokafka has not taken the first record yet
        assert delivered < QUEUED
