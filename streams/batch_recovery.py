"""Table recovery and standby copies that apply changelog records a queued batch at a time.

Every record of a table's changelog, whether it restores the table after a rebalance or keeps
a standby copy of another worker's partition current, passes Faust's recovery loop. Stock
Faust takes each record from the changelog queue in its own ``asyncio.wait_for`` (a task
and a timer per record), formats two debug messages for it, and after it sums the records
still to recover over every partition to see whether recovery has ended: about two thirds
of what a recovered record costs from fetch to store. Here the loop waits once for the queue,
takes what it holds, up to :data:`DRAIN_MOST` records, applies them as Faust does and checks
for the end once per batch.

Faust's loop also applies a record of a partition that is neither recovering nor a standby
copy (say one revoked while its records were still queued) to the table of the record before
it; here such a record is skipped.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from time import monotonic

import faust
import structlog
from faust.stores import rocksdb
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP, ChannelT, CollectionT, EventT
from faust.types.enums import ProcessingGuarantee
from faust.utils.tracing import finish_span
from mode import Service
from mode.utils.queues import ThrowableQueue

log = structlog.get_logger(__name__)

DRAIN_MOST = 500
"""Records applied before the loop lets other tasks run; stock Faust lets them after each."""
IDLE_SECONDS = 5.0
"""How long the loop waits for a record before it checks, idle, whether recovery has ended."""


def drain(queue: ThrowableQueue[EventT], first: EventT, most: int) -> list[EventT]:
    """``first`` and the records already waiting in ``queue`` behind it, at most ``most``.

    An error thrown into the queue ends the batch; it is logged, as Faust's loop logs it, and
    the records taken before it are applied.
    """
    batch = [first]
    while len(batch) < most and not queue.empty():
        try:
            batch.append(queue.get_nowait())
        except Exception as exc:  # what was thrown into the queue, as Faust's loop logs it
            log.warning("changelog_queue_error", error=repr(exc))
            break
    return batch


class BatchRecovery(Recovery):
    """Faust's recovery, applying the changelog queue a batch at a time.

    Offsets, buffers, flushes, the end of recovery and the standby copies' readiness are
    Faust's, as are the estimates of time left; only the pace of the loop differs.
    """

    @Service.task
    async def _slurp_changelogs(self) -> None:
        queue = self.tables.changelog_queue
        while not self.should_stop:
            try:
                self.signal_recovery_end.clear()
                try:
                    async with asyncio.timeout(IDLE_SECONDS):
                        first = await queue.get()
                except TimeoutError:
                    if not self.should_stop:
                        self._end_recovery_when_done()
                    continue
                await self._apply(drain(queue, first, DRAIN_MOST))
                self._end_recovery_when_done()
                self._note_standbys_when_ready()
                await asyncio.sleep(0)
            except Exception as exc:  # the loop must outlive one bad batch, as Faust's does
                log.warning("changelog_batch_failed", error=repr(exc))

    async def _apply(self, batch: list[EventT]) -> None:
        """Buffer each new record for its table, flushing a buffer when it is full."""
        started = monotonic()
        actives = 0
        unassigned: Counter[TP] = Counter()
        for event in batch:
            message = event.message
            tp = message.tp
            if tp in self.active_tps:
                offsets, received = self.active_offsets, self._active_events_received_at
                actives += 1
            elif tp in self.standby_tps:
                offsets, received = self.standby_offsets, self._standby_events_received_at
            else:
                unassigned[tp] += 1
                continue
            received[tp] = started
            seen = offsets.get(tp)
            if seen is not None and message.offset <= seen:
                continue
            offsets[tp] = message.offset
            table = self.tp_to_table[tp]
            buffer = self.buffers[table]
            buffer.append(event)
            await table.on_changelog_event(event)
            if len(buffer) >= self._buffer_size(tp):
                table.apply_changelog_batch(buffer)
                buffer.clear()
                self._last_flush_at = monotonic()
        if actives:
            self._note_processing_time(started, actives)
        for tp, records in unassigned.items():
            log.warning(
                "changelog_records_unassigned",
                topic=tp.topic,
                partition=tp.partition,
                records=records,
            )

    def _buffer_size(self, tp: TP) -> int:
        """Records buffered for ``tp``'s table before they are applied, as Faust sizes it."""
        size = self.buffer_sizes.get(tp)
        if size is None:
            table = self.tp_to_table[tp]
            recovering = tp in self.active_tps
            size = table.recovery_buffer_size if recovering else table.standby_buffer_size
            self.buffer_sizes[tp] = size
        return size

    def _note_processing_time(self, started: float, records: int) -> None:
        """Record the time per recovered record, from which Faust estimates the time left."""
        per_record = (monotonic() - started) / records
        times = self._processing_times
        times.extend(itertools.repeat(per_record, records))
        while len(times) > self.num_samples_required_for_estimate:
            times.popleft()

    def _end_recovery_when_done(self) -> None:
        """Apply what is buffered and signal the end once no partition has records to recover."""
        if self.in_recovery and not self.need_recovery():
            self.flush_buffers()
            self._set_recovery_ended()
            if self._actives_span is not None:
                self._actives_span.set_tag("Actives-Ready", True)
            self.signal_recovery_end.set()

    def _note_standbys_when_ready(self) -> None:
        """Tell the table manager once every standby copy has caught up."""
        ready = self._standbys_span is None and self.tables.standbys_ready
        if not ready and not self.standby_remaining_total():
            if self._standbys_span is not None:
                finish_span(self._standbys_span)
                self._standbys_span = None
            self.tables.on_standbys_ready()


