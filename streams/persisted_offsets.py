"""The table manager that writes the tables' persisted offsets at commit.

A table kept in RocksDB stores, per changelog partition, the offset up to which its database
holds the changelog: recovery after a rebalance or a restart reads only what comes after it.
Faust writes it for every acknowledged changelog record; the worker's tables note it instead
(:mod:`streams.lean_table`), and this manager writes the newest noted offset of each partition
once the app has committed, before a rebalance moves partitions, and when the worker stops.

Faust's own manager writes noted offsets only for the committed partitions, which are those of
the source topics and never a changelog's, so here every noted offset is written. An offset is
written only into a database that is open: a partition revoked since its records were sent has
no database here any more, and opening one again would hold its files.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from faust.stores import rocksdb
from faust.types import TP

from streams.batch_recovery import BatchRecoveryTableManager


class PersistedOffsetsTableManager(BatchRecoveryTableManager):
    """The worker's table manager: batch recovery, offsets persisted at commit (see the module).

    Give it to the app as its table manager (``faust.App(..., TableManager=...)``).
    """

    def on_commit(self, offsets: MutableMapping[TP, int]) -> None:
        """Write the noted offsets: the app has committed ``offsets`` (its source partitions)."""
        self.write_persisted_offsets()

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        """Write the noted offsets while every table still has its databases, then rebalance."""
        self.write_persisted_offsets()
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    async def on_stop(self) -> None:
        """Write the noted offsets, then stop as Faust's manager does."""
        self.write_persisted_offsets()
        await super().on_stop()

    def write_persisted_offsets(self) -> None:
        """Write every noted offset into its table's store, then forget them."""
        noted, self._pending_persisted_offsets = self._pending_persisted_offsets, {}
        for tp, (store, offset) in noted.items():
            if isinstance(store, rocksdb.Store) and tp.partition not in store._dbs:  # noqa: SLF001
                continue  # revoked since: see the module
            store.set_persisted_offset(tp, offset)
