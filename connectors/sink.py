"""The sink contract: what a connector implements to deliver records to one target.

The runner owns Kafka (consume, batch, retry, dead-letter, commit); a sink only turns one
batch of decoded records of one topic-partition into calls to its target.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SinkRecord:
    """One consumed record, decoded.

    Attributes:
        topic: Topic it was read from.
        partition: Partition it was read from.
        offset: Its offset in that partition.
        key: The key as a string, None when the record has none.
        value: The decoded value, None for a tombstone.
        headers: The record headers in their order.
        timestamp: When the record was produced, if the broker said.
        raw_key: The key bytes as consumed, for dead letters.
        raw_value: The value bytes as consumed, for dead letters.
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    value: dict[str, Any] | None = field(repr=False)
    headers: tuple[tuple[str, bytes | None], ...] = field(default=(), repr=False)
    timestamp: datetime | None = None
    raw_key: bytes | None = field(default=None, repr=False, compare=False)
    raw_value: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def position(self) -> str:
        """Where the record sits, as `topic[partition]@offset`."""
        return f"{self.topic}[{self.partition}]@{self.offset}"


class Sink(ABC):
    """A target that records are delivered to (the async cousin of a Kafka Connect sink task).

    The runner calls `open()` once, then `deliver()` with batches of a single topic-partition
    each (one batch of a partition at a time, in offset order), then `close()` once, also
    after a failed `open()`. Offsets are committed only after
    `deliver()` returned, so a sink must not report success before the target confirmed.

    `deliver()` reports failures by raising a `DeliveryError`: `RetriableDeliveryError`
    (try again, maybe after `retry_after`), `PermanentDeliveryError` (dead-letter), or
    `PartialDeliveryError` naming the failed records when the rest of the batch went through.
    An error without records is about the whole batch. Requests must carry an idempotency
    key, since a batch can be delivered again after a retry or a restart.

    Attributes:
        name: The connector name: consumer group `journeyhub-connect-<name>`, metric label
            and alert source.
        topics: The topics the sink consumes.
    """

    name: str
    topics: tuple[str, ...]

    @abstractmethod
    async def open(self) -> None:
        """Prepare to deliver (open connections, check credentials)."""

    @abstractmethod
    async def deliver(self, batch: list[SinkRecord]) -> None:
        """Deliver a batch of one topic-partition, keeping the order of records per key.

        Raises:
            DeliveryError: Some or all records were not delivered.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release what `open()` acquired."""
