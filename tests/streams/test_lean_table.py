"""A lean table reads a key with one lookup in its store, where Faust's makes two; writes once."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.lean_table import LeanTable
from tests.streams.rocksdb_app import rocksdb_app


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
