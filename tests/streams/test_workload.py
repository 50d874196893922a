from decimal import Decimal

import pytest

from schemas.codec import SingleObjectCodec
from schemas.errors import DecodeError
from streams.workload import build_workload, print_campaign_request


def test_every_valid_generated_event_fits_its_topic_schema() -> None:
    codec = SingleObjectCodec()
    events, truth = build_workload(customers=60, seed=3)
    valid = [e for e in events if e.value is not None]
    for event in valid:
        assert codec.decode(event.topic, codec.encode(event.topic, event.value)) is not None
    assert sum(truth.events_by_topic.values()) == len(valid)


def test_malformed_events_cannot_be_decoded() -> None:
    codec = SingleObjectCodec()
    events, truth = build_workload(customers=5, seed=1)
    malformed = [e for e in events if e.raw is not None]
    assert len(malformed) == sum(truth.malformed_by_topic.values()) > 0
    for event in malformed:
        with pytest.raises(DecodeError):
            codec.decode(event.topic, event.raw or b"")


def test_the_same_seed_gives_the_same_workload() -> None:
    first, _ = build_workload(customers=30, seed=11)
    second, _ = build_workload(customers=30, seed=11)
    other, _ = build_workload(customers=30, seed=12)
    assert first == second
    assert first != other


def test_the_workload_covers_every_journey_the_demo_promises() -> None:
    events, truth = build_workload(customers=200, seed=7)
    topics = {e.topic for e in events}
    assert {
        "shop.events",
        "cms.events",
        "erp.invoices",
        "marketing.budget.plans",
        "rfid.production",
        "social.posts",
    } <= topics
    assert truth.customer_emails and truth.prospect_emails and truth.anonymous_sessions
    assert truth.failed_chips
    assert truth.sales_leads()
    postal_codes = {
        e.value["customer"]["postal_code"]
        for e in events
        if e.value and e.topic == "shop.events" and e.value["customer"]
    }
    assert any(code.startswith("0") for code in postal_codes)
    genders = {
        e.value["customer"]["gender"]
        for e in events
        if e.value and e.topic == "shop.events" and e.value["customer"]
    }
    assert {"female", "male"} <= genders


def test_budget_truth_counts_the_credit_memo_and_the_reversal() -> None:
    _, truth = build_workload(customers=1, seed=7)
    assert truth.budget_actuals["cmp-sea-q3"] == Decimal("7580.50")
    assert truth.budget_actuals["cmp-print-herbst"] == Decimal("3900.00")


def test_events_come_in_event_time_order_per_key() -> None:
    events, _ = build_workload(customers=40, seed=5)
    last_seen: dict[str, object] = {}
    for event in events:
        if event.value is None or event.topic != "shop.events":
            continue
        moment = event.value["occurred_at"]
        previous = last_seen.get(event.key)
        assert previous is None or previous <= moment
        last_seen[event.key] = moment


def test_the_print_campaign_asks_for_a_letter_to_each_customer_of_its_region() -> None:
    codec = SingleObjectCodec()
    events, truth = build_workload(customers=80, seed=7)
    request = print_campaign_request()
    assert request.value is not None
    assert codec.decode(request.topic, codec.encode(request.topic, request.value))
    assert request.value["channel"] == "print"
    regions = request.value["segment"]["postal_code_prefixes"]
    ordering_customers = {
        e.value["customer"]["email"]: e.value["customer"]["postal_code"]
        for e in events
        if e.value and e.topic == "shop.events" and e.value["event_type"] == "order_placed"
    }
    in_region = [code for code in ordering_customers.values() if code.startswith(tuple(regions))]
    assert 0 < truth.print_campaign_letters() == len(in_region) < len(ordering_customers)
