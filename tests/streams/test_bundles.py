import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import faust
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from faust.types import EventT
from structlog.testing import capture_logs

from streams.bundles import (
    BUNDLE,
    MOST_BYTES,
    BundleError,
    BundleSender,
    PartitionedBundles,
    decode_bundle,
    encode_bundle,
    is_bundle,
    read_forwarded,
)
from streams.forwarded import COMMAND_HEADER, ForwardedEvent


def forwarded(
    offset: int, raw: bytes = b"\xc3\x01avro", key: bytes | None = b"s-1"
) -> ForwardedEvent:
    return ForwardedEvent("shop.events", 3, offset, key, raw, {})


def test_a_bundle_gives_back_each_event_with_its_origin_key_bytes_and_hop_in_order() -> None:
    merge = {"journeyhub.command": "merge", "journeyhub.survivor": "c-1"}
    events = [
        (None, forwarded(10)),
        ("c-2", forwarded(11, key=None).with_headers(merge)),
        ("c-1", forwarded(12, raw=bytes(range(256)))),
    ]

    assert decode_bundle(encode_bundle(events)) == events


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a bundle"),
        (encode_bundle([(None, forwarded(1))])[:-3], "not a bundle"),
        (encode_bundle([(None, forwarded(1))]) + b"\x00", "1 bytes left over"),
        (b"\x02\x80", "not a bundle"),
    ],
)
def test_bytes_that_are_no_whole_bundle_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(BundleError, match=reason):
        decode_bundle(data)


@pytest.fixture
async def app() -> AsyncIterator[faust.App]:
    app = faust.App("bundles-test", broker="kafka://localhost:1", store="memory://")
    app.flow_control.resume()  # a stopped app's streams hold every event
    yield app


Fill = Callable[[faust.ChannelT], Awaitable[None]]


async def sent_records(app: faust.App, fill: Fill) -> list[EventT]:
    """Run ``fill`` with a channel to send to; return the records the channel got."""
    channel = app.channel()
    received: list[EventT] = []

    async def read() -> None:
        async for event in channel.stream().events():
            received.append(event)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.05)  # the stream subscribes to the channel
    await fill(channel)
    await asyncio.sleep(0.1)
    reader.cancel()
    return received


async def test_events_added_over_a_burst_leave_as_one_bundle_record(app: faust.App) -> None:
    events = [forwarded(offset) for offset in range(5)]

    async def fill(channel: faust.ChannelT) -> None:
        sender = BundleSender(channel, partition=0)
        for event in events:
            await sender.add(event)
        await sender.send()
        await sender.send()  # nothing gathered since: nothing sent

    records = await sent_records(app, fill)

    assert len(records) == 1
    assert is_bundle(records[0])
    assert decode_bundle(records[0].value) == [(None, event) for event in events]


async def test_an_event_that_would_overfill_the_bundle_opens_the_next(app: faust.App) -> None:
    big = MOST_BYTES // 2 + 1
    events = [forwarded(offset, raw=b"x" * big) for offset in range(3)]

    async def fill(channel: faust.ChannelT) -> None:
        sender = BundleSender(channel, partition=0)
        for event in events:
            await sender.add(event)
        await sender.send()

    records = await sent_records(app, fill)

    assert [decode_bundle(record.value) for record in records] == [
        [(None, event)] for event in events
    ]
    assert all(len(record.value) < 2 * MOST_BYTES for record in records)


async def test_each_event_goes_to_the_bundle_of_its_keys_partition(app: faust.App) -> None:
    keys = [f"c-{n:04d}" for n in range(40)]
    partitioned: list[PartitionedBundles] = []

    async def fill(channel: faust.ChannelT) -> None:
        bundles = PartitionedBundles(channel, partitions=4)
        partitioned.append(bundles)
        for offset, key in enumerate(keys):
            await bundles.add(forwarded(offset), key)
        await bundles.send()

    records = await sent_records(app, fill)

    routing = partitioned[0]
    assert sorted(record.message.partition for record in records) == sorted(
        {routing.partition_of(key) for key in keys}
    )
    for record in records:
        for key, _ in decode_bundle(record.value):
            assert routing.partition_of(str(key)) == record.message.partition


@pytest.mark.slow
def test_a_keys_partition_is_the_one_kafkas_java_partitioner_chooses(kafka_bootstrap: str) -> None:
    topic = f"bundle-routing-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=8, replication_factor=1)])[topic].result(10)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "partitioner": "murmur2_random"})
    keys = [f"c-{uuid.uuid4().hex[:16]}" for _ in range(50)]
    chosen: dict[str, int] = {}
    for key in keys:
        producer.produce(
            topic,
            key=json.dumps(key).encode(),
            value=b"",
            on_delivery=lambda _, m: chosen.__setitem__(json.loads(m.key()), m.partition()),
        )
    producer.flush(10)

    routing = PartitionedBundles(faust.App("routing-test").channel(), partitions=8)

    assert {key: routing.partition_of(key) for key in keys} == chosen
    assert len(set(chosen.values())) > 1


async def test_a_record_holds_a_bundles_events_its_own_one_or_none_when_unreadable(
    app: faust.App,
) -> None:
    bundled = [("c-1", forwarded(7)), ("c-2", forwarded(8))]
    single = forwarded(9)

    async def fill(channel: faust.ChannelT) -> None:
        await channel.send(
            value=encode_bundle(bundled), headers=[(COMMAND_HEADER, BUNDLE.encode())]
        )
        await single.send(channel, "c-3")
        await channel.send(value=b"\x02\x80", headers=[(COMMAND_HEADER, BUNDLE.encode())])
        await channel.send(value=b"written by hand, without origin headers")

    records = await sent_records(app, fill)
    with capture_logs() as logs:
        held = [read_forwarded(record) for record in records]

    assert held[0] == bundled
    [(key, event)] = held[1]
    assert (key, event.topic, event.partition, event.offset) == ("c-3", "shop.events", 3, 9)
    assert (event.key, event.raw) == (single.key, single.raw)
    assert held[2] == held[3] == []
    assert [entry["event"] for entry in logs] == ["bundle_unreadable", "origin_headers_missing"]
