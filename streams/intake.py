"""The entry of every source record: decode and validate it, or dead-letter it.

Bad input must never stop the stream nor vanish: a value that cannot be decoded or does not
fit its schema goes to ``dlq.<topic>`` with its original bytes and the reason in headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import structlog
from faust.types import RecordMetadata

from schemas.catalog import dlq_topic
from schemas.codec import Codec
from schemas.deadletter import dead_letter_headers
from schemas.errors import SchemaError
from streams.errors import InvalidRecordError, OversizedValueError
from streams.metrics import WorkerMetrics
from streams.plausibility import MAX_VALUE_BYTES, check_record

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SourceRecord:
    """A decoded source record with the coordinates and the bytes it came from.

    ``raw`` keeps the original value so a later stage can still dead-letter it unchanged.
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any]
    raw: bytes


@dataclass(frozen=True)
class Place:
    """Where a record was read: what a dead letter names as its origin."""

    topic: str
    partition: int
    offset: int


def note_dead_letter(metrics: WorkerMetrics, place: Place, error: BaseException) -> None:
    """Count and log a dead letter by ids and error class, never by content."""
    reason = type(error).__name__
    metrics.dead_letters.labels(topic=place.topic, reason=reason).inc()
    log.warning(
        "dead_lettered",
        topic=place.topic,
        partition=place.partition,
        offset=place.offset,
        error_class=reason,
    )


async def send_dead_letter(
    app: faust.App,
    metrics: WorkerMetrics,
    place: Place,
    key: bytes | None,
    value: bytes | None,
    error: BaseException,
) -> Awaitable[RecordMetadata]:
    """Send original key and value bytes to ``dlq.<topic>`` with the reason, and count it.

    Returns:
        The delivery, done once the broker has the dead letter.
    """
    headers = dead_letter_headers(error, place.topic, place.partition, place.offset)
    topic = app.topic(dlq_topic(place.topic))
    delivery = await topic.send(key=key, value=value, headers=headers)
    note_dead_letter(metrics, place, error)
    return delivery


Handler = Callable[[SourceRecord], Awaitable[None]]
BurstEnd = Callable[[], Awaitable[object]]
"""Sends what a handler gathered over a burst of source records (:mod:`streams.bundles`)."""


class Intake:
    """Decodes raw records and hands them to the handler registered for their topic.

    The intake agent reads its records in bursts (:mod:`streams.bursts`): a handler may gather
    its outputs and send them when the burst ends, before the burst's records are acknowledged.
    """

    def __init__(self, app: faust.App, codec: Codec, metrics: WorkerMetrics) -> None:
        self._app = app
        self._codec = codec
        self._metrics = metrics
        self._burst_ends: list[BurstEnd] = []

    def at_burst_end(self, send: BurstEnd) -> None:
        """Run ``send`` at the end of every burst, before its records are acknowledged."""
        self._burst_ends.append(send)

    async def end_burst(self) -> None:
        """Send what the handlers gathered over the burst that ends."""
        for send in self._burst_ends:
            await send()

    async def dead_letter(self, event: faust.EventT, error: BaseException) -> None:
        """Send the event's original key and value bytes to ``dlq.<topic>`` with the reason."""
        message = event.message
        place = Place(message.topic, message.partition, message.offset)
        await send_dead_letter(self._app, self._metrics, place, message.key, message.value, error)

    async def process(self, event: faust.EventT, handlers: Mapping[str, Handler]) -> None:
        """Decode one event and run its topic's handler; dead-letter what fails validation."""
        message = event.message
        self._metrics.events_in.labels(topic=message.topic).inc()
        raw = message.value or b""
        try:
            if len(raw) > MAX_VALUE_BYTES:
                msg = f"value of {len(raw)} bytes exceeds the limit of {MAX_VALUE_BYTES} bytes"
                raise OversizedValueError(msg)
            value = self._codec.decode(message.topic, raw)
            key = message.key.decode("utf-8") if message.key is not None else None
            check_record(message.topic, value, datetime.now(UTC))
        except (SchemaError, UnicodeDecodeError, OversizedValueError, InvalidRecordError) as error:
            await self.dead_letter(event, error)
            return
        handler = handlers.get(message.topic)
        if handler is None:
            return
        record = SourceRecord(message.topic, message.partition, message.offset, key, value, raw)
        try:
            await handler(record)
        except InvalidRecordError as error:
            await self.dead_letter(event, error)
