"""The flush before a commit returns only once the broker has every queued table write."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import faust
import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.draining_producer import DrainingProducer, RawRecord
from streams.errors import DeliveryLostError
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


@contextlib.asynccontextmanager
async def started_producer(
    settings: Settings, topic_name: str, transport: type[faust_aiokafka.Transport]
) -> AsyncIterator[tuple[faust.TopicT, Any]]:
    """A started producer of an app on ``transport``: the topic, and the aiokafka producer."""
    app = faust.App(f"flush-test-{transport.__name__}", **faust_broker_options(settings))
    app.transport = transport(app.conf.broker_consumer, app)
    topic = app.topic(topic_name, value_serializer="raw", partitions=1)
    await app.producer.start()
    try:
        yield topic, app.producer._producer  # type: ignore[attr-defined]
    finally:
        await app.producer.stop()


async def records_after_flush(
    settings: Settings, topic_name: str, transport: type[faust_aiokafka.Transport]
) -> int:
    """Queue records as a table write does, make aiokafka slow to take them, flush, count."""
    async with started_producer(settings, topic_name, transport) as (topic, aiokafka_producer):
        send = aiokafka_producer.send

        async def slow_send(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(SLOW_SEND_SECONDS)
            return await send(*args, **kwargs)

        aiokafka_producer.send = slow_send
        for index in range(QUEUED):
            topic.send_soon(value=str(index).encode())
        await topic.app.producer.flush()
        delivered = len(read_topic(settings, topic_name))
        await topic.app.producer.buffer.flush()  # let the slow sends end before the stop
        return delivered


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


async def send_that_times_out(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
    """aiokafka's send giving up on a record, as when the broker never answers."""
    delivery = asyncio.get_running_loop().create_future()
    delivery.set_exception(KafkaTimeoutError())
    return delivery


@pytest.mark.parametrize("how", ["queued", "sent"])
async def test_a_record_the_broker_did_not_take_fails_every_later_flush(
    settings: Settings, unique_topic_prefix: str, how: str
) -> None:
    name = f"{unique_topic_prefix}lost"
    ensure_topics(settings, [Topic(name, partitions=1)])

    async with started_producer(settings, name, DrainingTransport) as (topic, aiokafka_producer):
        producer, send = topic.app.producer, aiokafka_producer.send
        aiokafka_producer.send = send_that_times_out
        lost: Awaitable[Any]
        if how == "queued":  # as a table write is
            lost = topic.send_soon(value=b"lost")
        else:  # as an agent's output is (what ``topic.send`` does, keeping the message)
            lost = topic.as_future_message(value=b"lost")
            await topic.publish_message(lost)
        with pytest.raises(DeliveryLostError, match="did not reach the broker"):
            await producer.flush()
        with pytest.raises(KafkaTimeoutError):
            await lost
        aiokafka_producer.send = send
        await topic.send(value=b"delivered")
        with pytest.raises(DeliveryLostError):  # the lost record is never made good
            await producer.flush()
    assert [message.value() for message in read_topic(settings, name)] == [b"delivered"]


async def test_a_raw_record_goes_in_line_with_the_queued_records_and_a_flush_waits_for_it(
    settings: Settings, unique_topic_prefix: str
) -> None:
    name = f"{unique_topic_prefix}raw"
    ensure_topics(settings, [Topic(name, partitions=1)])

    async with started_producer(settings, name, DrainingTransport) as (topic, aiokafka_producer):
        producer, send = topic.app.producer, aiokafka_producer.send

        async def slow_send(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(SLOW_SEND_SECONDS / QUEUED)
            return await send(*args, **kwargs)

        aiokafka_producer.send = slow_send
        topic.send_soon(value=b"first")
        producer.send_soon_raw(RawRecord(name, 0, b"c-erika", b"second"))
        topic.send_soon(value=b"third")
        await producer.flush()
        records = read_topic(settings, name)

    assert [(record.key(), record.value()) for record in records] == [
        (None, b"first"),
        (b"c-erika", b"second"),
        (None, b"third"),
    ]


async def test_a_raw_record_the_broker_did_not_take_fails_every_later_flush(
    settings: Settings, unique_topic_prefix: str
) -> None:
    name = f"{unique_topic_prefix}rawlost"
    ensure_topics(settings, [Topic(name, partitions=1)])

    told: list[BaseException | None] = []
    async with started_producer(settings, name, DrainingTransport) as (topic, aiokafka_producer):
        producer, send = topic.app.producer, aiokafka_producer.send
        aiokafka_producer.send = send_that_times_out
        lost = RawRecord(name, 0, b"c-erika", b"lost", lambda sent: told.append(sent.exception()))
        producer.send_soon_raw(lost)
        with pytest.raises(DeliveryLostError, match="did not reach the broker"):
            await producer.flush()
        aiokafka_producer.send = send
        producer.send_soon_raw(RawRecord(name, 0, b"c-max", b"delivered"))
        with pytest.raises(DeliveryLostError):  # the lost record is never made good
            await producer.flush()

    assert [type(error) for error in told] == [KafkaTimeoutError]
    assert [record.value() for record in read_topic(settings, name)] == [b"delivered"]
