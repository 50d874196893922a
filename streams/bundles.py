"""Bundles: the forwarded events of a burst, sent as one record of an internal topic.

Every record costs the worker more in Faust's and aiokafka's machinery (a send, a fetch, a
step of a stream, an acknowledgement) than the identity resolver spends on the event in it.
The intake therefore hands the events of a burst to the single-partition resolver as one
record instead of one each.

A bundle keeps every event's origin (topic, partition, offset), key and original bytes, so
whoever gives up on one of them dead-letters it as it came in. A bundle is Avro with the
schema below: it is written and read by the worker only, never by anyone else.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, cast

import faust
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from streams.forwarded import COMMAND_HEADER, ForwardedEvent

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
                        ],
                    },
                },
            }
        ],
    }
)


class BundleError(ValueError):
    """The bytes are not a bundle; only a record written by hand can be one."""


def encode_bundle(events: Sequence[ForwardedEvent]) -> bytes:
    """Return the bytes of a bundle of ``events``, in their order."""
    items = [
        {
            "topic": event.topic,
            "partition": event.partition,
            "offset": event.offset,
            "key": event.key,
            "value": event.raw,
        }
        for event in events
    ]
    out = io.BytesIO()
    schemaless_writer(out, _SCHEMA, {"events": items})
    return out.getvalue()


def decode_bundle(data: bytes) -> list[ForwardedEvent]:
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
        ForwardedEvent(
            item["topic"], item["partition"], item["offset"], item["key"], item["value"], {}
        )
        for item in record["events"]
    ]


def is_bundle(event: faust.EventT) -> bool:
    """True when the record holds a bundle rather than one forwarded event."""
    command = event.headers.get(COMMAND_HEADER)
    return command is not None and bytes(command) == BUNDLE.encode()


class BundleSender:
    """Gathers forwarded events and sends them to one partition of a topic as bundles."""

    def __init__(self, topic: faust.TopicT, partition: int) -> None:
        """Send to ``partition`` of ``topic``, an internal topic (:func:`internal_topic`)."""
        self._topic = topic
        self._partition = partition
        self._events: list[ForwardedEvent] = []
        self._bytes = 0

    async def add(self, event: ForwardedEvent) -> None:
        """Add an event to the open bundle; send the bundle first if the event would overfill it."""
        if self._events and self._bytes + len(event.raw) > MOST_BYTES:
            await self.send()
        self._events.append(event)
        self._bytes += len(event.raw)

    async def send(self) -> None:
        """Send the open bundle, if it holds any event, and open the next."""
        if not self._events:
            return
        events, self._events, self._bytes = self._events, [], 0
        await self._topic.send(
            key=None,
            value=encode_bundle(events),
            partition=self._partition,
            headers=[(COMMAND_HEADER, BUNDLE.encode())],
        )
