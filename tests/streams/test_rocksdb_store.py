"""The RocksDB store keeps a row of a ``use_partitioner`` table with its key's partition."""

from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.forwarded import key_partition
from tests.streams.rocksdb_app import rocksdb_app

PARTITIONS = 4


def keyed_table(data_dir: Path, name: str) -> faust.Table:
    app = rocksdb_app("store-test", data_dir, topic_partitions=PARTITIONS)
    return app.Table(name, key_type=str, use_partitioner=True)


def changelog_partitions(table: faust.Table, *partitions: int) -> set[TP]:
    return {TP(table.changelog_topic.get_topic_name(), partition) for partition in partitions}


async def test_a_row_written_outside_its_partitions_events_is_read_where_its_key_belongs(
    tmp_path: Path,
) -> None:
    table = keyed_table(tmp_path, "profiles")
    store: Any = table.data
    everything = changelog_partitions(table, *range(PARTITIONS))
    await store.assign_partitions(table, everything)
    own = key_partition("c-erika", PARTITIONS)

    store["c-erika"] = {"version": 1}  # no event is current, as at the end of a burst
    store["c-erika"] = {"version": 2}
    store.revoke_partitions(table, everything)  # as a rebalance or restart leaves it
    await store.assign_partitions(table, changelog_partitions(table, own))

    assert store["c-erika"] == {"version": 2}
    assert "c-erika" in store


async def test_walking_the_table_passes_over_copies_left_in_a_foreign_partition(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = keyed_table(tmp_path, "profiles")
    store: Any = table.data
    everything = changelog_partitions(table, *range(PARTITIONS))
    monkeypatch.setattr(table.app.assignor, "assigned_actives", lambda: everything)
    await store.assign_partitions(table, everything)
    own = key_partition("c-erika", PARTITIONS)
    foreign = (own + 1) % PARTITIONS
    stale = (store._encode_key("c-erika"), store._encode_value({"version": 1}))
    store._db_for_partition(foreign).put(*stale)  # where Faust's own store could leave it

    store["c-erika"] = {"version": 2}
    store["c-max"] = {"version": 1}

    assert len(store) == 2
    assert sorted(store.keys()) == ["c-erika", "c-max"]
    assert sorted(store.items()) == [("c-erika", {"version": 2}), ("c-max", {"version": 1})]
    assert sorted(value["version"] for value in store.values()) == [1, 2]


async def test_a_key_whose_partition_is_not_kept_here_is_absent_whatever_else_is_stored(
    tmp_path: Path,
) -> None:
    table = keyed_table(tmp_path, "profiles")
    store: Any = table.data
    own = key_partition("c-erika", PARTITIONS)
    foreign = (own + 1) % PARTITIONS
    await store.assign_partitions(table, changelog_partitions(table, foreign))
    stale = (store._encode_key("c-erika"), store._encode_value({"version": 1}))
    store._db_for_partition(foreign).put(*stale)  # where Faust's own store could leave it

    assert "c-erika" not in store
    assert store.get("c-erika") is None
