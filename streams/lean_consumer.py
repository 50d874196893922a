"""A leaner consume path under Faust: fetched records reach the streams sooner and cheaper.

Stock Faust hands each fetched record to the streams inside its own ``wait_first`` race
against a rebalance, four asyncio tasks per record, which caps a worker at a few thousand
records a second; here a whole fetched batch runs that race once. Fetching is Faust's
aiokafka consumer's on Apache Kafka and the embedded broker's transport's, with short waits,
on the embedded broker (:mod:`streams.embedded_transport`).

It also closes a race that Faust leaves open and that faster delivery made frequent: when
streams resume after a rebalance, Faust seeks every partition back to its committed offset in
the consumer's thread and only then resets its record of what was read, while fetching goes on.
A fetch landing between the two moved the position past records that the resume then cleared
from the stream buffers; the next record looked like a gap after the reset, and Faust commits
gaps as done, so those records were never processed. Here a fetch that overlaps a seek is
dropped and its partitions are sought back to the next record to deliver.

And one that aiokafka leaves open: it seeks a partition without a committed offset nowhere, so
the records fetched into the stream buffers that the resume cleared were never read again, and
the next commit took them as done (a worker killed before its first commit lost them in the
crash drill). Here such a partition is read again from where the app's reset policy started
it when this consumer first had it (the worker's policy: the earliest offset); what is read
twice is processed idempotently.

And one that falls between the two: Faust pauses a partition only in its own bookkeeping (it
stops asking for its records), while aiokafka goes on fetching it. The partitions it pauses for
good are the changelogs of the worker's own tables, which it reads only to recover them. When
such a partition got its first record, aiokafka held that record for Faust, and as a partition
of the broker still held records not taken, it sent the broker no fetch at all for 100 ms (its
prefetch backoff): every hop stood still. The tables' first writes after a start did that to
each of their changelog partitions (32 in the worker), one after another, and the first second
of load took two to three times as long (see the README). Here what Faust pauses is paused in
aiokafka too, so those partitions are not fetched at all: no stall, and fetches of fewer
partitions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiokafka
import faust
import structlog
from aiokafka.errors import IllegalStateError
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.draining_producer import DrainingProducer
from streams.embedded_transport import EmbeddedConsumer, EmbeddedTransport

log = structlog.get_logger(__name__)

YIELD_EVERY = 100
"""Records handed over before the loop lets other tasks run, as Faust does."""
STREAM_BUFFER = 32_768
"""Records an agent's stream may hold; Faust's 4,096 pauses fetching after every big fetch."""


def pause_only(consumer: aiokafka.AIOKafkaConsumer, paused: frozenset[TP]) -> None:
    """Have aiokafka fetch every partition it is assigned but those in ``paused``.

    Call it in the consumer's thread: resuming a partition wakes its fetcher there.
    """
    assigned = consumer.assignment()
    consumer.pause(*(tp for tp in assigned if tp in paused))
    consumer.resume(*(tp for tp in assigned if tp not in paused))


def refetch_offsets(
    batch: Sequence[tuple[TP, Message]], read_offsets: Mapping[TP, int | None]
) -> dict[TP, int | None]:
    """Where each partition of a dropped batch must be read again; None: from the reset position.

    Right after a seek, Faust's read offset of a partition is the committed offset, the next
    record to deliver. A partition without one (nothing committed yet) starts again where the
    reset policy starts it: records before the batch's first may have been cleared unprocessed.
    """
    return {tp: read_offsets.get(tp) for tp, _ in batch}


class LeanConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, handing a fetched batch over to the streams in one task.

    Everything else is Faust's: fetching, flow control, offsets, gaps, acks and commits. A
    rebalance that stops the flow cancels the rest of the batch, as it cancels the record
    in flight in stock Faust; the fetcher then drops what it had prefetched. A batch fetched
    while Faust seeks to the committed offsets is dropped and read again, and a partition
    without a committed offset is read from the reset position (see the module), and
    partitions Faust pauses are not fetched.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._seeks_running = 0
        self._seeks_done = 0
        self._no_seek_running = asyncio.Event()
        self._no_seek_running.set()
        self._start_positions: dict[TP, int] = {}

    def pause_partitions(self, tps: Iterable[TP]) -> None:
        """Stop delivering and fetching the partitions (Faust stops only the delivery)."""
        super().pause_partitions(tps)
        self._fetch_only_unpaused()

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        """Deliver and fetch the partitions again."""
        super().resume_partitions(tps)
        self._fetch_only_unpaused()

    def _fetch_only_unpaused(self) -> None:
        """Pause in aiokafka what Faust has paused, in the consumer's thread, in call order."""
        thread: Any = self._thread
        consumer = thread._consumer  # noqa: SLF001 - None until the thread has started it
        if consumer is not None and not thread.thread_loop.is_closed():
            paused = frozenset(self._paused_partitions)
            thread.thread_loop.call_soon_threadsafe(pause_only, consumer, paused)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek each partition to its committed offset, one without any to the reset position.

        aiokafka seeks a partition without a committed offset, or with 0, nowhere (see the
        module). Changelog partitions are left to table recovery, which seeks them itself.
        """
        committed = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        streamed = {tp: offset for tp, offset in committed.items() if tp.topic not in changelogs}
        for tp, offset in streamed.items():
            if offset == 0:
                await self.seek(tp, 0)
        await self._seek_to_reset_position(tp for tp, offset in streamed.items() if offset is None)
        return committed

    async def _seek(self, partition: TP, offset: int) -> None:
        """Seek in the consumer's thread, where aiokafka fetches (Faust seeks from the app's).

        A seek drops the partition's fetched records from aiokafka's fetcher. Done from the
        app's thread it raced the fetcher handing those records out in the consumer's thread,
        which then crashed the worker with a ``KeyError`` (the crash drill met it once, in a
        restart's seeks to the committed offsets). Faust's own seek to the committed offsets
        already runs in the consumer's thread.
        """
        await self._thread.call_thread(self._seek_here, partition, offset)

    async def _seek_here(self, partition: TP, offset: int) -> None:
        """Seek aiokafka's consumer: call it in the consumer's thread."""
        self._thread.seek(partition, offset)

    async def _seek_to_reset_position(self, partitions: Iterable[TP]) -> None:
        """Seek partitions to where the app's reset policy started them (`_reset_positions`)."""
        for tp, offset in (await self._reset_positions(partitions)).items():
            await self.seek(tp, offset)

    async def _reset_positions(self, partitions: Iterable[TP]) -> dict[TP, int]:
        """Where the app's reset policy started each partition when this consumer first had it.

        Asked of the broker once per partition, in one request for all that are new, and
        remembered: with the ``latest`` policy, asking again later would give the end as it is
        then, past the records that came meanwhile and were cleared from the stream buffers.
        """
        tps = list(partitions)
        new = [tp for tp in tps if tp not in self._start_positions]
        if new:
            earliest = self.app.conf.consumer_auto_offset_reset == "earliest"
            offsets = await (self.earliest_offsets(*new) if earliest else self.highwaters(*new))
            self._start_positions.update(offsets)
        return {tp: self._start_positions[tp] for tp in tps}

    async def perform_seek(self) -> None:
        """Seek every partition to its committed offset, letting the drain loop know.

        The drain loop drops a batch whose fetch overlapped a seek (``_seeks_done`` changed
        or one is still running) and refetches it once no seek runs.
        """
        self._seeks_running += 1
        self._no_seek_running.clear()
        try:
            await super().perform_seek()
        finally:
            self._seeks_running -= 1
            self._seeks_done += 1
            if not self._seeks_running:
                self._no_seek_running.set()

    async def _drain_messages(self, fetcher: Any) -> None:
        """Fetch batches and deliver each to the streams until the consumer stops."""
        try:
            while not (self.should_stop or fetcher.should_stop):
                self.diag.set_flag(CONSUMER_FETCHING)
                seeks_before = self._seeks_done
                batch = [pair async for pair in self.getmany(timeout=1.0)]
                await self.sleep(0)
                if batch and (self._seeks_running or self._seeks_done != seeks_before):
                    await self._refetch(batch)
                elif batch and not self.should_stop:
                    await self.wait_first(self._deliver(batch), self.suspend_flow.wait())
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    await self.commit()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except asyncio.CancelledError:
            if not self.transport.app.should_stop:
                raise
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _refetch(self, batch: Sequence[tuple[TP, Message]]) -> None:
        """Drop a batch fetched while a seek ran and seek its partitions to what comes next.

        Whether it was fetched before or after the seek moved the position cannot be told, so
        nothing of it is delivered; the partitions go back to the next record to deliver.
        """
        await self._no_seek_running.wait()
        targets = refetch_offsets(batch, self._read_offset)
        log.info("fetch_overlapped_seek", records=len(batch), partitions=len(targets))
        positions = {tp: offset for tp, offset in targets.items() if offset is not None}
        positions.update(await self._reset_positions(tp for tp in targets if targets[tp] is None))
        for tp, offset in positions.items():
            try:
                await self.seek(tp, offset)
            except IllegalStateError:  # revoked meanwhile: its next owner reads it again
                log.info("refetch_of_revoked_partition", topic=tp.topic, partition=tp.partition)

    async def _deliver(self, batch: Sequence[tuple[TP, Message]]) -> None:
        """Hand records to the streams in order, skipping any already read (after a seek)."""
        callback = self.callback
        read_offsets = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        for index, (tp, message) in enumerate(batch, start=1):
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            offset = message.offset
            read = read_offsets[tp]
            if read is not None and offset < read:
                continue
            if read and offset - read > 1 and acks_enabled_for(message.topic):
                await self._add_gap(tp, read + 1, offset)
            await callback(message)
            read_offsets[tp] = offset


class LeanEmbeddedConsumer(LeanConsumer, EmbeddedConsumer):
    """:class:`LeanConsumer` fetching as the embedded broker needs."""


class LeanTransport(faust_aiokafka.Transport):
    """Faust's ``kafka://`` transport with :class:`LeanConsumer` and a draining producer."""

    Consumer = LeanConsumer
    Producer = DrainingProducer


class LeanEmbeddedTransport(EmbeddedTransport):
    """The embedded broker's transport with :class:`LeanEmbeddedConsumer`."""

    Consumer = LeanEmbeddedConsumer


def use_lean_consume_path(app: faust.App, *, embedded_broker: bool) -> None:
    """Make the app consume through :class:`LeanConsumer` into larger stream buffers.

    On the embedded broker the transport is the embedded one (:class:`LeanEmbeddedTransport`);
    its producer sends with the app's linger, which the worker sets with
    :func:`streams.embedded_transport.use_embedded_transport` and the benchmark's passthrough
    leaves at Faust's. Call it right after creating the app, before any topic or agent is
    declared.
    """
    app.conf.stream_buffer_maxsize = STREAM_BUFFER
    transport = LeanEmbeddedTransport if embedded_broker else LeanTransport
    app.transport = transport(app.conf.broker_consumer, app)
