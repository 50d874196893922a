"""Bundles: the forwarded events of a burst, sent as one record of an internal topic.

Every record costs the worker more in Faust's and aiokafka's machinery (a send, a fetch, a
step of a stream, an acknowledgement) than the agents spend on the event in it. The intake
therefore hands the events of a burst to the single-partition resolver as one record instead
of one each, and the resolver hands what a bundle resolved to each profile partition as one.

A bundle keeps every event's origin (topic, partition, offset), key and original bytes, so
whoever gives up on one of them dead-letters it as it came in, and beside them the key and
headers the event has on this hop (its customer id, a command). All events of a bundle are
on the record's partition. A bundle is Avro with the schema below: it is written and read by
the worker only, never by anyone else.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Sequence
from typing import Any, cast

import faust
import structlog
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from faust.types import RecordMetadata

from streams.forwarded import COMMAND_HEADER, ForwardedEvent, key_partition

log = structlog.get_logger(__name__)

BUNDLE = "bundle"
"""Value of the command header of a record that holds a bundle."""
MOST_BYTES = 256 * 1024
"""Largest sum of event values in one bundle, well below the broker's 1 MiB per record.

An event of up to 512 KiB, the largest the intake accepts, then travels alone.
"""

_SCHEMA = parse_schema(
    {
        "type": "record",
        "name": "ForwardedBundle",
        "namespace": "journeyhub.internal",
        "fields": [
            {
                "name": "events",
                "type": {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": "ForwardedItem",
                        "fields": [
                            {"name": "topic", "type": "string"},
                            {"name": "partition", "type": "int"},
                            {"name": "offset", "type": "long"},
                            {"name": "key", "type": ["null", "bytes"]},
                            {"name": "value", "type": "bytes"},
                            {"name": "hop_key", "type": ["null", "string"]},
                            {"name": "hop_headers", "type": {"type": "map", "values": "string"}},
                        ],
                    },
                },
            }
        ],
    }
)


class BundleError(ValueError):
    """The bytes are not a bundle; only a record written by hand can be one."""


Bundled = tuple[str | None, ForwardedEvent]
"""An event in a bundle: its key on this hop (e.g. the customer id), and the event."""


def encode_bundle(events: Sequence[Bundled]) -> bytes:
    """Return the bytes of a bundle of ``events``, in their order."""
    items = [
        {
            "topic": event.topic,
            "partition": event.partition,
            "offset": event.offset,
            "key": event.key,
            "value": event.raw,
            "hop_key": hop_key,
            "hop_headers": dict(event.headers),
        }
        for hop_key, event in events
    ]
    out = io.BytesIO()
    schemaless_writer(out, _SCHEMA, {"events": items})
    return out.getvalue()


def decode_bundle(data: bytes) -> list[Bundled]:
    """Return the events of a bundle, in their order.

    Raises:
        BundleError: ``data`` is not a whole bundle.
    """
    stream = io.BytesIO(data)
    try:
        record = cast("dict[str, Any]", schemaless_reader(stream, _SCHEMA, None))
    except (EOFError, IndexError, ValueError, UnicodeDecodeError) as error:
        msg = f"not a bundle of forwarded events: {error or type(error).__name__}"
        raise BundleError(msg) from None
    if stream.tell() != len(data):
        msg = f"not a bundle of forwarded events: {len(data) - stream.tell()} bytes left over"
        raise BundleError(msg)
    return [
        (
            item["hop_key"],
            ForwardedEvent(
                item["topic"],
                item["partition"],
                item["offset"],
                item["key"],
                item["value"],
                item["hop_headers"],
            ),
        )
        for item in record["events"]
    ]


def is_bundle(event: faust.EventT) -> bool:
    """True when the record holds a bundle rather than one forwarded event."""
    command = event.headers.get(COMMAND_HEADER)
    return command is not None and bytes(command) == BUNDLE.encode()


def read_forwarded(event: faust.EventT) -> list[Bundled]:
    """The events a record of an internal topic holds: a bundle's, or the record's one.

    A record that is neither holds none, and is logged with its place: only a record written
    by hand can be one, and it stays on the internal topic for whoever wrote it to look at.
    """
    message = event.message
    if not is_bundle(event):
        forwarded = ForwardedEvent.read(event)
        key = None if event.key is None else str(event.key)
        return [] if forwarded is None else [(key, forwarded)]
    try:
        return decode_bundle(message.value or b"")
    except BundleError as error:
        log.error(
            "bundle_unreadable",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=str(error),
        )
        return []


class BundleSender:
    """Gathers forwarded events and sends them to one partition of a topic as bundles."""

    def __init__(self, topic: faust.TopicT, partition: int) -> None:
        """Send to ``partition`` of ``topic``, an internal topic (:func:`internal_topic`)."""
        self._topic = topic
        self._partition = partition
        self._events: list[Bundled] = []
        self._bytes = 0
        self._deliveries: list[Awaitable[RecordMetadata]] = []

    async def add(self, event: ForwardedEvent, hop_key: str | None = None) -> None:
        """Add an event to the open bundle; send the bundle first if the event would overfill it.

        Args:
            event: The event, with the headers it has on this hop (e.g. a command).
            hop_key: Its key on this hop; it must belong to the sender's partition.
        """
        if self._events and self._bytes + len(event.raw) > MOST_BYTES:
            await self._send_open()
        self._events.append((hop_key, event))
        self._bytes += len(event.raw)

    async def send(self) -> list[Awaitable[RecordMetadata]]:
        """Send the open bundle, if it holds any event, and open the next.

        Returns:
            The deliveries of the bundles sent since the last call, to wait for if need be.
        """
        await self._send_open()
        deliveries, self._deliveries = self._deliveries, []
        return deliveries

    async def _send_open(self) -> None:
        if not self._events:
            return
        events, self._events, self._bytes = self._events, [], 0
        delivery = await self._topic.send(
            key=None,
            value=encode_bundle(events),
            partition=self._partition,
            headers=[(COMMAND_HEADER, BUNDLE.encode())],
        )
        self._deliveries.append(delivery)


class PartitionedBundles:
    """Bundle senders for every partition of a topic, each event to its key's partition.

    The partition of a key is the one the producer would choose (:func:`key_partition`),
    which is also the partition of the key in the changelogs of the tables the topic feeds.
    """

    def __init__(self, topic: faust.TopicT, partitions: int) -> None:
        """Route to the ``partitions`` partitions of ``topic``."""
        self._senders = [BundleSender(topic, partition) for partition in range(partitions)]

    def partition_of(self, key: str) -> int:
        """The partition a record keyed ``key`` goes to."""
        return key_partition(key, len(self._senders))

    async def add(self, event: ForwardedEvent, hop_key: str) -> None:
        """Add an event to the open bundle of ``hop_key``'s partition."""
        await self._senders[self.partition_of(hop_key)].add(event, hop_key)

    async def send(self) -> list[Awaitable[RecordMetadata]]:
        """Send every open bundle; return the deliveries of all bundles sent since the last call."""
        return [delivery for sender in self._senders for delivery in await sender.send()]
