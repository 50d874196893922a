"""Changelog records reach their tables a batch at a time, each once, and only their own."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import faust
import pytest
from faust.types import TP, EventT, Message
from structlog.testing import capture_logs

from streams.app import create_worker
from streams.batch_recovery import (
    BatchRecovery,
    BatchRecoveryTableManager,
    drain,
    undecoded_changelog,
)
from streams.rocksdb_store import SCHEME, register_store
from streams.settings import Settings


@pytest.fixture
def app() -> faust.App:
    return faust.App(
        "batch-recovery-test", store="memory://", TableManager=BatchRecoveryTableManager
    )


def changelog_record(app: faust.App, tp: TP, offset: int, key: str, value: str) -> EventT:
    """A record of a table's changelog as the consumer hands it to the changelog queue."""
    message = Message(tp.topic, tp.partition, offset, 0.0, 0, None, b"", b"", None, tp=tp)
    return faust.Event(app, key, value, None, message)


def manager_of(app: faust.App) -> BatchRecoveryTableManager:
    manager = app.tables
    assert isinstance(manager, BatchRecoveryTableManager)
    return manager


def recovery_of(app: faust.App) -> BatchRecovery:
    """The app's recovery, as a rebalance leaves it before the first record comes."""
    recovery = manager_of(app).recovery
    assert isinstance(recovery, BatchRecovery)
    recovery._set_recovery_started()
    return recovery


async def test_recovery_ends_once_the_last_record_is_applied(app: faust.App) -> None:
    names = app.Table("names", partitions=1)
    tp = TP(names.changelog_topic.get_topic_name(), 0)
    recovery = recovery_of(app)
    recovery.active_tps.add(tp)
    recovery.tp_to_table[tp] = names
    recovery.active_highwaters[tp] = 9
    queue = manager_of(app).changelog_queue
    app.flow_control.resume()
    loop = asyncio.create_task(BatchRecovery._slurp_changelogs(recovery))
    try:
        for offset in range(9):
            await queue.put(changelog_record(app, tp, offset, f"k{offset}", "v"))
        await asyncio.sleep(0.1)
        assert recovery.in_recovery and not recovery.signal_recovery_end.is_set()

        await queue.put(changelog_record(app, tp, 9, "k9", "last"))
        await asyncio.wait_for(recovery.signal_recovery_end.wait(), timeout=5)

        assert not recovery.in_recovery
        assert len(names.data) == 10, "the records still buffered are applied at the end"
    finally:
        loop.cancel()


async def test_records_reach_the_table_of_their_partition_each_once(app: faust.App) -> None:
    names = app.Table("names", partitions=2)
    recovering = TP(names.changelog_topic.get_topic_name(), 0)
    standby = TP(recovering.topic, 1)
    recovery = recovery_of(app)
    recovery.active_tps.add(recovering)
    recovery.standby_tps.add(standby)
    recovery.tp_to_table.update({recovering: names, standby: names})

    await recovery._apply(
        [
            changelog_record(app, recovering, 0, "a", "first"),
            changelog_record(app, standby, 7, "b", "standby"),
            changelog_record(app, recovering, 1, "a", "second"),
            changelog_record(app, recovering, 1, "a", "redelivered, older than the second"),
        ]
    )
    recovery.flush_buffers()

    assert dict(names.data.items()) == {"a": "second", "b": "standby"}
    assert recovery.active_offsets[recovering] == 1
    assert recovery.standby_offsets[standby] == 7


async def test_a_full_buffer_is_applied_at_once(app: faust.App) -> None:
    names = app.Table("names", partitions=1, recovery_buffer_size=2)
    tp = TP(names.changelog_topic.get_topic_name(), 0)
    recovery = recovery_of(app)
    recovery.active_tps.add(tp)
    recovery.tp_to_table[tp] = names

    await recovery._apply(
        [changelog_record(app, tp, offset, f"k{offset}", "v") for offset in range(3)]
    )

    assert sorted(names.data.keys()) == ["k0", "k1"], "two applied, the third buffered"
    assert len(recovery.buffers[names]) == 1


async def test_a_record_of_a_partition_this_worker_does_not_keep_reaches_no_table(
    app: faust.App,
) -> None:
    names = app.Table("names", partitions=2)
    kept = TP(names.changelog_topic.get_topic_name(), 0)
    revoked = TP(kept.topic, 1)
    recovery = recovery_of(app)
    recovery.active_tps.add(kept)
    recovery.tp_to_table.update({kept: names, revoked: names})

    with capture_logs() as logs:
        await recovery._apply(
            [
                changelog_record(app, kept, 0, "a", "kept"),
                changelog_record(app, revoked, 0, "b", "gone"),
                changelog_record(app, revoked, 1, "c", "gone too"),
            ]
        )
    recovery.flush_buffers()

    assert dict(names.data.items()) == {"a": "kept"}
    assert revoked not in recovery.active_offsets and revoked not in recovery.standby_offsets
    assert [(log["event"], log["partition"], log["records"]) for log in logs] == [
        ("changelog_records_unassigned", 1, 2)
    ], "one warning per partition and batch"


async def test_a_batch_takes_what_waits_up_to_its_size(app: faust.App) -> None:
    queue = app.FlowControlQueue(maxsize=100)
    for index in range(5):
        queue.put_nowait(index)

    first = await queue.get()
    assert drain(queue, first, 3) == [0, 1, 2]
    assert drain(queue, await queue.get(), 3) == [3, 4]
    assert queue.empty()


async def test_an_error_thrown_into_the_queue_ends_the_batch_and_keeps_its_records(
    app: faust.App,
) -> None:
    queue = app.FlowControlQueue(maxsize=100)
    for index in (1, 2, 3):
        queue.put_nowait(index)

    first = await queue.get()
    await queue.throw(RuntimeError("stream failed"))
    assert drain(queue, first, 10) == [1]
    assert drain(queue, await queue.get(), 10) == [2, 3], "the next batch goes on after it"


async def test_the_worker_recovers_its_tables_with_batch_recovery() -> None:
    worker = create_worker(Settings.from_env({}))

    assert isinstance(manager_of(worker.app).recovery, BatchRecovery)


async def test_a_table_kept_in_rocksdb_reads_its_changelog_undecoded(
    app: faust.App, tmp_path: Path
) -> None:
    register_store()
    on_disk_app = faust.App(
        "batch-recovery-rocksdb-test",
        store=f"{SCHEME}://",
        datadir=str(tmp_path),
        TableManager=BatchRecoveryTableManager,
    )
    on_disk = on_disk_app.Table("names", key_type=str, partitions=1)
    in_memory = app.Table("names", key_type=str, partitions=1)
    queue = manager_of(on_disk_app).changelog_queue
    assert undecoded_changelog(in_memory, queue) is None, "a memory store keeps decoded values"
    channel = undecoded_changelog(on_disk, queue)
    assert channel is not None

    tp = TP(on_disk.changelog_topic.get_topic_name(), 0)
    key, value = json.dumps("erika").encode(), json.dumps({"visits": 2}).encode()
    event = await channel.decode(Message(tp.topic, 0, 0, 0.0, 0, None, key, value, None, tp=tp))

    assert (event.key, event.value) == (key, value)
    assert channel.queue is queue
    assert on_disk.changelog_topic.schema.value_serializer == "json", "its writes stay JSON"
