"""A lean table reads a key with one lookup, where Faust's makes two; writes and logs leanly."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.forwarded import key_partition
from streams.kafka import ensure_topics, faust_broker_options
from streams.lean_table import LeanTable
from streams.partitioner import KeyPartitioner
from streams.persisted_offsets import PersistedOffsetsTableManager
from streams.rocksdb_store import SCHEME, register_store
from streams.settings import Settings
from tests.drills.drilltools import read_topic
from tests.streams.rocksdb_app import rocksdb_app
from tests.streams.test_draining_producer import DrainingTransport
from tests.streams.test_kafka import Topic


def table_in_rocksdb(data_dir: Path, table_class: type[faust.Table], **options: Any) -> faust.Table:
    name = f"lean-table-test-{table_class.__name__}"
    app = rocksdb_app(name, data_dir, topic_partitions=1, Table=table_class)
    return app.Table("rows", key_type=str, use_partitioner=True, **options)


async def lookups_of(table: faust.Table, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Open the table's store and return the list every lookup in its database is noted in."""
    store: Any = table.data
    await store.assign_partitions(table, {TP(table.changelog_topic.get_topic_name(), 0)})
    lookups: list[bytes] = []
    read = store._get

    def noted(key: bytes) -> bytes | None:
        lookups.append(key)
        return read(key)

    monkeypatch.setattr(store, "_get", noted)  # _contains of this store reads through _get
    return lookups


@pytest.mark.parametrize(("table_class", "per_read"), [(faust.Table, 2), (LeanTable, 1)])
async def test_a_key_is_read_with_one_lookup_in_the_store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    table_class: type[faust.Table],
    per_read: int,
) -> None:
    table = table_in_rocksdb(tmp_path, table_class)
    lookups = await lookups_of(table, monkeypatch)
    table.data["c-erika"] = {"visits": 3}  # as recovery writes it: no changelog record

    assert table["c-erika"] == {"visits": 3}
    assert table.get("c-erika") == {"visits": 3}
    assert table.get("c-nobody") is None
    with pytest.raises(KeyError):
        table["c-nobody"]

    assert lookups == [b'"c-erika"'] * 2 * per_read + [b'"c-nobody"'] * 2


async def test_a_lean_table_with_a_default_gives_it_for_a_missing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_in_rocksdb(tmp_path, LeanTable, default=int)
    lookups = await lookups_of(table, monkeypatch)
    table.data["seen"] = 2

    assert table["seen"] == 2
    assert table["unseen"] == 0
    assert lookups == [b'"seen"', b'"unseen"']


async def test_a_write_is_encoded_once_and_the_changelog_carries_the_stored_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = table_in_rocksdb(tmp_path, LeanTable)
    await lookups_of(table, monkeypatch)
    serializers: Any = table.app.serializers
    encoded: list[Any] = []
    encode = serializers.dumps_value

    def noted(typ: Any, value: Any, **options: Any) -> bytes | None:
        encoded.append(value)
        return encode(typ, value, **options)

    sent: list[tuple[Any, ...]] = []

    def send_changelog(partition: int | None, key: Any, value: Any, **serializers: str) -> Any:
        sent.append((key, value, serializers))
        return SimpleNamespace(message=SimpleNamespace(partition=0))  # the record as sent

    monkeypatch.setattr(serializers, "dumps_value", noted)
    monkeypatch.setattr(table, "send_changelog", send_changelog)
    table["c-erika"] = {"visits": 3}

    assert encoded == [{"visits": 3}]
    stored = table.data._get(b'"c-erika"')
    assert sent == [(b'"c-erika"', stored, {"key_serializer": "raw", "value_serializer": "raw"})]
    assert table["c-erika"] == {"visits": 3}


PARTITIONS = 4


@contextlib.asynccontextmanager
async def table_on_broker(
    settings: Settings, app_id: str, store: str, table_class: type[faust.Table], data_dir: Path
) -> AsyncIterator[faust.Table]:
    """A table of an app with the draining producer and the worker's partitioner, started.

    No stream runs, so the rows go where their keys belong (``use_partitioner``).
    """
    register_store()
    app = faust.App(
        app_id,
        **faust_broker_options(settings),
        store=store,
        datadir=str(data_dir),
        Table=table_class,
        TableManager=PersistedOffsetsTableManager,
        producer_partitioner=KeyPartitioner(),
    )
    app.transport = DrainingTransport(app.conf.broker_consumer, app)
    table = app.Table("rows", key_type=str, partitions=PARTITIONS, use_partitioner=True)
    changelog = table.changelog_topic.get_topic_name()
    ensure_topics(settings, [Topic(changelog, partitions=PARTITIONS, compacted=True)])
    if store.startswith(SCHEME):
        partitions = {TP(changelog, partition) for partition in range(PARTITIONS)}
        await table.data.assign_partitions(table, partitions)  # type: ignore[attr-defined]
    await app.producer.start()
    try:
        yield table
    finally:
        await app.producer.stop()


def refuse(*args: Any, **kwargs: Any) -> Any:
    msg = "a lean table's write does not go through the changelog topic"
    raise AssertionError(msg)


@pytest.mark.parametrize("table_class", [faust.Table, LeanTable])
async def test_a_lean_table_logs_the_records_faust_logs_without_its_topic_layers(
    settings: Settings,
    unique_topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    table_class: type[faust.Table],
) -> None:
    app_id = f"{unique_topic_prefix}{table_class.__name__}"
    async with table_on_broker(settings, app_id, "memory://", table_class, tmp_path) as table:
        if table_class is LeanTable:
            monkeypatch.setattr(table.changelog_topic, "send_soon", refuse)
        table["c-erika"] = {"name": "Erika Müller", "visits": 3, "score": 0.5}
        table["c-anna"] = ["one", 2]
        del table["c-anna"]
        await table.app.producer.flush()
        records = read_topic(settings, table.changelog_topic.get_topic_name())

    assert table["c-erika"] == {"name": "Erika Müller", "visits": 3, "score": 0.5}
    assert "c-anna" not in table
    erika, anna = key_partition("c-erika", PARTITIONS), key_partition("c-anna", PARTITIONS)
    assert erika != anna  # so that the partitions say something
    logged = sorted(records, key=lambda record: (record.partition(), record.offset()))
    assert [(record.partition(), record.key(), record.value()) for record in logged] == sorted(
        [
            (erika, b'"c-erika"', b'{"name":"Erika M\\u00fcller","visits":3,"score":0.5}'),
            (anna, b'"c-anna"', b'["one",2]'),
            (anna, b'"c-anna"', None),
        ],
        key=lambda row: row[0],
    )


async def test_a_lean_table_in_rocksdb_notes_the_offset_its_changelog_got(
    settings: Settings, unique_topic_prefix: str, tmp_path: Path
) -> None:
    app_id = f"{unique_topic_prefix}offsets"
    async with table_on_broker(settings, app_id, f"{SCHEME}://", LeanTable, tmp_path) as table:
        for visits in range(3):
            table["c-erika"] = {"visits": visits}
        await table.app.producer.flush()
        await asyncio.sleep(0)  # the deliveries' callbacks
        manager: Any = table.app.tables
        manager.write_persisted_offsets()
        changelog = TP(table.changelog_topic.get_topic_name(), key_partition("c-erika", PARTITIONS))
        store: Any = table.data

        assert store.persisted_offset(changelog) == 2
        assert table["c-erika"] == {"visits": 2}
