"""A producer whose flush before a commit returns only once the broker has every record.

A table write is queued in Faust's producer buffer (``__setitem__`` cannot await the send), and
a task hands the queued records to aiokafka one after another. Before the consumer commits
offsets it flushes the producer, so that the changelog holds every write of the events the
commit covers. Faust's buffer flush gives up when no record left the queue for 0.1 s (while
aiokafka waits for metadata or room in its batches, or a busy loop starves the task) and
counts a record as gone once it is taken off the queue, before it reached aiokafka: the commit
could then cover events whose table writes were still on their way, and a crash just after it
would lose those writes for good. Here the flush waits until every record queued before it
began has been handed to aiokafka, whose own flush then waits for the broker to have them.

A record the broker never got (aiokafka gave up on it: a table write, or an output nobody
waited for) is only logged by Faust, and the next commit would cover its event all the same.
Here every later flush raises instead, so no commit covers it: the worker stops, and once
restarted it reads those events again.

A table's changelog entry, whose key and value are bytes already, can be queued as a
:class:`RawRecord`: it goes to aiokafka in its turn in the same queue, without Faust's topic
layers around it (a pending and a future message, callbacks and sensors: some 18 of the 40 µs
a table write cost the worker, see :mod:`streams.lean_table`).

Faust's threaded producer (``producer_threaded``) queues elsewhere; it is not used here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer
from faust.types import HeadersArg
from faust.types.tuples import FutureMessage, RecordMetadata

from streams.errors import DeliveryLostError

STOP_CHECK_SECONDS = 1.0
"""How often a waiting flush looks whether the buffer stopped, which ends its hand-overs."""

Delivered = Callable[["asyncio.Future[RecordMetadata]"], None]
"""Called with the delivery of a :class:`RawRecord` once the broker took it or gave up."""


@dataclass(slots=True)
class RawRecord:
    """A record of serialized key and value for a known partition: a table's changelog entry."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    on_delivery: Delivered | None = None


class DrainingProducerBuffer(ProducerBuffer):
    """Faust's producer buffer with a flush that waits for every record queued before it."""

    producer: DrainingProducer
    """The producer the buffer belongs to, which hands its raw records to aiokafka."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.queued = 0
        """Records put into the buffer so far."""
        self.handed_over = 0
        """Records handed to the producer so far, in the order they were queued."""
        self._progress = asyncio.Event()

    def put(self, fut: FutureMessage) -> None:
        """Queue a record for the producer (see ``ProducerBuffer.put``)."""
        self.queued += 1
        super().put(fut)

    def put_raw(self, record: RawRecord) -> None:
        """Queue a record of bytes, in line with the others, to go to aiokafka as it is."""
        self.queued += 1
        self.pending.put_nowait(record)

    async def flush(self) -> None:
        """Return once every record queued before this call has been handed to the producer.

        Raises:
            RuntimeError: The buffer stopped with records not yet handed over (as Faust's).
        """
        target = self.queued
        while self.handed_over < target:
            if self.should_stop:
                msg = "Cannot flush: Producer not Running"
                raise RuntimeError(msg)
            self._progress.clear()
            with contextlib.suppress(TimeoutError):  # look again whether the buffer stopped
                await asyncio.wait_for(self._progress.wait(), STOP_CHECK_SECONDS)

    async def _send_pending(self, item: FutureMessage | RawRecord) -> None:
        if isinstance(item, RawRecord):
            await self.producer.send_raw(item)
        else:  # Faust's hand-over itself, inline: one coroutine less per record
            await item.message.channel.publish_message(item, wait=False)
        self.handed_over += 1
        self._progress.set()


class DrainingProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with :class:`DrainingProducerBuffer`, failing on a lost record."""

    buffer: DrainingProducerBuffer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.app.conf.producer_threaded:
            msg = "the draining producer does not support producer_threaded"
            raise ValueError(msg)
        self.buffer = DrainingProducerBuffer(loop=self.loop, beacon=self.beacon)
        self.buffer.app = self.app
        self.buffer.producer = self
        self._lost: BaseException | None = None

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: HeadersArg | None,
        *,
        transactional_id: str | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        """Hand a record to aiokafka and remember it if the broker does not take it."""
        delivery = await super().send(
            topic, key, value, partition, timestamp, headers, transactional_id=transactional_id
        )
        future = cast("asyncio.Future[RecordMetadata]", delivery)  # aiokafka's future
        future.add_done_callback(self._note_delivery)
        return future

    def send_soon_raw(self, record: RawRecord) -> None:
        """Queue a record of bytes; the next flush waits for it as for every queued record."""
        self.buffer.put_raw(record)

    async def send_raw(self, record: RawRecord) -> None:
        """Hand a queued record of bytes to aiokafka, past Faust's topic and producer layers."""
        delivery = await self._ensure_producer().send(
            record.topic, record.value, key=record.key, partition=record.partition
        )
        delivery.add_done_callback(self._note_delivery)
        if record.on_delivery is not None:
            delivery.add_done_callback(record.on_delivery)

    async def flush(self) -> None:
        """Wait until the broker has every record sent or queued before this call.

        Raises:
            DeliveryLostError: A record did not reach the broker, now or at an earlier flush.
        """
        await super().flush()
        await asyncio.sleep(0)  # lets the callbacks of deliveries that are done already run
        if self._lost is not None:
            msg = f"a record did not reach the broker: {self._lost!r}"
            raise DeliveryLostError(msg) from self._lost

    def _note_delivery(self, delivery: asyncio.Future[RecordMetadata]) -> None:
        if self._lost is None and not delivery.cancelled():
            self._lost = delivery.exception()
