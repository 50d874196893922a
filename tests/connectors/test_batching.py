"""Batches per partition: released when full or old enough, always in offset order."""

from connectors.batching import PartitionBatches
from schemas.errors import DecodeError
from tests.connectors.records import record


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_batch_is_due_at_once_and_a_short_one_after_max_wait() -> None:
    clock = Clock()
    batches = PartitionBatches(max_records=3, max_wait=0.5, clock=clock)
    for offset in range(4):
        batches.add(record("k", {}, offset, partition=0))
    batches.add(record("k", {}, 0, partition=1))

    first = batches.take_due()
    clock.now += 0.5
    second = batches.take_due()

    assert {tp: [b.next_offset for b in bs] for tp, bs in first.items()} == {
        ("customer360.profiles", 0): [3]
    }
    assert {tp: [b.next_offset for b in bs] for tp, bs in second.items()} == {
        ("customer360.profiles", 0): [4],
        ("customer360.profiles", 1): [1],
    }
    assert batches.take_due() == {}


def test_batches_of_a_partition_leave_in_offset_order() -> None:
    clock = Clock()
    batches = PartitionBatches(max_records=2, max_wait=1.0, clock=clock)
    for offset in range(7):
        batches.add(record("k", {}, offset))
    clock.now += 1.0

    (released,) = batches.take_due().values()

    assert [[r.offset for r in batch.records] for batch in released] == [
        [0, 1],
        [2, 3],
        [4, 5],
        [6],
    ]


def test_undecodable_records_count_towards_the_batch_and_its_commit_offset() -> None:
    batches = PartitionBatches(max_records=2, max_wait=10.0, clock=Clock())
    batches.add(record("k", {}, 5))
    batches.add(record("k", None, 6), DecodeError("bad magic byte"))

    ((batch,),) = batches.take_due().values()

    assert [r.offset for r in batch.records] == [5]
    assert [(r.offset, str(e)) for r, e in batch.undecodable] == [(6, "bad magic byte")]
    assert batch.next_offset == 7


def test_wait_time_counts_down_from_the_oldest_pending_record() -> None:
    clock = Clock()
    batches = PartitionBatches(max_records=10, max_wait=2.0, clock=clock)
    assert batches.wait_time() == 2.0

    batches.add(record("k", {}, 0))
    clock.now += 1.5

    assert batches.wait_time() == 0.5


def test_dropped_partitions_release_nothing() -> None:
    clock = Clock()
    batches = PartitionBatches(max_records=1, max_wait=1.0, clock=clock)
    batches.add(record("k", {}, 0, partition=0))
    batches.add(record("k", {}, 0, partition=1))

    batches.drop([("customer360.profiles", 0)])

    assert list(batches.take_due()) == [("customer360.profiles", 1)]
