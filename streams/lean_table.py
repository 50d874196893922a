"""Tables that read a key with one lookup, encode a write once and note offsets for the commit.

Faust's ``Table`` has ``__missing__`` (for tables with a default value), and the dict it builds
on then reads a key by asking the store whether it holds the key and, if it does, reading it:
two lookups for every key that is there, and ``table.get(key)`` goes through the same path. A
dict answers both at once; a RocksDB store (the worker's default) encodes the key and asks
the database each time, then decodes the value. Here a read is one lookup, and a key that is
not there goes to ``__missing__`` as before.

A write to a table kept in RocksDB encoded its key and value twice, once for the store and
once for the changelog record, with the same serializers; here the changelog record carries
the bytes the store keeps.

Faust writes a partition's persisted offset (how far its changelog is already in the local
database, so that recovery reads only what comes after) into the database for every
acknowledged changelog record, some two puts per event. Here the offset is noted, and the
table manager writes the newest one per partition at the next commit
(:mod:`streams.persisted_offsets`), as Faust does with transactions. An offset written later
only lets recovery read a few more records again after a crash: they hold the same values.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.stores.base import SerializedStore
from faust.types import FutureMessage


class LeanTable(faust.Table):
    """Faust's table, reading a key with one lookup and encoding a write once (see the module).

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
            super().__setitem__(key, value)
            return
        key_bytes = store._encode_key(key)  # noqa: SLF001 - the store's own encoding
        value_bytes = store._encode_value(value)  # noqa: SLF001
        fut = self.send_changelog(
            self.partition_for_key(key),
            key_bytes,
            value_bytes,
            key_serializer="raw",
            value_serializer="raw",
        )
        partition = fut.message.partition
        assert partition is not None, "a changelog record is partitioned when it is sent"  # noqa: S101
        self._maybe_set_key_ttl(key, partition)
        self._sensor_on_set(self, key, value)
        store._set(key_bytes, value_bytes)  # noqa: SLF001 - what its __setitem__ does after encoding

    def _on_changelog_sent(self, fut: FutureMessage) -> None:
        sent = fut.result()
        self.app.tables.persist_offset_on_commit(self.data, sent.topic_partition, sent.offset)
