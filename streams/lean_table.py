"""Tables that read a key with one lookup, write with one encoding and log writes leanly.

Faust's ``Table`` has ``__missing__`` (for tables with a default value), and the dict it builds
on then reads a key by asking the store whether it holds the key and, if it does, reading it:
two lookups for every key that is there, and ``table.get(key)`` goes through the same path. A
dict answers both at once; a RocksDB store (the worker's default) encodes the key and asks
the database each time, then decodes the value. Here a read is one lookup, and a key that is
not there goes to ``__missing__`` as before.

A write to a table kept in RocksDB encoded its key and value twice, once for the store and
once for the changelog record, with the same serializers; here the changelog record carries
the bytes the store keeps.

Faust sends a changelog record through the changelog topic: a message, a pending message and a
future message are built, the topic's serializers looked up, sensors told before and after,
callbacks chained. A write cost the worker some 40 µs of CPU that way, where aiokafka's own send
costs about 10, and a worker makes two table writes per event. Here the record, its key and
value encoded as Faust encodes them, is queued in the draining producer as bytes
(:class:`~streams.draining_producer.RawRecord`), in line with the producer's other queued
records, and flushed with them before every commit: 22 µs per write. A ``use_partitioner``
table's record goes to its key's partition, as Faust's eager partitioning sends it. Faust's
``on_produce_message`` signal is not sent for these records (nothing in the worker listens to
it; Faust's livecheck would). With transactions, or a producer of another kind, a write goes
Faust's way.

Faust writes a partition's persisted offset (how far its changelog is already in the local
database, so that recovery reads only what comes after) into the database for every
acknowledged changelog record, some two puts per event. Here the offset is noted, and the
table manager writes the newest one per partition at the next commit
(:mod:`streams.persisted_offsets`), as Faust does with transactions. An offset written later
only lets recovery read a few more records again after a crash: they hold the same values.
A memory store keeps no persisted offset, so its writes note none.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.stores.base import SerializedStore
from faust.types import FutureMessage, RecordMetadata

from streams.draining_producer import DrainingProducer, RawRecord


class LeanTable(faust.Table):
    """Faust's table, reading with one lookup and writing leanly (see the module).

    Give it to the app as its table class (``faust.App(..., Table=LeanTable)``).
    """

    def __getitem__(self, key: Any) -> Any:
        self.on_key_get(key)
        try:
            return self.data[key]
        except KeyError:
            return self.__missing__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        store = self.data
        if not isinstance(store, SerializedStore):  # a memory store keeps the value itself
            super().__setitem__(key, value)  # calls on_key_set, then stores
            return
        key_bytes = store._encode_key(key)  # noqa: SLF001 - the store's own encoding
        value_bytes = store._encode_value(value)  # noqa: SLF001
        self._maybe_set_key_ttl(key, self._log(key, key_bytes, value_bytes))
        self._sensor_on_set(self, key, value)
        store._set(key_bytes, value_bytes)  # noqa: SLF001 - what its __setitem__ does after encoding

    def on_key_set(self, key: Any, value: Any) -> None:
        """Log a write to a memory store, encoded as Faust's changelog topic encodes it."""
        topic = self.changelog_topic
        key_bytes, _ = topic.prepare_key(key, self.key_serializer)
        value_bytes, _ = topic.prepare_value(value, self.value_serializer)
        self._maybe_set_key_ttl(key, self._log(key, key_bytes, value_bytes))
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        """Log a deletion from either store: the key and no value."""
        key_bytes, _ = self.changelog_topic.prepare_key(key, self.key_serializer)
        self._maybe_del_key_ttl(key, self._log(key, key_bytes, None))
        self._sensor_on_del(self, key)

    def _log(self, key: Any, key_bytes: bytes, value_bytes: bytes | None) -> int:
        """Send a changelog record of encoded bytes; return the partition it goes to."""
        partition = self.partition_for_key(key)
        producer = None if self.app.in_transaction else self.app.producer
        if not isinstance(producer, DrainingProducer):
            fut = self.send_changelog(
                partition, key_bytes, value_bytes, key_serializer="raw", value_serializer="raw"
            )
            sent_to = fut.message.partition
            assert sent_to is not None, "a changelog record is partitioned when it is sent"  # noqa: S101
            return sent_to
        topic = self.changelog_topic.get_topic_name()
        if partition is None:  # a use_partitioner table's row goes where its key belongs
            partition = producer.key_partition(topic, key_bytes).partition
        persisted = isinstance(self.data, SerializedStore)  # a memory store keeps no offset
        on_delivery = self._note_offset if persisted else None
        producer.send_soon_raw(RawRecord(topic, partition, key_bytes, value_bytes, on_delivery))
        return partition

    def _note_offset(self, delivery: asyncio.Future[RecordMetadata]) -> None:
        if delivery.cancelled() or delivery.exception() is not None:
            return  # the producer fails every later flush, so no commit covers this write
        sent = delivery.result()
        self.app.tables.persist_offset_on_commit(self.data, sent.topic_partition, sent.offset)

    def _on_changelog_sent(self, fut: FutureMessage) -> None:
        sent = fut.result()
        self.app.tables.persist_offset_on_commit(self.data, sent.topic_partition, sent.offset)
