"""What happens to single records is logged at DEBUG: an INFO log stays readable under load."""

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest
import structlog
from faust.topics import Topic

from schemas.codec import make_codec
from streams.context import WorkerContext
from streams.journey_agent import Journey
from streams.logs import configure_logging
from streams.metrics import WorkerMetrics
from streams.profile import Profile
from streams.rules import load_rules

RULES = load_rules(None)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def acknowledged_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    async def send(_topic: Topic, *, key: bytes, value: bytes) -> asyncio.Future[Any]:
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(None)
        return delivery

    monkeypatch.setattr(Topic, "send", send)


async def hand_over_a_lead(metrics: WorkerMetrics) -> None:
    app = faust.App("record-logs-test", broker="kafka://localhost:1", store="memory://")
    worker = SimpleNamespace(app=app, codec=make_codec(None), metrics=metrics)
    journey = Journey(cast(WorkerContext, worker), RULES)
    threshold = RULES.lead_scoring.thresholds.sales_lead
    await journey.after_merge(Profile("c-erika", lead_score=threshold), NOW)


async def test_a_handed_over_lead_is_counted_and_not_logged_at_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    metrics = WorkerMetrics()

    await hand_over_a_lead(metrics)

    assert metrics.registry.get_sample_value("journeyhub_journey_leads_total") == 1
    assert capsys.readouterr().err == ""


async def test_a_handed_over_lead_is_logged_with_its_customer_id_at_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG", "json")

    await hand_over_a_lead(WorkerMetrics())

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    handed_over = [line for line in lines if line["event"] == "lead_handed_over"]
    assert [(line["level"], line["customer_id"]) for line in handed_over] == [("debug", "c-erika")]
