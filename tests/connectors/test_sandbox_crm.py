"""The sandbox CRM's endpoints, answers and counters, through an in-process HTTP client."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.errors import ConnectorConfigError
from connectors.sandbox_crm import SandboxOptions, create_sandbox_app
from connectors.sandbox_store import DATABASE_NAME

StartCrm = Callable[..., Awaitable[TestClient[Any, Any]]]

CONTACT = {"customer_id": "c-1", "first_name": "Test", "email": "c-1@example.test"}
LEAD = {"lead_id": "lead-c-1", "customer_id": "c-1", "score": 60, "reasons": ["download"]}


@pytest.fixture
async def start_crm(tmp_path: Path) -> AsyncIterator[StartCrm]:
    clients: list[TestClient[Any, Any]] = []

    async def start(**options: Any) -> TestClient[Any, Any]:
        client = TestClient(TestServer(create_sandbox_app(tmp_path, SandboxOptions(**options))))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def crm(start_crm: StartCrm) -> TestClient[Any, Any]:
    return await start_crm()


async def stats(crm: TestClient[Any, Any]) -> dict[str, int]:
    response = await crm.get("/stats")
    result: dict[str, int] = await response.json()
    return result


async def test_put_creates_then_updates_a_contact(crm: TestClient[Any, Any]) -> None:
    created = await crm.put("/contacts/c-1", json=CONTACT)
    updated = await crm.put("/contacts/c-1", json={**CONTACT, "first_name": "Changed"})

    assert created.status == 201
    assert updated.status == 200
    contact = await (await crm.get("/contacts/c-1")).json()
    assert contact == {**CONTACT, "first_name": "Changed", "external_id": "c-1"}
    assert (await stats(crm))["contacts"] == 1


async def test_put_with_the_stored_body_counts_as_duplicate_request(
    crm: TestClient[Any, Any],
) -> None:
    await crm.put("/contacts/c-1", json=CONTACT)
    again = await crm.put("/contacts/c-1", json=dict(reversed(list(CONTACT.items()))))

    assert again.status == 200
    assert await stats(crm) == {
        "contacts": 1,
        "leads": 0,
        "requests": 2,
        "duplicate_requests": 1,
        "rejected_requests": 0,
    }


@pytest.mark.parametrize(
    "body",
    [["not", "an", "object"], {**CONTACT, "email": "not-an-email"}],
    ids=["list-body", "malformed-email"],
)
async def test_put_of_an_invalid_contact_is_rejected_with_400(
    crm: TestClient[Any, Any], body: Any
) -> None:
    response = await crm.put("/contacts/c-1", json=body)

    assert response.status == 400
    assert "error" in await response.json()
    assert (await stats(crm))["rejected_requests"] == 1
    assert (await crm.get("/contacts/c-1")).status == 404


async def test_delete_removes_a_contact_and_answers_404_when_there_is_none(
    crm: TestClient[Any, Any],
) -> None:
    await crm.put("/contacts/c-1", json=CONTACT)

    first = await crm.delete("/contacts/c-1")
    second = await crm.delete("/contacts/c-1")

    assert (first.status, second.status) == (204, 404)
    assert (await stats(crm))["contacts"] == 0


async def test_contacts_are_found_by_email_case_insensitively(crm: TestClient[Any, Any]) -> None:
    await crm.put("/contacts/c-1", json=CONTACT)
    await crm.put("/contacts/c-2", json={"customer_id": "c-2", "email": "c-2@example.test"})

    found = await (await crm.get("/contacts", params={"email": "C-1@Example.TEST"})).json()
    everyone = await (await crm.get("/contacts")).json()

    assert [contact["external_id"] for contact in found] == ["c-1"]
    assert [contact["external_id"] for contact in everyone] == ["c-1", "c-2"]


async def test_a_repeated_idempotency_key_returns_the_original_lead(
    crm: TestClient[Any, Any],
) -> None:
    headers = {"Idempotency-Key": "lead-c-1"}
    created = await crm.post("/leads", json=LEAD, headers=headers)
    repeated = await crm.post("/leads", json={**LEAD, "score": 99}, headers=headers)

    assert (created.status, repeated.status) == (201, 200)
    assert await repeated.json() == LEAD
    assert await (await crm.get("/leads")).json() == [LEAD]
    counters = await stats(crm)
    assert (counters["leads"], counters["duplicate_requests"]) == (1, 1)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (LEAD, {}),
        ({"lead_id": "lead-c-1", "score": 60}, {"Idempotency-Key": "k"}),
        ({"lead_id": "lead-c-1", "customer_id": "c-1"}, {"Idempotency-Key": "k"}),
    ],
    ids=["no-idempotency-key", "no-customer-id", "no-score"],
)
async def test_an_incomplete_lead_request_is_rejected_with_400(
    crm: TestClient[Any, Any], body: dict[str, Any], headers: dict[str, str]
) -> None:
    response = await crm.post("/leads", json=body, headers=headers)

    assert response.status == 400
    counters = await stats(crm)
    assert (counters["leads"], counters["rejected_requests"]) == (0, 1)


async def test_data_survives_a_restart_of_the_sandbox(tmp_path: Path) -> None:
    first = TestClient(TestServer(create_sandbox_app(tmp_path)))
    await first.start_server()
    await first.put("/contacts/c-1", json=CONTACT)
    await first.close()

    second = TestClient(TestServer(create_sandbox_app(tmp_path)))
    await second.start_server()
    try:
        assert (await second.get("/contacts/c-1")).status == 200
        assert (await stats(second))["requests"] == 2
    finally:
        await second.close()
    assert (tmp_path / DATABASE_NAME).is_file()


async def test_a_token_is_required_when_configured(start_crm: StartCrm) -> None:
    crm = await start_crm(token="s3cret")

    anonymous = await crm.put("/contacts/c-1", json=CONTACT)
    wrong = await crm.put("/contacts/c-1", json=CONTACT, headers={"Authorization": "Bearer x"})
    right = await crm.put("/contacts/c-1", json=CONTACT, headers={"Authorization": "Bearer s3cret"})

    assert (anonymous.status, wrong.status, right.status) == (401, 401, 201)


async def test_fail_rate_answers_a_seeded_share_of_writes_with_503(start_crm: StartCrm) -> None:
    crm = await start_crm(fail_rate=0.5, seed=7)

    statuses = [(await crm.put(f"/contacts/c-{i}", json={})).status for i in range(200)]

    failed = statuses.count(503)
    assert 70 < failed < 130
    assert failed + statuses.count(201) == 200
    reads = [(await crm.get("/contacts")).status for _ in range(20)]
    assert reads == [200] * 20
    assert len(await (await crm.get("/contacts")).json()) == 200 - failed


async def test_the_same_seed_fails_the_same_requests(start_crm: StartCrm) -> None:
    runs = []
    for _ in range(2):
        crm = await start_crm(fail_rate=0.3, seed=11)
        runs.append([(await crm.delete(f"/contacts/c-{i}")).status for i in range(30)])

    assert runs[0] == runs[1]
    assert 503 in runs[0]


async def test_writes_above_the_rate_limit_get_429_with_retry_after(start_crm: StartCrm) -> None:
    crm = await start_crm(rate_limit=5)

    responses = [await crm.put(f"/contacts/c-{i}", json={}) for i in range(12)]

    limited = [response for response in responses if response.status == 429]
    assert 1 <= len(limited) <= 7
    assert all(response.headers["Retry-After"] == "1" for response in limited)
    assert (await stats(crm))["contacts"] == 12 - len(limited)


async def test_latency_delays_writes_but_not_reads(start_crm: StartCrm) -> None:
    crm = await start_crm(latency_ms=150)
    loop_time = asyncio.get_running_loop().time

    started = loop_time()
    await crm.put("/contacts/c-1", json=CONTACT)
    write_seconds = loop_time() - started
    started = loop_time()
    await crm.get("/contacts/c-1")
    read_seconds = loop_time() - started

    assert write_seconds >= 0.15
    assert read_seconds < 0.15


@pytest.mark.parametrize(
    "options",
    [{"fail_rate": 1.5}, {"latency_ms": -1}, {"rate_limit": 0}],
    ids=["fail-rate", "latency", "rate-limit"],
)
def test_out_of_range_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ConnectorConfigError):
        SandboxOptions(**options)
