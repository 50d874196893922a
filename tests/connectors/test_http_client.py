"""HTTP answers judged as done, retriable or final, against a real sandbox CRM."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors.errors import PermanentDeliveryError, RetriableDeliveryError
from connectors.http_client import HttpCall, HttpTarget, delivery_error
from connectors.sandbox_crm import SandboxOptions, start_sandbox_crm
from streams.broker import free_port

CALL = HttpCall("PUT", "/contacts/c-1", "key-1", {"customer_id": "c-1"})


@pytest.mark.parametrize(
    ("status", "judgement"),
    [
        (200, "NoneType"),
        (204, "NoneType"),
        (400, "PermanentDeliveryError"),
        (404, "PermanentDeliveryError"),
        (408, "RetriableDeliveryError"),
        (429, "RetriableDeliveryError"),
        (500, "RetriableDeliveryError"),
        (503, "RetriableDeliveryError"),
    ],
)
def test_statuses_are_judged_done_retriable_or_final(status: int, judgement: str) -> None:
    assert type(delivery_error(CALL, status, "Reason")).__name__ == judgement


def test_a_done_status_of_the_call_counts_as_success() -> None:
    delete = HttpCall("DELETE", "/contacts/c-1", "key-1", done_statuses=frozenset({404}))

    assert delivery_error(delete, 404, "Not Found") is None


def test_a_refusal_explains_itself_with_call_status_and_detail() -> None:
    error = delivery_error(CALL, 400, "Bad Request", detail='{"error": "bad email"}')

    assert str(error) == 'PUT /contacts/c-1 answered 400 Bad Request: {"error": "bad email"}'
    assert error is not None and error.status == 400


@pytest.fixture
async def crm_url(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    runner = await start_sandbox_crm(tmp_path, SandboxOptions(port=port, token="t0ken"))
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_call_with_the_right_token_is_confirmed(crm_url: str) -> None:
    async with HttpTarget(crm_url, token="t0ken") as target:
        await target.send(CALL)


async def test_a_wrong_token_is_a_permanent_failure(crm_url: str) -> None:
    async with HttpTarget(crm_url, token="wrong") as target:
        with pytest.raises(PermanentDeliveryError) as caught:
            await target.send(CALL)

    assert caught.value.status == 401


async def test_a_lead_without_idempotency_key_is_refused_by_the_crm(crm_url: str) -> None:
    async with HttpTarget(crm_url, token="t0ken") as target:
        with pytest.raises(PermanentDeliveryError, match="400"):
            await target.send(HttpCall("POST", "/leads", " ", {"customer_id": "c-1"}))


async def test_rate_limiting_is_retriable_after_the_announced_time(tmp_path: Path) -> None:
    port = free_port()
    runner = await start_sandbox_crm(tmp_path, SandboxOptions(port=port, rate_limit=1))
    try:
        async with HttpTarget(f"http://127.0.0.1:{port}") as target:
            with pytest.raises(RetriableDeliveryError) as caught:
                for _ in range(3):
                    await target.send(CALL)
    finally:
        await runner.cleanup()

    assert (caught.value.status, caught.value.retry_after) == (429, 1.0)


async def test_an_unreachable_target_is_retriable() -> None:
    async with HttpTarget(f"http://127.0.0.1:{free_port()}", timeout=2.0) as target:
        with pytest.raises(RetriableDeliveryError, match="failed"):
            await target.send(CALL)


async def test_a_target_slower_than_the_timeout_is_retriable(tmp_path: Path) -> None:
    port = free_port()
    runner = await start_sandbox_crm(tmp_path, SandboxOptions(port=port, latency_ms=1000))
    try:
        async with HttpTarget(f"http://127.0.0.1:{port}", timeout=0.2) as target:
            with pytest.raises(RetriableDeliveryError, match="TimeoutError"):
                await target.send(CALL)
    finally:
        await runner.cleanup()
