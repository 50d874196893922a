"""Which leads and jobs a profile handed over mid-burst waits for (Journey.acknowledge_for)."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest
from faust.topics import Topic

from schemas.codec import make_codec
from streams.context import WorkerContext
from streams.journey_agent import Journey
from streams.metrics import WorkerMetrics
from streams.profile import Profile
from streams.rules import load_rules

RULES = load_rules(None)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAIT = 0.05
"""Seconds after which a wait that should be over would have been."""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[bytes, asyncio.Future[Any]]]:
    """The broker's acknowledgement of each record the journey sends, by key, left open."""
    deliveries: dict[bytes, asyncio.Future[Any]] = {}

    async def send(_topic: Topic, *, key: bytes, value: bytes) -> asyncio.Future[Any]:
        deliveries[key] = asyncio.get_running_loop().create_future()
        return deliveries[key]

    monkeypatch.setattr(Topic, "send", send)
    yield deliveries


def journey() -> Journey:
    app = faust.App("journey-test", broker="kafka://localhost:1", store="memory://")
    worker = SimpleNamespace(app=app, codec=make_codec(None), metrics=WorkerMetrics())
    return Journey(cast(WorkerContext, worker), RULES)


async def hand_over(journey: Journey, customer_id: str) -> None:
    """Make the person a sales lead: the journey sends the lead and the profile remembers it."""
    threshold = RULES.lead_scoring.thresholds.sales_lead
    await journey.after_merge(Profile(customer_id, lead_score=threshold), NOW)


async def finishes(wait: asyncio.Task[None]) -> bool:
    await asyncio.wait([wait], timeout=WAIT)
    return wait.done()


async def test_a_profile_without_unacknowledged_leads_or_jobs_is_handed_over_at_once(
    sent: dict[bytes, asyncio.Future[Any]],
) -> None:
    leads = journey()
    await hand_over(leads, "c-erika")

    assert await finishes(asyncio.create_task(leads.acknowledge_for("c-max")))
    assert not sent[b"c-erika"].done()


async def test_a_profile_that_remembers_a_lead_waits_until_the_broker_has_it(
    sent: dict[bytes, asyncio.Future[Any]],
) -> None:
    leads = journey()
    await hand_over(leads, "c-erika")
    wait = asyncio.create_task(leads.acknowledge_for("c-erika"))

    assert not await finishes(wait)
    sent[b"c-erika"].set_result(None)
    assert await finishes(wait)


async def test_once_acknowledged_a_lead_holds_up_no_later_hand_over(
    sent: dict[bytes, asyncio.Future[Any]],
) -> None:
    leads = journey()
    await hand_over(leads, "c-erika")
    sent[b"c-erika"].set_result(None)
    await leads.acknowledge()
    await hand_over(leads, "c-max")

    assert await finishes(asyncio.create_task(leads.acknowledge_for("c-erika")))
    assert not await finishes(asyncio.create_task(leads.acknowledge_for("c-max")))
