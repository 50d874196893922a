"""A batching producer whose records reach a single broker in the order they were sent.

The agents send an event's outputs before they write the state that remembers them (a table
write goes to its changelog topic), so a crash in between replays the event instead of
forgetting its outputs. That holds only if the outputs reach the broker first, across
partitions. aiokafka keeps one request in flight per broker and sends every ready batch in
the next one, but a linger makes batches ready one by one: a young batch of an output may
wait while an older batch of a changelog, which took a later record, already goes.

Here a batch that is ready makes every batch ready, so each request carries everything the
producer holds: on one broker (the embedded one) what arrives is always a prefix of what was
sent. Records still share requests, and the linger still gathers them, except when an agent
waits for an acknowledgement (:func:`acknowledged`): then they leave at once. On a cluster of
several brokers each has its own requests and the order holds per broker only: there, leads,
jobs, budget actuals and alerts are acknowledged before the state that remembers them is
written (:mod:`streams.journey_agent`, :mod:`streams.budget_agent`), and so are the merge
commands of the identity resolver and the profile agent (:func:`delivered_in_order`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Collection, Iterable
from typing import Any, cast

import aiokafka
import faust
from aiokafka.producer.message_accumulator import MessageAccumulator

from streams.draining_producer import DrainingProducer


class InOrderAccumulator(MessageAccumulator):
    """aiokafka's accumulator, draining all batches as soon as any one is ready."""

    def drain_by_nodes(
        self, ignore_nodes: Collection[int], muted_partitions: Collection[Any] = frozenset()
    ) -> Any:
        """Release every batch from its linger when one is ready, then drain as aiokafka does."""
        queues = self._batches.values()
        if any(queue and queue[0].remaining_linger() is None for queue in queues):
            self._release_all()
        return super().drain_by_nodes(ignore_nodes, muted_partitions)

    def end_lingers(self) -> None:
        """Make every batch ready and wake the sender: somebody waits for one of them."""
        self._release_all()
        self._wakeup(self._waiter_future)

    def _release_all(self) -> None:
        for queue in self._batches.values():
            for batch in queue:
                batch._linger_time = 0.0  # noqa: SLF001 - no public way to end a linger


class InOrderAIOKafkaProducer(aiokafka.AIOKafkaProducer):
    """aiokafka's producer with :class:`InOrderAccumulator`."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # aiokafka builds its accumulator in here and hands it to its sender at once; the
        # subclass adds behaviour and no state, so the built one takes it on in place.
        self._message_accumulator.__class__ = InOrderAccumulator

    def end_lingers(self) -> None:
        """Send what the producer holds now instead of when its lingers end."""
        cast("InOrderAccumulator", self._message_accumulator).end_lingers()


class InOrderProducer(DrainingProducer):
    """The draining producer built on :class:`InOrderAIOKafkaProducer`."""

    @property
    def _producer_type(self) -> type[aiokafka.AIOKafkaProducer]:
        return InOrderAIOKafkaProducer

    def end_lingers(self) -> None:
        """Send what the producer holds now; nothing to do before it started."""
        if self._producer is not None:
            cast("InOrderAIOKafkaProducer", self._producer).end_lingers()


async def acknowledged(app: faust.App, deliveries: Iterable[Awaitable[Any]]) -> None:
    """Wait until the broker has the records of ``deliveries``, without waiting out a linger.

    An agent that waits for an acknowledgement before it writes its state stands still
    meanwhile; with the in-order producer the lingering records leave at once. Any other
    producer (Apache Kafka's, without a linger by default) sends as it would.
    """
    producer = app.producer
    if isinstance(producer, InOrderProducer):
        producer.end_lingers()
    await asyncio.gather(*deliveries)


async def delivered_in_order(app: faust.App, deliveries: Iterable[Awaitable[Any]]) -> None:
    """Make sure ``deliveries`` reach the broker before any record sent after them.

    The in-order producer writes to a single broker in send order, so there is nothing to
    wait for. Any other producer may write to several brokers, each in its own order: then
    this waits for the acknowledgements.
    """
    if not isinstance(app.producer, InOrderProducer):
        await acknowledged(app, deliveries)


async def delivered_before_durable_state(
    app: faust.App, deliveries: Iterable[Awaitable[Any]]
) -> None:
    """Make sure ``deliveries`` reach the broker before state that a crash keeps on disk.

    As :func:`delivered_in_order`, but a table kept on disk (RocksDB) holds a write at once,
    before any record reaches the broker, and keeps it across a crash: a worker killed within
    the producer's linger would restart with state that remembers outputs which never left,
    and replaying the event would not send them again. With such tables this waits for the
    acknowledgements on the in-order producer too; tables in memory are rebuilt from their
    changelogs, whose records follow the outputs.
    """
    if app.conf.store.scheme != "memory":
        await acknowledged(app, deliveries)
    else:
        await delivered_in_order(app, deliveries)
