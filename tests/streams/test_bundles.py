import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import faust
import pytest
from faust.types import EventT

from streams.bundles import (
    MOST_BYTES,
    BundleError,
    BundleSender,
    decode_bundle,
    encode_bundle,
    is_bundle,
)
from streams.forwarded import ForwardedEvent


def forwarded(
    offset: int, raw: bytes = b"\xc3\x01avro", key: bytes | None = b"s-1"
) -> ForwardedEvent:
    return ForwardedEvent("shop.events", 3, offset, key, raw, {})


def test_a_bundle_gives_back_each_event_with_its_origin_key_and_bytes_in_order() -> None:
    events = [forwarded(10), forwarded(11, key=None), forwarded(12, raw=bytes(range(256)))]

    assert decode_bundle(encode_bundle(events)) == events


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a bundle"),
        (encode_bundle([forwarded(1)])[:-3], "not a bundle"),
        (encode_bundle([forwarded(1)]) + b"\x00", "1 bytes left over"),
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


Fill = Callable[[BundleSender], Awaitable[None]]


async def sent_records(app: faust.App, fill: Fill) -> list[EventT]:
    """Run ``fill`` against a sender to a channel; return the records the channel got."""
    channel = app.channel()
    received: list[EventT] = []

    async def read() -> None:
        async for event in channel.stream().events():
            received.append(event)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.05)  # the stream subscribes to the channel
    await fill(BundleSender(channel, partition=0))
    await asyncio.sleep(0.1)
    reader.cancel()
    return received


async def test_events_added_over_a_burst_leave_as_one_bundle_record(app: faust.App) -> None:
    events = [forwarded(offset) for offset in range(5)]

    async def fill(sender: BundleSender) -> None:
        for event in events:
            await sender.add(event)
        await sender.send()
        await sender.send()  # nothing gathered since: nothing sent

    records = await sent_records(app, fill)

    assert len(records) == 1
    assert is_bundle(records[0])
    assert decode_bundle(records[0].value) == events


async def test_an_event_that_would_overfill_the_bundle_opens_the_next(app: faust.App) -> None:
    big = MOST_BYTES // 2 + 1
    events = [forwarded(offset, raw=b"x" * big) for offset in range(3)]

    async def fill(sender: BundleSender) -> None:
        for event in events:
            await sender.add(event)
        await sender.send()

    records = await sent_records(app, fill)

    assert [decode_bundle(record.value) for record in records] == [[event] for event in events]
    assert all(len(record.value) < 2 * MOST_BYTES for record in records)
