"""The CRM connector end to end: real broker, real sandbox CRM, real sink runtime."""

from __future__ import annotations

import asyncio

import pytest

from connectors.crm import LEADS_TOPIC, PROFILES_TOPIC
from connectors.dead_letters import ALERTS_TOPIC
from schemas.catalog import dlq_topic
from schemas.codec import make_codec
from schemas.deadletter import parse_dead_letter_headers
from streams.broker import free_port
from tests.connectors.conftest import Harness, SandboxCrm, http_get_json, wait_until
from tests.connectors.records import lead, profile

PROFILES_DLQ = dlq_topic(PROFILES_TOPIC)


async def produce_people(
    harness: Harness, customers: int, prospects: int
) -> tuple[list[str], list[str]]:
    """Three profile versions per customer, prospects, and leads (one of them sent twice).

    Returns:
        The customer ids and the ids of the people with a lead.
    """
    customer_ids = [harness.id(f"c{i}") for i in range(customers)]
    prospect_ids = [harness.id(f"p{i}") for i in range(prospects)]
    versions = [(c, profile(c, lead_score=score)) for score in (10, 20, 30) for c in customer_ids]
    await harness.produce(PROFILES_TOPIC, versions)
    await harness.produce(PROFILES_TOPIC, [(p, profile(p, customer=False)) for p in prospect_ids])
    qualified = [*customer_ids[:2], *prospect_ids[:2]]
    leads = [(person, lead(person)) for person in [*qualified, qualified[0]]]
    await harness.produce(LEADS_TOPIC, leads)
    return customer_ids, qualified


async def all_arrived(crm: SandboxCrm, harness: Harness, contacts: int, leads: int) -> None:
    async def arrived() -> bool:
        return (
            len(await crm.contacts(harness.prefix)) == contacts
            and len(await crm.leads(harness.prefix)) == leads
        )

    await wait_until(arrived, 60, f"{contacts} contacts and {leads} leads in the CRM")


async def test_a_flaky_slow_rate_limited_crm_ends_with_one_contact_per_customer(
    harness: Harness,
) -> None:
    crm = await harness.sandbox(fail_rate=0.3, latency_ms=20, rate_limit=5, seed=3)
    customers, qualified = await produce_people(harness, customers=12, prospects=4)
    metrics_port = free_port()

    connector = await harness.connector(crm, metrics_port=metrics_port)
    await all_arrived(crm, harness, contacts=12, leads=len(qualified))

    contacts = await crm.contacts(harness.prefix)
    assert sorted(contacts) == sorted(customers)
    assert {contact["lead_score"] for contact in contacts.values()} == {30}
    leads = await crm.leads(harness.prefix)
    assert sorted(lead["customer_id"] for lead in leads) == sorted(qualified)
    registry = connector.runner.metrics.registry

    async def caught_up() -> bool:
        lags = [
            registry.get_sample_value("journeyhub_connector_lag", {"connector": "crm", "topic": t})
            for t in (PROFILES_TOPIC, LEADS_TOPIC)
        ]
        return lags == [0.0, 0.0]

    await wait_until(caught_up, 10, "a lag of zero")
    exposition = await http_get_json(f"http://127.0.0.1:{metrics_port}/metrics")
    await connector.stop()
    profile_labels = {"connector": "crm", "topic": PROFILES_TOPIC}
    assert registry.get_sample_value("journeyhub_connector_retries_total", profile_labels)
    assert registry.get_sample_value("journeyhub_connector_delivered_total", profile_labels) == 40
    assert registry.get_sample_value("journeyhub_connector_delivery_seconds_count", profile_labels)
    assert 'journeyhub_connector_delivered_total{connector="crm",topic="crm.leads"}' in exposition
    assert harness.mine(await harness.read(PROFILES_DLQ)) == []


@pytest.mark.slow
@pytest.mark.parametrize("outage_seconds", [1.5, 4.0])
async def test_nothing_is_lost_while_the_crm_is_down(
    harness: Harness, outage_seconds: float
) -> None:
    crm = await harness.sandbox()
    connector = await harness.connector(crm)
    await harness.produce(PROFILES_TOPIC, [(harness.id("warm-up"), profile(harness.id("warm-up")))])
    await all_arrived(crm, harness, contacts=1, leads=0)

    await crm.stop()
    customers, qualified = await produce_people(harness, customers=6, prospects=2)
    await asyncio.sleep(outage_seconds)
    await crm.start()

    await all_arrived(crm, harness, contacts=7, leads=len(qualified))
    contacts = await crm.contacts(harness.prefix)
    assert sorted(contacts) == sorted([harness.id("warm-up"), *customers])
    assert {contacts[c]["lead_score"] for c in customers} == {30}
    await connector.stop()
    assert connector.runner.metrics.registry.get_sample_value(
        "journeyhub_connector_retries_total", {"connector": "crm", "topic": PROFILES_TOPIC}
    )
    assert harness.mine(await harness.read(PROFILES_DLQ)) == []


