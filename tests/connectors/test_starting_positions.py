"""A connector's group shows in lag checks from the moment it joins, not its first delivery."""

from __future__ import annotations

import asyncio
import uuid

from connectors.mail import MAIL_TOPIC
from connectors.runtime import RunnerOptions, SinkRunner
from connectors.sink import Sink, SinkRecord
from streams.inspect import Inspector
from streams.settings import Settings
from tests.connectors.conftest import wait_until


class HeldSink(Sink):
    """A target that confirms nothing until the test lets it, so no delivery commits."""

    name = "held"
    topics = (MAIL_TOPIC,)

    def __init__(self) -> None:
        self.released = asyncio.Event()

    async def open(self) -> None:
        """Nothing to connect to."""

    async def deliver(self, batch: list[SinkRecord]) -> None:
        """Hold every batch until released."""
        await self.released.wait()

    async def close(self) -> None:
        """Nothing to release."""


async def test_a_new_connector_group_shows_its_lag_before_it_delivered_anything(
    settings: Settings,
) -> None:
    group = f"test-connect-held-{uuid.uuid4().hex[:8]}"
    sink = HeldSink()
    runner = SinkRunner(sink, settings, RunnerOptions(group_id=group, max_wait=0.1))
    task = asyncio.create_task(runner.run())
    inspector = await asyncio.to_thread(Inspector, settings)
    try:

        async def listed() -> bool:
            rows = await asyncio.to_thread(inspector.lag)
            return any(row.group == group for row in rows)

        await wait_until(listed, 30, f"group {group} in the lag rows")
        rows = [row for row in await asyncio.to_thread(inspector.lag) if row.group == group]
        ends = await asyncio.to_thread(inspector.ends, MAIL_TOPIC)
        held = await asyncio.to_thread(inspector.message_count, MAIL_TOPIC)
    finally:
        sink.released.set()
        runner.stop()
        await task
        await asyncio.to_thread(inspector.close)

    # Every partition starts at its first record: all the topic holds counts as lag.
    assert {(row.topic, row.partition) for row in rows} == {(MAIL_TOPIC, p) for p in ends}
    assert sum(row.lag for row in rows) == held
