"""The print connector end to end: real broker, sink runtime, simulated devices, DLQ replay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from confluent_kafka import Message

from connectors.device_steps import StepStore
from connectors.devices import FaultPlan, start_device_simulator
from connectors.metrics import ConnectorMetrics
from connectors.printing import (
    ALERTS_TOPIC,
    PRINT_TOPIC,
    STEPS_TOPIC,
    KafkaOutlet,
    PrintSink,
    print_devices,
)
from connectors.retry import RetryPolicy
from connectors.runtime import RunnerOptions, SinkRunner
from schemas.catalog import dlq_topic, get_topic
from schemas.codec import make_codec
from schemas.deadletter import parse_dead_letter_headers
from schemas.jsonconv import json_to_record
from streams.broker import free_port
from streams.inspect import replay_dead_letters
from streams.kafka import ensure_topics
from streams.settings import Settings
from tests.connectors.conftest import (
    Harness,
    RunningConnector,
    current_ends,
    start_group_at,
    wait_until,
)

pytestmark = pytest.mark.slow

PRINT_DLQ = dlq_topic(PRINT_TOPIC)
RESPONSIBLE = "druckerei@example.test"


@dataclass
class PrintStack:
    """Kafka, the franking and dispatch simulators, and the settings pointing at them."""

    harness: Harness
    settings: Settings
    runners: list[web.AppRunner]
    metrics: ConnectorMetrics = field(default_factory=ConnectorMetrics)

    async def connector(self, retry: RetryPolicy) -> RunningConnector:
        sink = PrintSink(
            self.settings.data_dir,
            print_devices(self.settings),
            KafkaOutlet(self.settings, metrics=self.metrics),
            RESPONSIBLE,
        )
        options = RunnerOptions(group_id=self.harness.group, retry=retry, max_wait=0.2)
        runner = SinkRunner(sink, self.settings, options, metrics=self.metrics)
        running = RunningConnector(runner, asyncio.create_task(runner.run()))
        self.harness.connectors.append(running)
        return running

    async def dispatched(self) -> list[str]:
        url = f"{self.settings.dispatch_url}/jobs"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            jobs: list[str] = await response.json()
            return [job for job in jobs if job.startswith(self.harness.prefix)]

    async def steps(self) -> list[tuple[str, str, int]]:
        """The (step, status, attempt) of this test's `device.steps` events, in order."""
        messages = self.harness.mine(await self.harness.read(STEPS_TOPIC))
        values = [make_codec(None).decode(STEPS_TOPIC, m.value() or b"") for m in messages]
        return [(value["step"], value["status"], value["attempt"]) for value in values]

    async def alerts(self) -> list[dict[str, Any]]:
        """The alerts about this test's jobs or dead letters."""
        dead = self.harness.mine(await self.harness.read(PRINT_DLQ))
        parked = {f"delivery_failed:{PRINT_TOPIC}:{_origin(m)}" for m in dead}
        messages = await self.harness.read(ALERTS_TOPIC)
        values = [make_codec(None).decode(ALERTS_TOPIC, m.value() or b"") for m in messages]
        return [
            value
            for value in values
            if (value["job_id"] or "").startswith(self.harness.prefix)
            or value["alert_id"] in parked
        ]


def _origin(message: Message) -> str:
    info = parse_dead_letter_headers(message.headers() or [])
    return f"{info.origin_partition}:{info.origin_offset}"


async def start_stack(
    test_env: dict[str, str], tmp_path: Path, faults: str
) -> AsyncIterator[PrintStack]:
    plan = FaultPlan(Settings.from_env({"JOURNEYHUB_DEVICE_FAULTS": faults}).device_faults)
    ports = {"frank": free_port(), "dispatch": free_port()}
    runners = [
        await start_device_simulator("frank", "127.0.0.1", ports["frank"], plan),
        await start_device_simulator("dispatch", "127.0.0.1", ports["dispatch"], plan),
    ]
    settings = Settings.from_env(
        {
            **test_env,
            "FRANKING_URL": f"http://127.0.0.1:{ports['frank']}",
            "DISPATCH_URL": f"http://127.0.0.1:{ports['dispatch']}",
            "JOURNEYHUB_DEVICE_FAULTS": faults,
        }
    )
    topics = (PRINT_TOPIC, STEPS_TOPIC, ALERTS_TOPIC)
    specs = [get_topic(topic) for topic in topics]
    await asyncio.to_thread(ensure_topics, settings, specs)
    watched = (*topics, PRINT_DLQ)
    start_offsets = await asyncio.to_thread(current_ends, settings, watched)
    token = uuid.uuid4().hex[:8]
    group = f"test-connect-print-{token}"
    await asyncio.to_thread(
        start_group_at, settings, group, {PRINT_TOPIC: start_offsets[PRINT_TOPIC]}
    )
    harness = Harness(settings, f"t{token}-", group, tmp_path / "unused", start_offsets)
    yield PrintStack(harness, settings, runners)
    for connector in harness.connectors:
        connector.runner.stop()
    await asyncio.gather(*(c.task for c in harness.connectors), return_exceptions=True)
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def print_stack(test_env: dict[str, str], tmp_path: Path) -> AsyncIterator[PrintStack]:
    async for stack in start_stack(test_env, tmp_path, "print:1,frank:1"):
        yield stack