class BatchRecoveryTableManager(TableManager):
    """Faust's table manager, recovering with :class:`BatchRecovery`.

    Give it to the app as its table manager (``faust.App(..., TableManager=...)``).

    A table kept in RocksDB reads its changelog without decoding the records: Faust's RocksDB
    store writes a record's key and value bytes as they came, while Faust's changelog channel
    decodes both first (a JSON document per value) for nothing.

    With transactions (``processing_guarantee="exactly_once"``) it keeps Faust's recovery,
    whose idle checks also step over aborted transactions.
    """

    @property
    def recovery(self) -> Recovery:
        """The recovery service of these tables, created on first use as Faust creates it."""
        if self._recovery is None:
            exactly_once = self.app.conf.processing_guarantee == ProcessingGuarantee.EXACTLY_ONCE
            recovery_class = Recovery if exactly_once else BatchRecovery
            self._recovery = recovery_class(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

    async def _update_channels(self) -> None:
        """Give each table kept in RocksDB its undecoded changelog channel, then go on as Faust.

        Faust makes a channel only for a table that has none yet, so these stay.
        """
        for table in self.values():
            if table not in self._channels:
                channel = undecoded_changelog(table, self.changelog_queue)
                if channel is not None:
                    self.app.topics.add(channel)  # type: ignore[arg-type]  # a topic's clone
                    self._channels[table] = channel
        await super()._update_channels()


def undecoded_changelog(
    table: CollectionT, queue: ThrowableQueue[EventT]
) -> ChannelT[bytes] | None:
    """A channel of ``table``'s changelog into ``queue`` with the records' bytes as they came.

    Only for a table kept in RocksDB, whose store writes those bytes (None for any other);
    the table's own changelog topic, which its writes go through, keeps its serializers.
    """
    if not isinstance(table.data, rocksdb.Store):  # type: ignore[attr-defined]  # Faust's Table
        return None
    return table.changelog_topic.clone(
        queue=queue,
        is_iterator=True,
        schema=faust.Schema(),  # its own: the serializers below would change a shared one
        key_type=None,
        value_type=None,
        key_serializer="raw",
        value_serializer="raw",
    )
