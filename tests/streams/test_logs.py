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
from streams.logs import configure_logging, mask_personal_text, scrub_personal_data
from streams.metrics import WorkerMetrics
from streams.profile import Profile
from streams.rules import load_rules


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_json_logs_carry_ids_but_no_email_phone_or_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")

    structlog.get_logger().info(
        "profile merged",
        customer_id="cus-0042",
        email="erika.mustermann@example.com",
        phone="+49 30 1234567",
        first_name="Erika",
        last_name="Mustermann",
    )

    [line] = json_lines(capsys)
    assert line["event"] == "profile merged"
    assert line["customer_id"] == "cus-0042"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")
    for key in ("email", "phone", "first_name", "last_name"):
        assert line[key] == "[redacted]"
    output = json.dumps(line)
    for personal in ("erika", "Mustermann", "1234567"):
        assert personal not in output


def test_personal_data_inside_messages_and_nested_values_is_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    event = {
        "customer": {"first_name": "Erika", "address": {"street": "Hauptstr. 1"}, "tier": "gold"},
        "identities": {"emails": ["erika@example.com"], "session_ids": ["s-1"]},
        "notes": ["call back on 0151 12345678", {"to": "erika@example.com"}],
    }

    structlog.get_logger().warning("mail to erika@example.com bounced", **event)

    [line] = json_lines(capsys)
    assert line["event"] == "mail to [redacted] bounced"
    assert line["customer"] == {"first_name": "[redacted]", "address": "[redacted]", "tier": "gold"}
    assert line["identities"] == {"emails": "[redacted]", "session_ids": ["s-1"]}
    assert line["notes"] == ["call back on [redacted]", {"to": "[redacted]"}]
    assert event["customer"]["first_name"] == "Erika"


def test_ids_timestamps_and_numbers_stay_readable() -> None:
    text = (
        "document 1000-2026-5100000123 job 01234567-89ab-cdef-0123-456789abcdef "
        "at 2026-05-01T10:00:00.000+02:00 took 0.0012345 s offset 0 1234567"
    )

    assert mask_personal_text(text) == text


@pytest.mark.parametrize(
    "phone", ["+49 30 1234567", "+4915112345678", "030/1234567", "(030) 123456", "0151-12345678"]
)
def test_usual_phone_spellings_are_masked(phone: str) -> None:
    assert mask_personal_text(f"call {phone} today") == "call [redacted] today"


def test_the_scrubber_handles_odd_values() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)

    scrubbed = scrub_personal_data(
        None, "info", {"event": "x", "tags": ("a@b.de",), "loop": cyclic, "name": None, "n": 5}
    )

    assert scrubbed["tags"] == ["[redacted]"]
    assert scrubbed["name"] is None
    assert scrubbed["n"] == 5
    assert "[redacted]" in json.dumps(scrubbed["loop"])


def test_exception_text_is_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")

    try:
        raise ValueError("no account for erika@example.com")
    except ValueError:
        structlog.get_logger().exception("lookup failed", topic="shop.events")

    [line] = json_lines(capsys)
    assert "ValueError: no account for [redacted]" in line["exception"]


def test_library_warnings_share_the_format_and_library_chatter_is_dropped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    library = logging.getLogger("aiokafka.consumer")

    library.info("fetching")
    library.warning("heartbeat failed for %s", "erika@example.com")

    [line] = json_lines(capsys)
    assert line["event"] == "heartbeat failed for [redacted]"
    assert line["logger"] == "aiokafka.consumer"
    assert line["level"] == "warning"


def test_debug_shows_library_and_own_debug_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", "json")

    logging.getLogger("faust").debug("tick")
    structlog.get_logger().debug("detail", agent="profile")

    assert [line["event"] for line in json_lines(capsys)] == ["tick", "detail"]


def test_lines_below_the_level_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING", "json")

    structlog.get_logger().info("routine")
    structlog.get_logger().error("broken", topic="alerts")

    assert [line["event"] for line in json_lines(capsys)] == ["broken"]


def test_console_format_is_one_readable_scrubbed_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "console")

    structlog.get_logger().info("lead created", customer_id="cus-7", email="erika@example.com")

    [line] = capsys.readouterr().err.splitlines()
    assert "lead created" in line
    assert "customer_id=cus-7" in line
    assert "email=[redacted]" in line


def test_configuring_twice_does_not_duplicate_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    configure_logging("INFO", "json")

    logging.getLogger("aiokafka").error("gone")

    assert len(json_lines(capsys)) == 1


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging("LOUD", "json")


@pytest.fixture
def acknowledged_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record the journey sends is acknowledged at once."""

    async def send(_topic: Topic, *, key: bytes, value: bytes) -> asyncio.Future[Any]:
        delivery = asyncio.get_running_loop().create_future()
        delivery.set_result(None)
        return delivery

    monkeypatch.setattr(Topic, "send", send)


async def hand_over_a_lead(metrics: WorkerMetrics) -> None:
    """Make a person a sales lead, as the journey does when a merge reaches the threshold."""
    rules = load_rules(None)
    app = faust.App("record-logs-test", broker="kafka://localhost:1", store="memory://")
    worker = SimpleNamespace(app=app, codec=make_codec(None), metrics=metrics)
    journey = Journey(cast(WorkerContext, worker), rules)
    threshold = rules.lead_scoring.thresholds.sales_lead
    await journey.after_merge(
        Profile("c-erika", lead_score=threshold), datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    )


# What happens to single records is logged at DEBUG: an INFO log stays readable under load.
@pytest.mark.usefixtures("acknowledged_sends")
async def test_a_handed_over_lead_is_counted_and_not_logged_at_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    metrics = WorkerMetrics()

    await hand_over_a_lead(metrics)

    assert metrics.registry.get_sample_value("journeyhub_journey_leads_total") == 1
    assert capsys.readouterr().err == ""


@pytest.mark.usefixtures("acknowledged_sends")
async def test_a_handed_over_lead_is_logged_with_its_customer_id_at_debug(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("DEBUG", "json")

    await hand_over_a_lead(WorkerMetrics())

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    handed_over = [line for line in lines if line["event"] == "lead_handed_over"]
    assert [(line["level"], line["customer_id"]) for line in handed_over] == [("debug", "c-erika")]