async def test_records_the_crm_cannot_take_go_to_dead_letters_with_an_alert(
    harness: Harness,
) -> None:
    codec = make_codec(None)
    crm = await harness.sandbox()
    good = [harness.id(f"c{i}") for i in range(4)]
    rejected, garbage = harness.id("bad-email"), harness.id("garbage")
    await harness.produce(PROFILES_TOPIC, [(c, profile(c)) for c in good[:2]])
    await harness.produce(PROFILES_TOPIC, [(rejected, profile(rejected, email="not-an-email"))])
    await harness.produce_raw(PROFILES_TOPIC, [(garbage, b"\x00not avro")])
    await harness.produce(PROFILES_TOPIC, [(c, profile(c)) for c in good[2:]])

    connector = await harness.connector(crm)
    await all_arrived(crm, harness, contacts=4, leads=0)

    async def dead_lettered() -> bool:
        return len(harness.mine(await harness.read(PROFILES_DLQ))) == 2

    await wait_until(dead_lettered, 30, "two dead letters")
    await connector.stop()
    letters = {m.key().decode(): m for m in harness.mine(await harness.read(PROFILES_DLQ))}
    assert sorted(letters) == sorted([rejected, garbage])
    assert letters[garbage].value() == b"\x00not avro"
    assert codec.decode(PROFILES_TOPIC, letters[rejected].value())["customer_id"] == rejected
    reasons = {key: parse_dead_letter_headers(m.headers()) for key, m in letters.items()}
    assert reasons[rejected].error_class == "connectors.errors.PermanentDeliveryError"
    assert "400" in reasons[rejected].error_message
    assert reasons[garbage].error_class.startswith("schemas.errors.")
    assert {info.origin_topic for info in reasons.values()} == {PROFILES_TOPIC}
    expected_alerts = {
        f"delivery_failed:{PROFILES_TOPIC}:{info.origin_partition}:{info.origin_offset}"
        for info in reasons.values()
    }
    alerts = [codec.decode(ALERTS_TOPIC, m.value()) for m in await harness.read(ALERTS_TOPIC)]
    mine = [alert for alert in alerts if alert["alert_id"] in expected_alerts]
    assert {alert["alert_id"] for alert in mine} == expected_alerts
    assert {(a["kind"], a["severity"], a["source"]) for a in mine} == {
        ("delivery_failed", "critical", "crm")
    }
    assert (await crm.get("/stats"))["rejected_requests"] == 1


async def test_a_stop_in_the_middle_of_a_batch_loses_and_repeats_nothing(
    harness: Harness,
) -> None:
    crm = await harness.sandbox(latency_ms=150)
    customers = [harness.id(f"c{i}") for i in range(16)]
    await harness.produce(PROFILES_TOPIC, [(c, profile(c)) for c in customers])
    await harness.produce(LEADS_TOPIC, [(c, lead(c)) for c in customers[:4]])

    first = await harness.connector(crm, concurrency=2, max_records=4)

    async def some_delivered() -> bool:
        return (await crm.get("/stats"))["contacts"] >= 2

    await wait_until(some_delivered, 30, "the first contacts")
    await first.stop()
    after_stop = await crm.get("/stats")
    second = await harness.connector(crm, concurrency=2, max_records=4)

    async def all_delivered() -> bool:
        stats = await crm.get("/stats")
        return (stats["contacts"], stats["leads"]) == (16, 4)

    await wait_until(all_delivered, 60, "every contact and lead")
    await second.stop()
    assert 2 <= after_stop["contacts"] < 16
    assert await crm.get("/stats") == {
        "contacts": 16,
        "leads": 4,
        "requests": 20,
        "duplicate_requests": 0,
        "rejected_requests": 0,
    }
    assert sorted(await crm.contacts(harness.prefix)) == sorted(customers)
