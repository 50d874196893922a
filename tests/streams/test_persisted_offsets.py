"""A table's persisted offsets are noted per changelog record and written at commit."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
from faust.types import TP

from streams.app import create_worker
from streams.lean_table import LeanTable
from streams.persisted_offsets import PersistedOffsetsTableManager
from streams.settings import Settings
from tests.streams.rocksdb_app import rocksdb_app


def table_in_rocksdb(data_dir: Path) -> faust.Table:
    app = rocksdb_app(
        "persisted-offsets-test",
        data_dir,
        topic_partitions=2,
        Table=LeanTable,
        TableManager=PersistedOffsetsTableManager,
    )
    return app.Table("rows", key_type=str)


def acknowledged(table: faust.Table, tp: TP, offset: int) -> None:
    """Have ``table`` learn that its changelog record at ``offset`` reached the broker."""
    table._on_changelog_sent(
        SimpleNamespace(result=lambda: SimpleNamespace(topic_partition=tp, offset=offset))
    )


def changelog_partition(table: faust.Table, partition: int) -> TP:
    return TP(table.changelog_topic.get_topic_name(), partition)


async def test_the_newest_offset_of_each_partition_is_written_at_commit(tmp_path: Path) -> None:
    table = table_in_rocksdb(tmp_path)
    store: Any = table.data
    first, second = changelog_partition(table, 0), changelog_partition(table, 1)
    await store.assign_partitions(table, {first, second})

    for offset in (40, 41, 42):
        acknowledged(table, first, offset)
    acknowledged(table, second, 7)
    assert store.persisted_offset(first) is None, "no write into the database per record"

    table.app.tables.on_commit({TP("shop.events", 0): 100})

    assert (store.persisted_offset(first), store.persisted_offset(second)) == (42, 7)
    acknowledged(table, first, 43)
    table.app.tables.on_commit({TP("shop.events", 0): 101})
    assert store.persisted_offset(first) == 43


async def test_an_offset_of_a_partition_revoked_since_is_not_written(tmp_path: Path) -> None:
    table = table_in_rocksdb(tmp_path)
    store: Any = table.data
    kept, revoked = changelog_partition(table, 0), changelog_partition(table, 1)
    await store.assign_partitions(table, {kept, revoked})
    acknowledged(table, kept, 5)
    acknowledged(table, revoked, 9)

    store.revoke_partitions(table, {revoked})
    table.app.tables.on_commit({})

    assert store.persisted_offset(kept) == 5
    assert revoked.partition not in store._dbs, "its database stays closed"


def test_the_worker_writes_its_tables_persisted_offsets_at_commit() -> None:
    app = create_worker(Settings.from_env({})).app

    assert isinstance(app.tables, PersistedOffsetsTableManager)
    assert all(isinstance(table, LeanTable) for table in app.tables.values())
