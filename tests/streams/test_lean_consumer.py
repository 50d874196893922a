"""The lean consume path reads every record once more after a fetch that overlapped a seek.

And it does not fetch what Faust paused: the changelogs of the worker's own tables.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from faust.types import TP, Message

from streams.kafka import ensure_topics
from streams.lean_consumer import LeanConsumer, refetch_offsets
from streams.settings import Settings
from tests.drills.drilltools import Component, produce_raw, read_topic
from tests.streams.test_kafka import Topic

FIRST_RUN = 200
"""Records the first start forwards, so that the second start has a table to recover."""
RECORDS = 1000
RESUME_AFTER = 50
"""Offset after which the worker ends a rebalance by hand, with records still buffered."""
BEFORE_START = 100
"""Records on the source before a worker with the ``latest`` reset policy starts."""
JOIN_TIMEOUT = 60.0
"""Seconds a worker may take to join its group and read its first record."""
REPORTED = 5
"""Records the paused-fetch worker counts in its table and reports on."""
QUIET = 15.0
"""Seconds without a new forwarded record after which the worker is taken to be done."""


@pytest.fixture(params=["embedded", "kafka"])
def path(request: pytest.FixtureRequest) -> str:
    """The consume path under test: the embedded broker's transport, or Kafka's."""
    return str(request.param)


@pytest.fixture
def topics(settings: Settings, unique_topic_prefix: str) -> tuple[str, str]:
    """A source and a sink topic of this test's own, one partition each."""
    source, sink = f"{unique_topic_prefix}source", f"{unique_topic_prefix}sink"
    ensure_topics(settings, [Topic(source, partitions=1), Topic(sink, partitions=1)])
    return source, sink


def message(tp: TP, offset: int) -> Message:
    """A consumed record of ``tp`` at ``offset``, with nothing in it."""
    return Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"", None, tp=tp)


def test_a_dropped_batch_is_read_again_from_the_next_record_to_deliver() -> None:
    committed, fresh = TP("shop.events", 0), TP("shop.events", 1)
    batch = [(committed, message(committed, 74)), (fresh, message(fresh, 5))]
    batch += [(committed, message(committed, 75)), (fresh, message(fresh, 6))]

    targets = refetch_offsets(batch, {committed: 43, fresh: None})

    # Without a committed offset, the records before the batch's first may have been cleared
    # from the stream buffers unprocessed: the partition starts again at the reset position.
    assert targets == {committed: 43, fresh: None}


@pytest.mark.slow
def test_records_fetched_during_a_slow_seek_are_all_processed(
    settings: Settings, test_env: dict[str, str], topics: tuple[str, str], path: str
) -> None:
    source, sink = topics
    argv = [settings.bootstrap_servers, source, sink, f"{source}-seek-race", path]
    app = Component.module(test_env, "seek-race", "tests.streams.seek_race_app", *argv)
    produce_raw(settings, source, records(0, FIRST_RUN))
    first = forwarded_by(app, settings, sink, FIRST_RUN)  # leaves a changelog to recover
    assert len(first) == FIRST_RUN, app.log_tail()
    produce_raw(settings, source, records(FIRST_RUN, RECORDS))

    assert_none_missing(forwarded_by(app, settings, sink, RECORDS))


@pytest.mark.slow
def test_records_cleared_from_the_buffers_before_the_first_commit_are_read_again(
    settings: Settings, test_env: dict[str, str], topics: tuple[str, str], path: str
) -> None:
    source, sink = topics
    produce_raw(settings, source, records(0, RECORDS))
    group = f"{source}-uncommitted"
    # Nothing is committed when, after the record at RESUME_AFTER, the worker seeks to the
    # committed offsets and resumes the flow as at the end of a rebalance, clearing what it
    # had fetched: that must be read again, from the start.
    argv = [settings.bootstrap_servers, source, sink, group, path, "3600", str(RESUME_AFTER)]
    app = Component.module(test_env, "uncommitted", "tests.streams.seek_race_app", *argv)

    assert_none_missing(forwarded_by(app, settings, sink, RECORDS))


@pytest.mark.slow
def test_with_the_latest_reset_policy_records_cleared_from_the_buffers_are_read_again(
    settings: Settings, test_env: dict[str, str], topics: tuple[str, str]
) -> None:
    source, sink = topics
    produce_raw(settings, source, records(0, BEFORE_START))
    group = f"{source}-latest"
    # Nothing is committed when the worker resumes as at the end of a rebalance; the records
    # it had fetched since it started must be read again from where it started, not skipped
    # to the end as it is by then.
    resume_after = str(BEFORE_START + RESUME_AFTER)
    argv = [settings.bootstrap_servers, source, sink, group, "embedded", "3600", resume_after]
    app = Component.module(test_env, "latest", "tests.streams.seek_race_app", *argv, "latest")
    app.start()
    try:
        started_at, sent = first_record_read(app, settings, source, sink, sent=BEFORE_START)
        produce_raw(settings, source, records(sent, RECORDS))
        forwarded = forwarded_offsets(settings, sink, RECORDS - started_at)
    finally:
        app.stop()

    assert started_at >= BEFORE_START, "records from before the start were read"
    assert_none_missing(forwarded, first=started_at)
    assert min(forwarded) == started_at, "the resume read records from before the start"


