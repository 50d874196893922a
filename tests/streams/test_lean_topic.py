"""Publishing to a lean topic lets other tasks run only when the producer makes it wait."""

from __future__ import annotations

import asyncio

import faust

from streams.kafka import ensure_topics, faust_broker_options
from streams.lean_topic import LeanTopic
from streams.settings import Settings
from tests.drills.drilltools import read_topic
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
