"""A sweep command that fails leaves the profile due, so the next round of the sweep retries."""

from datetime import UTC, datetime
from typing import Any

import faust
import pytest

from schemas.codec import make_codec
from streams.context import WorkerContext
from streams.intake import Intake
from streams.metrics import WorkerMetrics
from streams.profile_agent import ProfileAgent
from streams.settings import Settings
from tests.streams.test_triggers import SHORT, viewed_twice


class BrokerDown(Exception):
    """The broker refused the mail job."""


@pytest.fixture
def agent(settings: Settings) -> ProfileAgent:
    app = faust.App("sweep-test", broker="kafka://localhost:1")
    codec, metrics = make_codec(None), WorkerMetrics()
    return ProfileAgent(
        WorkerContext(app, settings, codec, metrics, Intake(app, codec, metrics)), SHORT
    )


async def test_a_failed_sweep_is_retried_by_the_next_round(
    agent: ProfileAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = viewed_twice()
    agent._held.changed(profile)  # as a burst holds it before writing it to the table
    deadlines: Any = agent._deadlines
    deadlines.note(profile)
    now = datetime.now(UTC)
    assert deadlines.take_due(now) == ["c-1"]  # one round hands it out: its window has ended

    async def refused(*_: Any) -> bool:
        raise BrokerDown

    monkeypatch.setattr(agent.journey, "sweep", refused)
    with pytest.raises(BrokerDown):
        await agent._sweep("c-1")

    assert deadlines.take_due(now) == ["c-1"]
