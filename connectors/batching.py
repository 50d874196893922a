"""Collecting consumed records into batches per topic-partition.

A batch is handed to the sink when it holds `max_records` records or its first record has
waited `max_wait` seconds, whichever comes first; batches of a partition leave in offset order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from connectors.sink import SinkRecord

TopicPartition = tuple[str, int]


@dataclass
class PartitionBatch:
    """Consecutive records of one topic-partition.

    Attributes:
        topic: The topic.
        partition: The partition.
        opened_at: Monotonic time the first record was added.
        records: Decoded records, for the sink.
        undecodable: Records whose key or value could not be decoded, with the reason.
        last_offset: The highest offset in the batch, decoded or not.
    """

    topic: str
    partition: int
    opened_at: float
    records: list[SinkRecord] = field(default_factory=list)
    undecodable: list[tuple[SinkRecord, Exception]] = field(default_factory=list)
    last_offset: int = -1

    def __len__(self) -> int:
        return len(self.records) + len(self.undecodable)

    @property
    def next_offset(self) -> int:
        """The offset to commit once the batch is done."""
        return self.last_offset + 1


class PartitionBatches:
    """Open and full batches of every partition, released when due."""

    def __init__(
        self,
        max_records: int,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_records = max_records
        self.max_wait = max_wait
        self._clock = clock
        self._batches: dict[TopicPartition, list[PartitionBatch]] = {}

    def add(self, record: SinkRecord, error: Exception | None = None) -> None:
        """Append a consumed record; `error` marks it undecodable."""
        batches = self._batches.setdefault((record.topic, record.partition), [])
        if not batches or len(batches[-1]) >= self.max_records:
            batches.append(PartitionBatch(record.topic, record.partition, self._clock()))
        batch = batches[-1]
        if error is None:
            batch.records.append(record)
        else:
            batch.undecodable.append((record, error))
        batch.last_offset = record.offset

    def wait_time(self) -> float:
        """Seconds until the next batch is due (`max_wait` when nothing is pending)."""
        now = self._clock()
        waits = [self._wait(batch, now) for batches in self._batches.values() for batch in batches]
        return min(waits, default=self.max_wait)

    def take_due(self) -> dict[TopicPartition, list[PartitionBatch]]:
        """Remove and return the due batches, in offset order per partition.

        A batch is due when it is full or its first record has waited `max_wait`. Only the
        newest batch of a partition can be short of full, so the due batches of a partition
        are always its oldest ones.
        """
        now = self._clock()
        due: dict[TopicPartition, list[PartitionBatch]] = {}
        for partition, batches in list(self._batches.items()):
            ready = [batch for batch in batches if self._wait(batch, now) == 0.0]
            if ready:
                due[partition] = ready
                del batches[: len(ready)]
            if not batches:
                del self._batches[partition]
        return due

    def _wait(self, batch: PartitionBatch, now: float) -> float:
        if len(batch) >= self.max_records:
            return 0.0
        return max(0.0, batch.opened_at + self.max_wait - now)

    def drop(self, partitions: Iterable[TopicPartition]) -> None:
        """Forget the records of partitions this consumer no longer owns."""
        for partition in partitions:
            self._batches.pop(partition, None)

    def clear(self) -> None:
        """Forget every pending record (they were not committed, so they come again)."""
        self._batches.clear()
