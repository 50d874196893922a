import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.codec import SingleObjectCodec
from streams.contact import (
    Channel,
    ContactError,
    Decision,
    Job,
    SuppressionReason,
    decide,
    derive_job_id,
    outbound_record,
    record_contact,
)
from streams.profile import MAX_CONTACTS, Profile
from streams.rules import Rules
from tests.streams.test_profile import RULES, at, build, cms, consent, customer, order

NOW = at(600)
SENT = Decision(send=True)


def job(template: str = "product_interest", channel: Channel = Channel.MAIL, n: int = 1) -> Job:
    return Job(
        derive_job_id(template, str(n)),
        "c-1",
        channel,
        template,
        "Unsere Empfehlung",
        {"category": "road_bike"},
        trigger_event_id="e1",
    )


def buyer(*events: tuple[str, dict[str, Any]]) -> Profile:
    """A customer with a complete address who never stated consent."""
    return build(("shop.events", order("e1", "O-1", "100.00")), *events)


def send(profile: Profile, planned: Job, now: datetime = NOW, rules: Rules = RULES) -> Decision:
    decision = decide(profile, planned, rules, now)
    if decision.send:
        record_contact(profile, planned, rules, now)
    return decision


def test_a_customer_may_be_mailed_without_stated_consent_a_prospect_may_not() -> None:
    prospect = build(("cms.events", cms("c1", "download")))

    assert decide(buyer(), job(), RULES, NOW) == SENT
    assert decide(prospect, job(), RULES, NOW) == Decision(False, SuppressionReason.NO_CONSENT)


def test_a_prospect_who_consented_may_be_mailed() -> None:
    prospect = build(
        ("cms.events", cms("c1", "download")),
        ("consent.events", consent("k1", "marketing_email", True, 5) | {"customer_id": None}),
    )

    assert decide(prospect, job(), RULES, NOW) == SENT


def test_revoked_consent_suppresses_marketing_mail_but_not_service_messages() -> None:
    revoked = buyer(("consent.events", consent("k1", "marketing_email", False, 5)))

    assert decide(revoked, job(), RULES, NOW) == Decision(False, SuppressionReason.NO_CONSENT)
    assert decide(revoked, job("order_confirmation"), RULES, NOW) == SENT


def test_at_most_one_marketing_mail_per_day() -> None:
    profile = buyer()

    assert send(profile, job(n=1)) == SENT
    assert send(profile, job(n=2), NOW + timedelta(hours=23)) == Decision(
        False, SuppressionReason.CAPPED
    )
    assert send(profile, job(n=3), NOW + timedelta(hours=24, seconds=1)) == SENT


def test_service_messages_are_never_capped_and_do_not_count_against_the_cap() -> None:
    profile = buyer()
    for n in range(3):
        assert send(profile, job("shipping_notification", n=n)) == SENT

    assert send(profile, job(n=9)) == SENT


def test_letters_do_not_count_against_the_mail_cap() -> None:
    profile = buyer()
    send(profile, job(n=1))

    assert send(profile, job(channel=Channel.PRINT, n=2)) == SENT


def test_a_letter_needs_marketing_print_consent() -> None:
    refused = buyer(("consent.events", consent("k1", "marketing_print", False, 5)))

    assert decide(refused, job(channel=Channel.PRINT), RULES, NOW) == Decision(
        False, SuppressionReason.NO_CONSENT
    )
    assert decide(refused, job(), RULES, NOW) == SENT


def test_no_address_suppresses_even_service_messages() -> None:
    no_email = build(
        ("shop.events", order("e1", "O-1", "1.00") | {"customer": customer(email=None)})
    )
    no_street = build(
        ("shop.events", order("e1", "O-1", "1.00") | {"customer": customer(street="")})
    )
    no_address = Decision(False, SuppressionReason.NO_ADDRESS)

    assert decide(no_email, job("order_confirmation"), RULES, NOW) == no_address
    assert decide(no_street, job(channel=Channel.PRINT), RULES, NOW) == no_address
    assert decide(no_street, job(), RULES, NOW) == SENT


def test_a_job_sent_before_is_not_sent_again() -> None:
    profile = buyer()
    send(profile, job("order_confirmation"))

    assert decide(profile, job("order_confirmation"), RULES, NOW) == Decision(
        False, SuppressionReason.ALREADY_RECEIVED
    )


def test_the_mail_record_greets_the_person_and_fits_the_topic() -> None:
    record = outbound_record(buyer(), job(), NOW)

    assert record["to"] == "erika@example.de"
    assert record["salutation"] == "Sehr geehrte Frau Dr. Musterfrau"
    assert (record["subject"], record["trigger_event_id"]) == ("Unsere Empfehlung", "e1")
    assert record["variables"] == {"category": "road_bike"}
    codec = SingleObjectCodec()
    assert codec.decode("outbound.mail", codec.encode("outbound.mail", record)) == record


def test_the_letter_record_carries_din_address_lines_and_fits_the_topic() -> None:
    record = outbound_record(buyer(), job(channel=Channel.PRINT), NOW)

    assert record["address"] == {
        "lines": ["Frau", "Dr. Erika Musterfrau"],
        "street": "Hauptstraße 1",
        "postal_code": "01067",
        "city": "Dresden",
        "country": "DE",
    }
    codec = SingleObjectCodec()
    assert codec.decode("outbound.print", codec.encode("outbound.print", record)) == record


def test_no_record_for_a_person_without_address() -> None:
    prospect = build(("cms.events", cms("c1", "download", email=None, session_id="s-9")))

    with pytest.raises(ContactError, match="has no e-mail address"):
        outbound_record(prospect, job(), NOW)
    with pytest.raises(ContactError, match="has no complete postal address"):
        outbound_record(prospect, job(channel=Channel.PRINT), NOW)


def test_contact_history_is_bounded_and_survives_storage() -> None:
    profile = buyer()
    for n in range(MAX_CONTACTS + 3):
        record_contact(profile, job("order_confirmation", n=n), RULES, NOW + timedelta(hours=n))

    restored = Profile.from_dict(json.loads(json.dumps(profile.to_dict())))

    assert len(restored.contacts) == MAX_CONTACTS
    assert restored.contacts == profile.contacts
    assert restored.contacts[0].job_id == job("order_confirmation", n=3).job_id


def test_job_ids_depend_only_on_the_cause() -> None:
    assert derive_job_id("cross_sell", "O-1", "P") == derive_job_id("cross_sell", "O-1", "P")
    assert derive_job_id("cross_sell", "O-1", "P") != derive_job_id("cross_sell", "O-2", "P")
