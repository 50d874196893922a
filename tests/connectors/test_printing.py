"""The print sink and its step machine against the real simulated devices (no Kafka here).

The runner's part (retry the failed records) is played by `deliver_until_done`; events go to
an in-memory outlet, so each test sees exactly what would be published.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.device_steps import Device, Receipt, StepContext, StepStore
from connectors.devices import FaultPlan, SimulatedPrinter, start_device_simulator
from connectors.errors import (
    DeliveryError,
    PartialDeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.printing import (
    ALERTS_TOPIC,
    PRINT_TOPIC,
    STEPS_TOPIC,
    Event,
    HttpDevice,
    LetterRenderer,
    PrintSink,
)
from connectors.sink import SinkRecord
from connectors.templates import Templates
from schemas.jsonconv import json_to_record
from streams.broker import free_port
from tests.connectors.records import record
from tests.connectors.test_letter_pdf import pdf_texts

RESPONSIBLE = "druckerei@example.test"


@dataclass
class ListOutlet:
    """Collects published events; can be told to fail the next publications."""

    events: list[Event] = field(default_factory=list)
    failures_left: int = 0

    async def open(self) -> None:
        return None

    async def publish(self, events: Sequence[Event]) -> None:
        if self.failures_left:
            self.failures_left -= 1
            msg = "broker unavailable"
            raise RetriableDeliveryError(msg)
        self.events.extend(events)

    async def close(self) -> None:
        return None

    def steps(self) -> list[tuple[str, str, int]]:
        return [
            (v["step"], v["status"], v["attempt"]) for t, _, v in self.events if t == STEPS_TOPIC
        ]

    def alerts(self) -> list[dict[str, Any]]:
        return [value for topic, _, value in self.events if topic == ALERTS_TOPIC]


@dataclass
class PrintRoom:
    """Real simulators for franking and dispatch, the simulated printer, and a data dir."""

    data_dir: Path
    franking_url: str
    dispatch_url: str
    faults: FaultPlan

    def devices(self, **replaced: Device) -> dict[str, Device]:
        devices: dict[str, Device] = {
            "render": LetterRenderer(faults=self.faults),
            "print": SimulatedPrinter(self.data_dir, self.faults),
            "frank": HttpDevice("frank", self.franking_url),
            "dispatch": HttpDevice("dispatch", self.dispatch_url),
        }
        return {**devices, **replaced}

    async def sink(
        self, outlet: ListOutlet, *, responsible: str | None = RESPONSIBLE, **replaced: Device
    ) -> PrintSink:
        sink = PrintSink(self.data_dir, self.devices(**replaced), outlet, responsible)
        await sink.open()
        return sink

    async def performed(self, step: str) -> list[str]:
        url = self.franking_url if step == "frank" else self.dispatch_url
        async with aiohttp.ClientSession() as session, session.get(f"{url}/jobs") as response:
            jobs: list[str] = await response.json()
            return jobs

    def printed(self) -> list[str]:
        return sorted(path.name for path in (self.data_dir / "print").glob("*.pdf"))


PrintRoomFactory = Callable[..., Awaitable[PrintRoom]]


@pytest.fixture
async def print_room(tmp_path: Path) -> AsyncIterator[PrintRoomFactory]:
    runners: list[web.AppRunner] = []

    async def start(**faults: int) -> PrintRoom:
        plan = FaultPlan(dict(faults))
        urls = []
        for step in ("frank", "dispatch"):
            port = free_port()
            runners.append(await start_device_simulator(step, "127.0.0.1", port, plan))
            urls.append(f"http://127.0.0.1:{port}")
        return PrintRoom(tmp_path, urls[0], urls[1], plan)

    yield start
    for runner in runners:
        await runner.cleanup()


def print_record(job_id: str, offset: int = 0, **changes: Any) -> SinkRecord:
    document = {
        "job_id": job_id,
        "customer_id": "c1",
        "template": "laufschuh_einladung",
        "address": {
            "lines": ["Frau Dr. Erika Müßig"],
            "street": "Hauptstraße 5",
            "postal_code": "01234",
            "city": "Görlitz",
            "country": "DE",
        },
        "salutation": "Sehr geehrte Frau Dr. Müßig",
        "variables": {"campaign_name": "Frühjahrslauf"},
        "created_at": datetime(2026, 3, 2, 23, 30, tzinfo=UTC).isoformat(),
        **changes,
    }
    return record(job_id, json_to_record(PRINT_TOPIC, document), offset, topic=PRINT_TOPIC)


async def deliver_until_done(sink: PrintSink, batch: list[SinkRecord], attempts: int = 10) -> None:
    """Deliver like the runner: failed records again, until all went through."""
    pending = batch
    for _ in range(attempts):
        try:
            await sink.deliver(pending)
        except PartialDeliveryError as exc:
            pending = [r for failure in exc.failures for r in (failure.records or pending)]
            continue
        except RetriableDeliveryError:
            continue
        return
    msg = f"still failing after {attempts} deliveries"
    raise AssertionError(msg)


async def test_a_letter_goes_through_every_device_once(print_room: PrintRoomFactory) -> None:
    room = await print_room()
    outlet = ListOutlet()
    sink = await room.sink(outlet)

    await sink.deliver([print_record("job-1")])
    await sink.close()

    assert room.printed() == ["job-1.pdf"]
    assert await room.performed("frank") == ["job-1"]
    assert await room.performed("dispatch") == ["job-1"]
    assert outlet.steps() == [
        ("render", "succeeded", 1),
        ("print", "succeeded", 1),
        ("frank", "succeeded", 1),
        ("dispatch", "succeeded", 1),
    ]
    assert outlet.alerts() == []
    devices = [value["device_id"] for _, _, value in outlet.events]
    assert devices == ["letter-renderer", "sim-printer", "sim-franking-1", "sim-dispatch-1"]


async def test_the_printed_letter_has_the_address_date_and_campaign_text(
    print_room: PrintRoomFactory,
) -> None:
    room = await print_room()
    sink = await room.sink(ListOutlet())

    await sink.deliver([print_record("job-1")])
    await sink.close()

    texts = [text for _, _, text in pdf_texts((room.data_dir / "print" / "job-1.pdf").read_bytes())]
    assert "Frau Dr. Erika Müßig" in texts
    assert "01234 Görlitz" in texts
    assert "Datum: 03.03.2026" in texts  # 23:30 UTC is already the next day in Germany
    assert "Frühjahrslauf" in texts
    assert "Sehr geehrte Frau Dr. Müßig," in texts


@pytest.mark.parametrize("step", ["render", "print", "frank", "dispatch"])
async def test_each_failed_step_raises_an_alert_and_the_letter_still_goes_out_once(
    print_room: PrintRoomFactory, step: str
) -> None:
    room = await print_room(**{step: 2})
    outlet = ListOutlet()
    sink = await room.sink(outlet)

    await deliver_until_done(sink, [print_record("job-1")])
    await sink.close()

    assert room.printed() == ["job-1.pdf"]
    assert await room.performed("frank") == ["job-1"]
    assert await room.performed("dispatch") == ["job-1"]
    assert [(s, status) for s, status, _ in outlet.steps()].count((step, "failed")) == 2
    assert [s for s, status, _ in outlet.steps() if status == "succeeded"] == [
        "render",
        "print",
        "frank",
        "dispatch",
    ]
    alerts = outlet.alerts()
    assert [a["alert_id"] for a in alerts] == [
        f"device_step_failed:job-1:{step}:1",
        f"device_step_failed:job-1:{step}:2",
    ]
    assert {(a["kind"], a["severity"], a["job_id"], a["responsible"]) for a in alerts} == {
        ("device_step_failed", "warning", "job-1", RESPONSIBLE)
    }


@pytest.mark.parametrize(
    ("operator", "alerted"),
    [(None, "marketing@example.org"), (RESPONSIBLE, RESPONSIBLE)],
)
async def test_a_failed_step_of_a_campaign_letter_names_the_campaign_and_whom_to_tell(
    print_room: PrintRoomFactory, operator: str | None, alerted: str
) -> None:
    room = await print_room(frank=1)
    outlet = ListOutlet()
    sink = await room.sink(outlet, responsible=operator)
    variables = {"campaign_id": "cmp-herbst", "responsible": "marketing@example.org"}

    await deliver_until_done(sink, [print_record("job-1", variables=variables)])
    await sink.close()

    # Whoever runs the devices is told first; without one, the campaign's responsible.
    assert [(a["campaign_id"], a["responsible"]) for a in outlet.alerts()] == [
        ("cmp-herbst", alerted)
    ]


class Killed(BaseException):
    """The process dies: nothing after this point runs."""


@dataclass
class DiesOnUse:
    device_id: str = "frank-dies"

    async def perform(self, context: StepContext) -> Receipt:
        raise Killed


async def test_a_restart_between_print_and_frank_franks_without_printing_again(
    print_room: PrintRoomFactory,
) -> None:
    room = await print_room()
    before = ListOutlet()
    dying = await room.sink(before, frank=DiesOnUse())
    with pytest.raises(Killed):
        await dying.deliver([print_record("job-1")])
    printed_at = (room.data_dir / "print" / "job-1.pdf").stat().st_mtime_ns

    after = ListOutlet()
    restarted = await room.sink(
        after, print=SimulatedPrinter(room.data_dir, FaultPlan({"print": 9}))
    )
    await restarted.deliver([print_record("job-1")])
    await restarted.close()

    assert before.events == []
    assert after.steps() == [
        ("render", "succeeded", 1),
        ("print", "succeeded", 1),
        ("frank", "succeeded", 1),
        ("dispatch", "succeeded", 1),
    ]
    assert (room.data_dir / "print" / "job-1.pdf").stat().st_mtime_ns == printed_at
    assert await room.performed("frank") == ["job-1"]


async def test_a_redelivered_job_sends_nothing(print_room: PrintRoomFactory) -> None:
    room = await print_room()
    outlet = ListOutlet()
    sink = await room.sink(outlet)
    await sink.deliver([print_record("job-1", 0), print_record("job-1", 1)])
    published = len(outlet.events)

    await sink.deliver([print_record("job-1", 2)])
    await sink.close()
    restarted = await room.sink(outlet)
    await restarted.deliver([print_record("job-1", 3)])
    await restarted.close()

    assert len(outlet.events) == published == 4
    assert await room.performed("frank") == ["job-1"]
    assert await room.performed("dispatch") == ["job-1"]


async def test_a_letter_that_cannot_render_fails_for_good_with_a_critical_alert(
    print_room: PrintRoomFactory, tmp_path: Path
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "campaign.letter.txt").write_text(
        '{% set letter_subject = "Hallo" %}{{ body }}'
    )
    room = await print_room()
    outlet = ListOutlet()
    sink = await room.sink(outlet, render=LetterRenderer(Templates(tmp_path / "templates")))

    fine = print_record("job-fine", 1, variables={"body": "Text"})
    with pytest.raises(PartialDeliveryError) as raised:
        await sink.deliver([print_record("job-broken", 0), fine])
    await sink.close()

    [failure] = raised.value.failures
    assert isinstance(failure, PermanentDeliveryError)
    assert [r.offset for r in failure.records] == [0]
    [alert] = outlet.alerts()
    assert (alert["severity"], alert["source"]) == ("critical", "letter-renderer")
    assert "TEMPLATE_ERROR" in alert["message"]
    assert room.printed() == ["job-fine.pdf"]


async def test_an_unreachable_franking_device_is_retried_and_alerted_under_its_url(
    print_room: PrintRoomFactory,
) -> None:
    room = await print_room()
    outlet = ListOutlet()
    gone = f"http://127.0.0.1:{free_port()}"
    sink = await room.sink(outlet, frank=HttpDevice("frank", gone, timeout=5))

    with pytest.raises(PartialDeliveryError) as raised:
        await sink.deliver([print_record("job-1")])
    await sink.close()

    assert all(isinstance(f, RetriableDeliveryError) for f in raised.value.failures)
    [alert] = outlet.alerts()
    assert alert["source"] == gone
    assert "UNREACHABLE" in alert["message"]


async def test_events_that_could_not_be_published_go_out_with_the_next_delivery(
    print_room: PrintRoomFactory,
) -> None:
    room = await print_room(frank=1)
    outlet = ListOutlet(failures_left=1)
    sink = await room.sink(outlet)

    with pytest.raises(DeliveryError):
        await sink.deliver([print_record("job-1")])
    assert outlet.events == []
    await deliver_until_done(sink, [print_record("job-1")])
    await sink.close()

    assert outlet.steps() == [
        ("render", "succeeded", 1),
        ("print", "succeeded", 1),
        ("frank", "failed", 1),
        ("frank", "succeeded", 2),
        ("dispatch", "succeeded", 1),
    ]
    assert [a["alert_id"] for a in outlet.alerts()] == ["device_step_failed:job-1:frank:1"]
    assert StepStore(room.data_dir).unreported() == []