@pytest.mark.slow
def test_the_changelog_of_a_recovered_table_is_not_fetched(
    settings: Settings, test_env: dict[str, str], topics: tuple[str, str], path: str
) -> None:
    source, sink = topics
    argv = [settings.bootstrap_servers, source, sink, f"{source}-paused", path]
    app = Component.module(test_env, "paused-fetch", "tests.streams.paused_fetch_app", *argv)
    produce_raw(settings, source, records(0, REPORTED))
    app.start()
    try:
        reports = reports_of(settings, sink, REPORTED)
    finally:
        app.stop()

    assert sorted(report["offset"] for report in reports) == list(range(REPORTED)), app.log_tail()
    # Faust reads the changelog of its own table only to recover it. Fetched all the same, its
    # first record was held for Faust, and aiokafka fetched nothing else for 100 ms.
    assert [report["fetched"] for report in reports] == [[]] * REPORTED


def reports_of(settings: Settings, sink: str, expected: int) -> list[dict[str, Any]]:
    """The reports of the paused-fetch worker on ``sink``, once ``expected`` or no more came."""
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + JOIN_TIMEOUT
    while len(reports) < expected and time.monotonic() < deadline:
        time.sleep(1.0)
        reports = [json.loads(m.value() or b"{}") for m in read_topic(settings, sink)]
    return reports


def first_record_read(
    app: Component, settings: Settings, source: str, sink: str, sent: int
) -> tuple[int, int]:
    """Send a record a second until the worker forwards one.

    A worker with the ``latest`` policy reads only what comes after it joined its group, which
    takes it a few seconds.

    Args:
        sent: Records on the source so far.

    Returns:
        The offset of the first record the worker read, and the records on the source now.
    """
    deadline = time.monotonic() + JOIN_TIMEOUT
    while time.monotonic() < deadline:
        assert app.running, app.log_tail()
        produce_raw(settings, source, records(sent, sent + 1))
        sent += 1
        time.sleep(1.0)
        forwarded = read_forwarded(settings, sink)
        if forwarded:
            return min(forwarded), sent
    raise AssertionError(f"the worker read nothing in {JOIN_TIMEOUT} s:\n{app.log_tail()}")


def records(start: int, end: int) -> Iterator[tuple[bytes, bytes]]:
    """Keys and values of the records ``start`` to ``end`` (excluded): no key, the index."""
    return ((b"", str(index).encode()) for index in range(start, end))


def forwarded_by(app: Component, settings: Settings, sink: str, expected: int) -> set[int]:
    """Run the forwarding worker until ``expected`` offsets reached ``sink`` or none come."""
    app.start()
    try:
        return forwarded_offsets(settings, sink, expected)
    finally:
        app.stop()


def assert_none_missing(forwarded: set[int], first: int = 0) -> None:
    """Fail unless the offsets of the source records ``first`` to :data:`RECORDS` were forwarded."""
    missing = sorted(set(range(first, RECORDS)) - forwarded)
    assert not missing, f"{len(missing)} records never processed, e.g. {missing[:10]}"


def forwarded_offsets(settings: Settings, sink: str, expected: int) -> set[int]:
    """The source offsets forwarded to ``sink``, once ``expected`` arrived or nothing more comes."""
    forwarded: set[int] = set()
    last_change = time.monotonic()
    while len(forwarded) < expected and time.monotonic() - last_change < QUIET:
        time.sleep(1.0)
        now = read_forwarded(settings, sink)
        if now != forwarded:
            forwarded, last_change = now, time.monotonic()
    return forwarded


def read_forwarded(settings: Settings, sink: str) -> set[int]:
    """The source offsets on ``sink`` now (-1 for a record without a value)."""
    return {int(m.value() or b"-1") for m in read_topic(settings, sink)}


async def test_a_seek_runs_in_the_consumers_thread_not_the_apps() -> None:
    seeks: list[tuple[TP, int, str]] = []

    class ConsumerThread:
        """Runs what it is called with in a thread of its own, as Faust's consumer thread does."""

        async def call_thread(self, fun: Any, *args: Any) -> Any:
            return await asyncio.to_thread(lambda: asyncio.run(fun(*args)))

        def seek(self, tp: TP, offset: int) -> None:  # aiokafka's seek, via Faust's thread
            seeks.append((tp, offset, threading.current_thread().name))

    consumer = LeanConsumer.__new__(LeanConsumer)
    consumer._thread = ConsumerThread()
    tp = TP("shop.events", 3)

    await consumer._seek(tp, 42)

    assert seeks == [(tp, 42, seeks[0][2])]
    assert seeks[0][2] != threading.current_thread().name, "aiokafka's fetcher runs there"
