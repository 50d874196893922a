"""A lean topic publishes without turns of the event loop and without Faust's future messages."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest

from streams.forwarded import key_partition
from streams.kafka import ensure_topics, faust_broker_options
from streams.lean_topic import LeanTopic
from streams.settings import Settings
from tests.drills.drilltools import read_topic
from tests.streams.test_draining_producer import DrainingTransport
from tests.streams.test_kafka import Topic

RECORDS = 200


async def turns_while_publishing(settings: Settings, topic_name: str, *, lean: bool) -> int:
    """How often another task ran while one task published :data:`RECORDS` records."""
    topic_class = LeanTopic if lean else faust.Topic
    app = faust.App(f"lean-topic-test-{lean}", Topic=topic_class, **faust_broker_options(settings))
    topic = app.topic(topic_name, value_serializer="raw", partitions=1)
    await app.producer.start()
    turns = 0
    publishing = True

    async def count_turns() -> None:
        nonlocal turns
        while publishing:
            await asyncio.sleep(0)
            turns += 1

    counter = asyncio.create_task(count_turns())
    await asyncio.sleep(0)
    try:
        for index in range(RECORDS):
            await topic.send(value=str(index).encode())
        turns_seen = turns
    finally:
        publishing = False
        await counter
        await app.producer.flush()
        await app.producer.stop()
    return turns_seen


async def test_a_lean_topic_publishes_without_turns_of_the_event_loop(
    settings: Settings, unique_topic_prefix: str
) -> None:
    stock_name, lean_name = f"{unique_topic_prefix}stock", f"{unique_topic_prefix}lean"
    ensure_topics(settings, [Topic(stock_name, partitions=1), Topic(lean_name, partitions=1)])

    stock = await turns_while_publishing(settings, stock_name, lean=False)
    lean = await turns_while_publishing(settings, lean_name, lean=True)

    assert stock >= RECORDS, f"stock Faust yielded only {stock} times for {RECORDS} records"
    assert lean * 10 < stock, f"lean {lean} against stock {stock} turns"
    published = [int(message.value() or b"-1") for message in read_topic(settings, lean_name)]
    assert published == list(range(RECORDS))


def refuse(*args: Any, **kwargs: Any) -> Any:
    msg = "a lean topic sends a plain record without Faust's future message"
    raise AssertionError(msg)


@pytest.mark.parametrize("topic_class", [faust.Topic, LeanTopic])
async def test_a_lean_topic_sends_the_record_faust_sends_without_its_future_message(
    settings: Settings,
    unique_topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    topic_class: type[faust.Topic],
) -> None:
    name = f"{unique_topic_prefix}{topic_class.__name__}"
    ensure_topics(settings, [Topic(name, partitions=4)])
    app = faust.App(name, Topic=topic_class, **faust_broker_options(settings))
    app.transport = DrainingTransport(app.conf.broker_consumer, app)
    topic = app.topic(name, key_type=str, key_serializer="json", value_serializer="json")
    await app.producer.start()
    try:
        if topic_class is LeanTopic:
            monkeypatch.setattr(topic, "as_future_message", refuse)
        delivery = await topic.send(
            key="c-erika", value={"name": "Erika Müller"}, headers={"origin.topic": b"shop"}
        )
        await topic.send(key="c-max", value=[1, 2], partition=3, timestamp=1_700_000_000.5)
        await topic.send(key="c-max", value=None)
        await app.producer.flush()
        metadata = await delivery
    finally:
        await app.producer.stop()

    records = sorted(read_topic(settings, name), key=lambda record: record.offset() or 0)
    sent = [
        (record.partition(), record.key(), record.value(), record.headers())
        for record in sorted(records, key=lambda record: record.value() or b"")
    ]
    erika_partition = key_partition("c-erika", 4)
    assert (metadata.topic, metadata.partition) == (name, erika_partition)
    assert sent == [
        (3, b'"c-max"', b"[1,2]", None),
        (key_partition("c-max", 4), b'"c-max"', b"null", None),  # JSON's None: no tombstone
        (
            erika_partition,
            b'"c-erika"',
            b'{"name":"Erika M\\u00fcller"}',
            [("origin.topic", b"shop")],
        ),
    ]
    timestamps = [record.timestamp()[1] for record in records if record.partition() == 3]
    assert timestamps == [1_700_000_000_500]


async def test_a_send_with_a_callback_goes_faust_s_way_and_calls_it(
    settings: Settings, unique_topic_prefix: str
) -> None:
    name = f"{unique_topic_prefix}callback"
    ensure_topics(settings, [Topic(name, partitions=1)])
    app = faust.App(name, Topic=LeanTopic, **faust_broker_options(settings))
    app.transport = DrainingTransport(app.conf.broker_consumer, app)
    topic = app.topic(name, value_serializer="raw")
    called: list[int] = []
    await app.producer.start()
    try:
        await topic.send(value=b"x", callback=lambda fut: called.append(fut.result().offset))
        await app.producer.flush()
        await asyncio.sleep(0)
    finally:
        await app.producer.stop()

    assert called == [0]
