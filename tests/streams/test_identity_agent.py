from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.codec import make_codec
from streams.errors import InvalidRecordError
from streams.forwarded import ForwardedEvent
from streams.identifiers import identifiers_from
from streams.identity_agent import PEOPLE_TOPICS, Sighting, event_time
from streams.workload import build_workload

CODEC = make_codec(None)


def people_events() -> list[tuple[str, dict[str, Any]]]:
    """An event of each topic of people: the generated workload's, and a consent."""
    events, _ = build_workload(customers=40, seed=3)
    first: dict[str, dict[str, Any]] = {
        "consent.events": {
            "event_id": "consent-1",
            "email": "Erika.Musterfrau@Example.de",
            "purpose": "marketing_email",
            "granted": True,
            "occurred_at": datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
            "source": "preference_center",
        }
    }
    for event in events:
        if event.topic in PEOPLE_TOPICS and event.value is not None:
            first.setdefault(event.topic, event.value)
    return sorted(first.items())


PEOPLE = people_events()


def envelope(topic: str, value: dict[str, Any], headers: dict[str, str]) -> ForwardedEvent:
    return ForwardedEvent(topic, 0, 7, None, CODEC.encode(topic, value), headers)


@pytest.mark.parametrize(("topic", "value"), PEOPLE, ids=[topic for topic, _ in PEOPLE])
def test_the_resolver_reads_what_the_intake_found_in_an_event(
    topic: str, value: dict[str, Any]
) -> None:
    found = Sighting.of(topic, value)
    carried = Sighting.read(envelope(topic, value, found.header()), CODEC)

    assert carried == found
    assert carried.identifiers == identifiers_from(topic, value)
    assert carried.occurred_at == event_time(topic, value)
    assert carried.event_id == value["event_id"]
    assert carried.chip_id == (value["chip_id"] if topic == "rfid.production" else None)


def test_the_header_is_what_the_resolver_reads_not_the_value() -> None:
    topic, value = PEOPLE[0]
    header = Sighting.of(topic, value).header()
    other_value = {**value, "event_id": "another-event"}

    carried = Sighting.read(envelope(topic, other_value, header), CODEC)

    assert carried.event_id == value["event_id"]


def test_an_event_forwarded_without_a_sighting_is_read_from_its_value() -> None:
    # As a worker of an earlier version forwarded it, before an upgrade.
    for topic, value in PEOPLE:
        carried = Sighting.read(envelope(topic, value, {}), CODEC)

        assert carried == Sighting.of(topic, value)


def test_an_event_that_names_nobody_is_refused() -> None:
    topic, value = next((t, v) for t, v in PEOPLE if t == "shop.events")
    nobody = {**value, "session_id": "  ", "customer_id": None, "customer": None, "order": None}

    with pytest.raises(InvalidRecordError, match="names no person"):
        Sighting.of(topic, nobody)
