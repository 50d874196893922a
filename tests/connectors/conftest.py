"""Fixtures for connector integration tests: a real sandbox CRM, the real broker, the runner.

Topic names are fixed by the contract and shared by every test of the session, so each test
uses its own customer ids and its own consumer group, which starts at the current end of the
topics and therefore sees only what the test produces.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from connectors.crm import LEADS_TOPIC, PROFILES_TOPIC, CrmSink
from connectors.dead_letters import ALERTS_TOPIC
from connectors.retry import RetryPolicy
from connectors.runtime import RunnerOptions, SinkRunner
from connectors.sandbox_crm import SandboxOptions, start_sandbox_crm
from schemas.catalog import dlq_topic, get_topic
from schemas.codec import make_codec
from streams.broker import free_port
from streams.kafka import consumer_config, ensure_topics, producer_config
from streams.kafka import end_offsets as partition_end_offsets
from streams.settings import Settings

FAST_RETRY = RetryPolicy(max_attempts=40, max_elapsed=60.0, base_delay=0.05, max_delay=0.5)


async def http_get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        if response.content_type == "application/json":
            return await response.json()
        return await response.text()


@dataclass
class SandboxCrm:
    """A sandbox CRM on a fixed port that a test can stop and start again."""

    data_dir: Path
    options: SandboxOptions
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.options.port}"

    async def start(self) -> None:
        self.runner = await start_sandbox_crm(self.data_dir, self.options)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def get(self, path: str) -> Any:
        return await http_get_json(self.url + path)

    async def contacts(self, prefix: str) -> dict[str, dict[str, Any]]:
        everyone = await self.get("/contacts")
        return {c["external_id"]: c for c in everyone if c["external_id"].startswith(prefix)}

    async def leads(self, prefix: str) -> list[dict[str, Any]]:
        return [lead for lead in await self.get("/leads") if lead["customer_id"].startswith(prefix)]


@dataclass
class RunningConnector:
    """A CRM connector running in the test's event loop."""

    runner: SinkRunner
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.runner.stop()
        await asyncio.wait_for(self.task, 60)


@dataclass
class Harness:
    """What a connector test works with: ids, the CRM, Kafka and the connector."""

    settings: Settings
    prefix: str
    group: str
    crm_dir: Path
    start_offsets: dict[str, dict[int, int]] = field(default_factory=dict)
    sandboxes: list[SandboxCrm] = field(default_factory=list)
    connectors: list[RunningConnector] = field(default_factory=list)

    def id(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def sandbox(self, **options: Any) -> SandboxCrm:
        sandbox = SandboxCrm(self.crm_dir, SandboxOptions(port=free_port(), **options))
        await sandbox.start()
        self.sandboxes.append(sandbox)
        return sandbox

    async def produce(
        self, topic: str, records: Iterable[tuple[str, dict[str, Any] | None]]
    ) -> None:
        codec = make_codec(None)
        encoded = [(k, None if v is None else codec.encode(topic, v)) for k, v in records]
        await self.produce_raw(topic, encoded)

    async def produce_raw(self, topic: str, records: Iterable[tuple[str, bytes | None]]) -> None:
        producer = Producer(producer_config(self.settings))
        for key, value in records:
            producer.produce(topic, key=key.encode(), value=value)
        assert await asyncio.to_thread(producer.flush, 30) == 0

    async def connector(
        self, crm: SandboxCrm, *, concurrency: int = 8, **options: Any
    ) -> RunningConnector:
        options = {"retry": FAST_RETRY, "max_wait": 0.2, **options}
        runner = SinkRunner(
            CrmSink(crm.url, token=crm.options.token, concurrency=concurrency),
            self.settings,
            RunnerOptions(group_id=self.group, **options),
        )
        running = RunningConnector(runner, asyncio.create_task(runner.run()))
        self.connectors.append(running)
        return running

    async def read(self, topic: str) -> list[Message]:
        """The messages written to a topic since the test started, up to its current end."""
        return await asyncio.to_thread(self._read, topic)

    def _read(self, topic: str) -> list[Message]:
        since = self.start_offsets.get(topic, {})
        consumer = Consumer(consumer_config(self.settings, f"{self.group}-reader"))
        try:
            ends = end_offsets(consumer, topic)
            wanted = {p: end for p, end in ends.items() if end > since.get(p, 0)}
            consumer.assign([TopicPartition(topic, p, since.get(p, 0)) for p in wanted])
            messages: list[Message] = []
            deadline = time.monotonic() + 30
            while wanted and time.monotonic() < deadline:
                for message in consumer.consume(500, 1.0):
                    if message.error() is None:
                        messages.append(message)
                        if message.offset() + 1 >= wanted.get(message.partition(), 0):
                            wanted.pop(message.partition(), None)
            return messages
        finally:
            consumer.close()

    def mine(self, messages: list[Message]) -> list[Message]:
        """The messages keyed with one of this test's ids."""
        return [m for m in messages if (m.key() or b"").decode().startswith(self.prefix)]


def end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    """The offset after the last record of every partition of a topic."""
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    return partition_end_offsets(consumer, topic, partitions)


def current_ends(settings: Settings, topics: Iterable[str]) -> dict[str, dict[int, int]]:
    """The end offset of every partition of the topics."""
    consumer = Consumer(consumer_config(settings, "test-connect-offsets"))
    try:
        return {topic: end_offsets(consumer, topic) for topic in topics}
    finally:
        consumer.close()


def start_group_at(settings: Settings, group: str, ends: dict[str, dict[int, int]]) -> None:
    """Commit offsets for a new group, so it skips the records of earlier tests."""
    consumer = Consumer(consumer_config(settings, group))
    try:
        offsets = [TopicPartition(t, p, end) for t, ps in ends.items() for p, end in ps.items()]
        consumer.commit(offsets=offsets, asynchronous=False)
    finally:
        consumer.close()


async def wait_until(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    """Poll an async condition until it holds, failing with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            msg = f"timed out after {seconds:g} s waiting for {what}"
            raise AssertionError(msg)
        await asyncio.sleep(0.2)


@pytest.fixture
async def harness(settings: Settings, tmp_path: Path) -> AsyncIterator[Harness]:
    topics = (PROFILES_TOPIC, LEADS_TOPIC, ALERTS_TOPIC)
    await asyncio.to_thread(ensure_topics, settings, [get_topic(t) for t in topics])
    token = uuid.uuid4().hex[:8]
    group = f"test-connect-crm-{token}"
    consumed = (PROFILES_TOPIC, LEADS_TOPIC)
    watched = (*consumed, ALERTS_TOPIC, *(dlq_topic(topic) for topic in consumed))
    start_offsets = await asyncio.to_thread(current_ends, settings, watched)
    consumed_ends = {topic: start_offsets[topic] for topic in consumed}
    await asyncio.to_thread(start_group_at, settings, group, consumed_ends)
    harness = Harness(
        settings,
        prefix=f"t{token}-",
        group=group,
        crm_dir=tmp_path / "crm",
        start_offsets=start_offsets,
    )
    yield harness
    for connector in harness.connectors:
        connector.runner.stop()
    await asyncio.gather(*(c.task for c in harness.connectors), return_exceptions=True)
    for sandbox in harness.sandboxes:
        await sandbox.stop()
