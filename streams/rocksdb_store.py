"""Faust's RocksDB store, keeping each row of a ``use_partitioner`` table where its key belongs.

A RocksDB store keeps one database per partition. Faust puts a row into the database of the
partition of the event being processed, while a table with ``use_partitioner`` sends the row's
changelog record to the partition of its key. The two differ when a row is written while
another partition's event is current, as the profile agent writes a burst's profiles at its end
(:mod:`streams.burst_profiles`): the row then lands in a foreign database, beside an older copy
in its own, and after a restart a read could find the older copy first (Faust searches every
database of such a table for a key). Here such a row is written to, and read from, the database
of its key's partition: the partition its changelog record goes to and is recovered into.
Tables without ``use_partitioner`` are stored exactly as Faust stores them.
"""

from __future__ import annotations

from collections.abc import Iterator

from faust import stores
from faust.stores import rocksdb
from faust.types import TP

from streams.partitioner import partition_of

SCHEME = "rocksdb-by-key"
"""The store URL scheme (``rocksdb-by-key://``) that names :class:`KeyPartitionedStore`."""


class KeyPartitionedStore(rocksdb.Store):
    """Faust's RocksDB store; a ``use_partitioner`` table's rows go by key (see the module)."""

    def _set(self, key: bytes, value: bytes | None) -> None:
        if not self.table.use_partitioner:
            super()._set(key, value)
            return
        partition = self._key_partition(key)
        self._key_index[key] = partition
        self._db_for_partition(partition).put(key, value)

    def _get(self, key: bytes) -> bytes | None:
        if not self.table.use_partitioner:
            return super()._get(key)
        db = self._own_db(key)
        return None if db is None else db.get(key)

    def _contains(self, key: bytes) -> bool:
        if not self.table.use_partitioner:
            return super()._contains(key)
        return self._get(key) is not None

    def _own_db(self, key: bytes) -> rocksdb.DB | None:
        """The open database of the key's partition; None if that partition is not kept here.

        A key whose partition is not kept here is absent, even if another partition's
        database holds a copy of it: such a copy is one Faust's store left, and is stale.
        """
        return self._dbs.get(self._key_partition(key))

    def _iterkeys(self) -> Iterator[bytes]:
        if not self.table.use_partitioner:
            return super()._iterkeys()
        return (key for key, _ in self._placed_items())

    def _itervalues(self) -> Iterator[bytes]:
        if not self.table.use_partitioner:
            return super()._itervalues()
        return (value for _, value in self._placed_items())

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        if not self.table.use_partitioner:
            return super()._iteritems()
        return self._placed_items()

    def _size(self) -> int:
        if not self.table.use_partitioner:
            return super()._size()
        return sum(1 for _ in self._placed_items())

    def _placed_items(self) -> Iterator[tuple[bytes, bytes]]:
        """The rows of the active partitions' databases that sit in their key's partition."""
        actives = self.app.assignor.assigned_actives()
        topic = self.table.changelog_topic.get_topic_name()
        for partition, db in self._dbs.items():
            if TP(topic, partition) in actives or self.table.is_global:
                for key, value in self._visible_items(db):
                    if self._key_partition(key) == partition:
                        yield key, value

    def _key_partition(self, key: bytes) -> int:
        partitions = self.table.partitions or self.app.conf.topic_partitions
        return partition_of(key, partitions)


def register_store() -> None:
    """Let Faust build :class:`KeyPartitionedStore` for ``rocksdb-by-key://`` store URLs."""
    stores.STORES.aliases[SCHEME] = f"{__name__}:{KeyPartitionedStore.__name__}"
