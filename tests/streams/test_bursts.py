import asyncio
from collections.abc import AsyncIterator

import faust
import pytest
from faust.types import EventT

from streams.bursts import run_in_bursts


@pytest.fixture
async def app() -> AsyncIterator[faust.App]:
    app = faust.App("bursts-test", broker="kafka://localhost:1", store="memory://")
    app.flow_control.resume()  # a stopped app's streams hold every event
    yield app


class Recorder:
    """What the agent saw: each applied value, and at each flush which events were acked."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, object]] = []
        self.events: list[EventT] = []

    async def apply(self, event: EventT) -> None:
        self.events.append(event)
        self.steps.append(("apply", event.value))

    async def flush(self) -> None:
        self.steps.append(("flush", [event.message.acked for event in self.events]))


async def run_until_idle(app: faust.App, arrivals: list[list[int]], most: int) -> Recorder:
    """Send each arrival's values at once (before the stream gets a turn), then pause."""
    channel = app.channel()
    recorder = Recorder()
    task = asyncio.create_task(
        run_in_bursts(channel.stream(), recorder.apply, recorder.flush, most=most, longest=60)
    )
    await asyncio.sleep(0.05)  # the stream subscribes to the channel
    for values in arrivals:
        for value in values:
            await channel.send(value=value)
        await asyncio.sleep(0.1)
    task.cancel()
    return recorder


async def test_a_burst_is_flushed_when_nothing_more_waits_and_acked_after(
    app: faust.App,
) -> None:
    recorder = await run_until_idle(app, [[1, 2, 3]], most=10)

    assert recorder.steps == [
        ("apply", 1),
        ("apply", 2),
        ("apply", 3),
        ("flush", [False, False, False]),
    ]
    assert all(event.message.acked for event in recorder.events)


async def test_a_long_burst_is_flushed_in_parts_of_at_most_most_events(app: faust.App) -> None:
    recorder = await run_until_idle(app, [[1, 2, 3, 4, 5]], most=3)

    assert recorder.steps == [
        ("apply", 1),
        ("apply", 2),
        ("apply", 3),
        ("flush", [False, False, False]),
        ("apply", 4),
        ("apply", 5),
        ("flush", [True, True, True, False, False]),
    ]
    assert all(event.message.acked for event in recorder.events)


async def test_events_that_come_one_by_one_are_flushed_one_by_one(app: faust.App) -> None:
    recorder = await run_until_idle(app, [[1], [2]], most=10)

    assert recorder.steps == [
        ("apply", 1),
        ("flush", [False]),
        ("apply", 2),
        ("flush", [True, False]),
    ]