@pytest.fixture
async def jammed_franking(test_env: dict[str, str], tmp_path: Path) -> AsyncIterator[PrintStack]:
    async for stack in start_stack(test_env, tmp_path, "frank:3"):
        yield stack


def print_job(job_id: str) -> dict[str, Any]:
    return json_to_record(
        PRINT_TOPIC,
        {
            "job_id": job_id,
            "customer_id": "c1",
            "template": "campaign",
            "address": {
                "lines": ["Herrn Jörg Brückner"],
                "street": "Lindenallee 3",
                "postal_code": "04109",
                "city": "Leipzig",
                "country": "DE",
            },
            "salutation": "Sehr geehrter Herr Brückner",
            "variables": {"campaign_name": "Stadtlauf Leipzig"},
            "created_at": datetime.now(UTC).isoformat(),
        },
    )


async def test_a_print_job_goes_out_once_with_its_device_steps_and_alerts(
    print_stack: PrintStack,
) -> None:
    job_id = print_stack.harness.id("letter-1")
    await print_stack.harness.produce(PRINT_TOPIC, [(job_id, print_job(job_id))])

    connector = await print_stack.connector(RetryPolicy(base_delay=0.05, max_delay=0.2))

    async def dispatched() -> bool:
        return await print_stack.dispatched() == [job_id]

    await wait_until(dispatched, 60, "the letter to be dispatched")

    async def all_steps_reported() -> bool:
        return len(await print_stack.steps()) == 6

    await wait_until(all_steps_reported, 30, "six device.steps events")
    await connector.stop()

    assert (print_stack.settings.data_dir / "print" / f"{job_id}.pdf").exists()
    assert await print_stack.steps() == [
        ("render", "succeeded", 1),
        ("print", "failed", 1),
        ("print", "succeeded", 2),
        ("frank", "failed", 1),
        ("frank", "succeeded", 2),
        ("dispatch", "succeeded", 1),
    ]
    counted = print_stack.metrics.registry.get_sample_value
    assert (
        counted("journeyhub_connector_device_steps_total", {"step": "print", "status": "failed"})
        == 1
    )
    assert (
        counted("journeyhub_connector_device_steps_total", {"step": "frank", "status": "succeeded"})
        == 1
    )
    alerts = await print_stack.alerts()
    alerts.sort(key=lambda alert: alert["alert_id"])  # keyed by alert id: partitions differ
    assert [(a["alert_id"], a["severity"], a["source"], a["responsible"]) for a in alerts] == [
        (f"device_step_failed:{job_id}:frank:1", "warning", "sim-franking-1", RESPONSIBLE),
        (f"device_step_failed:{job_id}:print:1", "warning", "sim-printer", RESPONSIBLE),
    ]


async def test_a_job_out_of_retries_is_parked_and_a_replay_resumes_it_without_reprinting(
    jammed_franking: PrintStack,
) -> None:
    stack = jammed_franking
    job_id = stack.harness.id("letter-2")
    await stack.harness.produce(PRINT_TOPIC, [(job_id, print_job(job_id))])
    budget = RetryPolicy(max_attempts=2, max_elapsed=30, base_delay=0.05, max_delay=0.1)
    connector = await stack.connector(budget)

    async def parked() -> bool:
        return len(stack.harness.mine(await stack.harness.read(PRINT_DLQ))) == 1

    await wait_until(parked, 60, "the job in the dead letters")
    critical = [a for a in await stack.alerts() if a["severity"] == "critical"]
    assert [a["kind"] for a in critical] == ["delivery_failed"]

    replayed = await asyncio.to_thread(
        replay_dead_letters, stack.settings, PRINT_TOPIC, dry_run=False
    )
    assert replayed >= 1

    async def dispatched() -> bool:
        return await stack.dispatched() == [job_id]

    await wait_until(dispatched, 60, "the replayed letter to be dispatched")
    await connector.stop()

    outcomes = await stack.steps()
    assert outcomes.count(("print", "succeeded", 1)) == 1
    assert [o for o in outcomes if o[0] == "frank"] == [
        ("frank", "failed", 1),
        ("frank", "failed", 2),
        ("frank", "failed", 3),
        ("frank", "succeeded", 4),
    ]
    warnings = sorted(a["alert_id"] for a in await stack.alerts() if a["severity"] == "warning")
    assert warnings == [f"device_step_failed:{job_id}:frank:{n}" for n in (1, 2, 3)]
    assert StepStore(stack.settings.data_dir).unreported() == []
