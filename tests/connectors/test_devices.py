"""The simulated devices: the printer's PDF files, franking and dispatch over HTTP, drills."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.device_steps import DeviceError, PrintJob, StepContext
from connectors.devices import (
    FaultPlan,
    SimulatedPrinter,
    printed_file_name,
    start_device_simulator,
)
from connectors.printing import HttpDevice
from streams.broker import free_port
from streams.settings import Settings
from tests.connectors.conftest import wait_until

JOB = PrintJob(
    job_id="print-campaign-7-c1",
    customer_id="c1",
    template="campaign",
    address_lines=("Frau Erika Probe",),
    street="Weg 1",
    postal_code="01234",
    city="Ort",
    country="DE",
    salutation="Sehr geehrte Frau Probe",
    variables={},
    created_at=datetime(2026, 3, 2, tzinfo=UTC),
)


def context(attempt: int = 1, document: bytes | None = b"%PDF-1.3 letter") -> StepContext:
    return StepContext(JOB, attempt, document, {})


async def post(url: str, body: dict[str, Any], key: str | None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def get(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


@pytest.fixture
async def franking() -> AsyncIterator[str]:
    port = free_port()
    runner = await start_device_simulator("frank", "127.0.0.1", port, FaultPlan({"frank": 2}))
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def test_the_fault_plan_fails_exactly_the_drilled_attempts() -> None:
    plan = FaultPlan.from_settings(Settings.from_env({"JOURNEYHUB_DEVICE_FAULTS": "frank:2"}))

    outcomes = [plan.due("frank", "f1") is not None for _ in range(4)]

    assert outcomes == [True, True, False, False]
    assert plan.due("print", "p1") is None


async def test_the_simulated_printer_stores_the_letter_as_job_pdf(tmp_path: Path) -> None:
    printer = SimulatedPrinter(tmp_path)

    receipt = await printer.perform(context())

    stored = tmp_path / "print" / "print-campaign-7-c1.pdf"
    assert stored.read_bytes() == b"%PDF-1.3 letter"
    assert receipt.device_id == "sim-printer"
    assert receipt.reference == stored.name
    assert [path.name for path in (tmp_path / "print").iterdir()] == [stored.name]


async def test_a_drilled_paper_jam_fails_the_first_print_only(tmp_path: Path) -> None:
    printer = SimulatedPrinter(tmp_path, FaultPlan({"print": 1}))

    with pytest.raises(DeviceError) as raised:
        await printer.perform(context())
    await printer.perform(context(attempt=2))

    assert (raised.value.code, raised.value.device_id) == ("PAPER_JAM", "sim-printer")
    assert not raised.value.permanent
    assert (tmp_path / "print" / "print-campaign-7-c1.pdf").exists()


async def test_printing_without_a_rendered_letter_is_a_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError) as raised:
        await SimulatedPrinter(tmp_path).perform(context(document=None))

    assert raised.value.permanent


def test_job_ids_that_are_unsafe_as_file_names_are_quoted() -> None:
    assert printed_file_name("print:camp-1:c1") == "print:camp-1:c1.pdf"
    assert printed_file_name("../etc/passwd") == "%2E.%2Fetc%2Fpasswd.pdf"
    assert printed_file_name(".hidden") == "%2Ehidden.pdf"


async def test_franking_fails_as_drilled_then_franks_each_key_once(franking: str) -> None:
    url = f"{franking}/frankings"
    body = {"job_id": "j1"}

    failures = [await post(url, body, "j1:frank") for _ in range(2)]
    created = await post(url, body, "j1:frank")
    repeated = await post(url, body, "j1:frank")

    assert [status for status, _ in failures] == [503, 503]
    assert failures[0][1]["error_code"] == "INK_EMPTY"
    assert created[0] == 201
    assert repeated == (200, created[1])
    assert created[1]["device_id"] == "sim-franking-1"
    assert await get(f"{franking}/jobs") == ["j1"]
    assert await get(f"{franking}/stats") == {"performed": 1, "duplicates": 1, "faults": 2}


async def test_a_request_without_idempotency_key_is_refused(franking: str) -> None:
    status, answer = await post(f"{franking}/frankings", {"job_id": "j1"}, None)

    assert status == 400
    assert "Idempotency-Key" in answer["error"]


async def test_the_http_device_client_reports_the_devices_own_id_and_error(
    franking: str,
) -> None:
    device = HttpDevice("frank", franking)

    with pytest.raises(DeviceError) as raised:
        await device.perform(context())
    with pytest.raises(DeviceError):
        await device.perform(context(attempt=2))
    receipt = await device.perform(context(attempt=3))

    assert (raised.value.device_id, raised.value.code) == ("sim-franking-1", "INK_EMPTY")
    assert not raised.value.permanent
    assert receipt.device_id == "sim-franking-1"
    assert receipt.reference == "frank-000001"


async def test_an_unreachable_device_is_a_retriable_failure_under_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(DeviceError) as raised:
        await HttpDevice("dispatch", url, timeout=5).perform(context())

    assert (raised.value.device_id, raised.value.code) == (url, "UNREACHABLE")
    assert not raised.value.permanent


async def test_a_device_refusing_the_request_is_a_permanent_failure() -> None:
    app = web.Application()

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error_code": "BAD_ADDRESS"}, status=422)

    app.router.add_post("/dispatches", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with pytest.raises(DeviceError) as raised:
            await HttpDevice("dispatch", f"http://127.0.0.1:{port}").perform(context())
    finally:
        await runner.cleanup()

    assert raised.value.permanent
    assert raised.value.code == "BAD_ADDRESS"


async def test_python_m_connectors_devices_serves_both_simulators_until_sigterm(
    tmp_path: Path,
) -> None:
    franking_port, dispatch_port = free_port(), free_port()
    env = {**os.environ, "JOURNEYHUB_DATA_DIR": str(tmp_path), "JOURNEYHUB_DEVICE_FAULTS": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "connectors.devices"),
        *("--franking-port", str(franking_port), "--dispatch-port", str(dispatch_port)),
        env=env,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for port in (franking_port, dispatch_port):
            stats = f"http://127.0.0.1:{port}/stats"
            await wait_until(partial(answers, stats), 20, "a simulator")
    finally:
        process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(process.wait(), 20)

    assert exit_code == 0


async def answers(url: str) -> bool:
    try:
        await get(url)
    except aiohttp.ClientError:
        return False
    return True
