import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import SingleObjectCodec
from streams.profile import MAX_SEEN_EVENTS, Profile, ProfileError, effective_consent
from streams.profile_events import apply_event, has_absorbed, merge_profiles
from streams.rules import Rules, load_rules
from tests.schemas.strategies import records

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
RULES = load_rules(None)
CONTRACT_KEYS = {
    "customer_id", "salutation", "letter_salutation", "first_name", "last_name", "gender",
    "title", "email", "phone", "street", "postal_code", "city", "country", "field_sources",
    "identities", "interests", "orders", "lead_score", "lead_status", "consent", "social",
    "production", "first_seen_at", "last_seen_at", "updated_at",
}  # fmt: skip


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def customer(**changes: Any) -> dict[str, Any]:
    return {
        "first_name": "Erika",
        "last_name": "Musterfrau",
        "gender": "female",
        "title": "dr.",
        "email": "Erika@Example.de",
        "phone": "0171 1234567",
        "street": "Hauptstraße 1",
        "postal_code": "01067",
        "city": "Dresden",
        "country": "DE",
        "social_handles": ["@erika_m"],
        **changes,
    }


def shop(event_id: str, event_type: str, minutes: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": at(minutes),
        "session_id": "s-1",
        "customer_id": None,
        "url": None,
        "product": None,
        "order": None,
        "customer": None,
        **fields,
    }


def product_view(event_id: str, category: str = "road_bike", minutes: int = 0) -> dict[str, Any]:
    product = {
        "sku": "RB-1",
        "name": "Renner",
        "category": category,
        "price": Decimal("999.00"),
        "currency": "EUR",
    }
    return shop(event_id, "product_view", minutes, product=product)


def order(event_id: str, order_id: str, total: str, minutes: int = 0) -> dict[str, Any]:
    items = [
        {
            "sku": "RB-1",
            "name": "Renner",
            "category": "road_bike",
            "quantity": 1,
            "unit_price": Decimal(total),
        }
    ]
    placed = {"order_id": order_id, "items": items, "total": Decimal(total), "currency": "EUR"}
    return shop(
        event_id, "order_placed", minutes, customer_id="42", order=placed, customer=customer()
    )


def cms(event_id: str, event_type: str, minutes: int = 0, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": at(minutes),
        "session_id": None,
        "customer_id": None,
        "email": "erika@example.de",
        "content_id": "whitepaper-1",
        "title": None,
        "keywords": ["Road Bike", "Training"],
        "campaign_id": None,
        "form": {},
        **fields,
    }


def consent(event_id: str, purpose: str, granted: bool, minutes: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": "42",
        "email": None,
        "session_id": None,
        "purpose": purpose,
        "granted": granted,
        "occurred_at": at(minutes),
        "source": "preference_center",
    }


def rfid(event_id: str, step: str, status: str, minutes: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "chip_id": "CH-1",
        "order_id": "O-1",
        "sku": "RB-1",
        "station_id": "st-1",
        "step": step,
        "status": status,
        "occurred_at": at(minutes),
        "detail": None,
    }


def post(event_id: str, text: str, minutes: int = 0) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "platform": "instagram",
        "post_id": event_id,
        "author_handle": "@erika_m",
        "text": text,
        "hashtags": ["Laufschuhe"],
        "language": "de",
        "posted_at": at(minutes),
        "url": None,
    }


def build(*events: tuple[str, dict[str, Any]], customer_id: str = "c-1") -> Profile:
    profile = Profile(customer_id)
    for topic, record in events:
        apply_event(profile, topic, record, RULES, NOW)
    return profile


def test_a_redelivered_event_changes_nothing() -> None:
    profile = build(("shop.events", order("e1", "O-1", "100.00")))
    before = profile.to_dict()
    assert apply_event(profile, "shop.events", order("e1", "O-1", "100.00"), RULES, NOW) is False
    assert profile.to_dict() == before


def test_the_same_event_id_on_another_topic_is_a_different_event() -> None:
    profile = build(("shop.events", product_view("e1")))
    assert apply_event(profile, "cms.events", cms("e1", "download"), RULES, NOW) is True


def test_shop_customer_becomes_the_profile_view_of_the_contract() -> None:
    profile = build(("shop.events", order("e1", "O-1", "1299.90", minutes=5)))
    api = profile.to_api()
    assert set(api) == CONTRACT_KEYS
    assert api["salutation"] == "Frau"
    assert api["letter_salutation"] == "Sehr geehrte Frau Dr. Musterfrau"
    assert (api["email"], api["phone"], api["postal_code"]) == (
        "erika@example.de",
        "+491711234567",
        "01067",
    )
    assert api["field_sources"]["first_name"] == "shop.events"
    assert api["identities"] == {
        "emails": ["erika@example.de"],
        "phones": ["+491711234567"],
        "session_ids": ["s-1"],
        "shop_customer_ids": ["42"],
        "social_handles": ["erika_m"],
        "chip_ids": [],
    }
    assert api["orders"] == {
        "count": 1,
        "total": "1299.90",
        "currency": "EUR",
        "last_order_at": "2026-03-01T09:05:00.000Z",
    }
    assert api["interests"] == {"road_bike": 3.0}
    assert api["first_seen_at"] == "2026-03-01T09:05:00.000Z"
    assert api["updated_at"] == "2026-03-02T00:00:00.000Z"
    json.dumps(api)


def test_interests_grow_with_views_downloads_and_hashtags() -> None:
    profile = build(
        ("shop.events", product_view("e1")),
        ("shop.events", product_view("e2")),
        ("cms.events", cms("c1", "download")),
        ("social.posts", post("p1", "Neue Laufschuhe, super!")),
    )
    assert profile.interests == {
        "road_bike": 2 + 3,
        "training": 3,
        "laufschuhe": 1,
    }


def test_weakest_interests_are_dropped_beyond_the_limit() -> None:
    rules = RULES.model_copy(
        update={"interests": RULES.interests.model_copy(update={"max_keywords": 2})}
    )
    profile = Profile("c-1")
    for index, category in enumerate(["a", "b", "b", "c", "c", "c"]):
        apply_event(profile, "shop.events", product_view(f"e{index}", category), rules, NOW)
    assert profile.interests == {"c": 3.0, "b": 2.0}


def test_cms_form_fills_master_data_but_never_overrides_the_shop() -> None:
    form = {"first_name": "Erica", "city": "Leipzig"}
    profile = build(
        ("shop.events", order("e1", "O-1", "10.00", minutes=0)),
        ("cms.events", cms("c1", "form_submit", minutes=10, form=form)),
    )
    assert (profile.value("first_name"), profile.value("city")) == ("Erika", "Dresden")
    prospect = build(("cms.events", cms("c1", "form_submit", form=form)))
    assert prospect.to_api()["first_name"] == "Erica"
    assert prospect.to_api()["field_sources"]["first_name"] == "cms.events"


def test_latest_consent_statement_wins_even_when_it_arrives_first() -> None:
    profile = build(
        ("consent.events", consent("k2", "marketing_email", False, minutes=10)),
        ("consent.events", consent("k1", "marketing_email", True, minutes=0)),
    )
    assert profile.to_api()["consent"] == {"marketing_email": False}


def test_absent_consent_depends_on_being_a_customer() -> None:
    prospect = build(("cms.events", cms("c1", "download")))
    assert effective_consent(prospect, "marketing_email", RULES) is False
    buyer = build(("shop.events", order("e1", "O-1", "10.00")))
    assert effective_consent(buyer, "marketing_email", RULES) is True
    refused = build(
        ("shop.events", order("e1", "O-1", "10.00")),
        ("consent.events", consent("k1", "marketing_print", False, 1)),
    )
    assert effective_consent(refused, "marketing_print", RULES) is False


def test_social_posts_update_mentions_and_sentiment() -> None:
    profile = build(("social.posts", post("p1", "Super Schuhe, sehr zufrieden")))
    social = profile.to_api()["social"]
    assert social["mentions"] == 1
    assert social["last_sentiment"] > 0


def test_production_shows_the_newest_step_of_each_chip() -> None:
    profile = build(
        ("rfid.production", rfid("r2", "stitching", "failed", 20)),
        ("rfid.production", rfid("r1", "cutting", "completed", 10)),
    )
    assert profile.to_api()["production"] == [
        {
            "chip_id": "CH-1",
            "order_id": "O-1",
            "current_step": "stitching",
            "current_status": "failed",
        }
    ]
    assert profile.to_api()["identities"]["chip_ids"] == ["CH-1"]
    assert profile.first_seen_at is None


def test_events_of_other_topics_are_refused() -> None:
    with pytest.raises(ProfileError, match=r"erp\.invoices do not describe a person"):
        apply_event(Profile("c-1"), "erp.invoices", {"event_id": "x"}, RULES, NOW)


def test_merged_profiles_count_every_order_once() -> None:
    survivor = build(
        ("shop.events", order("e1", "O-1", "100.00", 0)),
        ("shop.events", order("e2", "O-2", "50.00", 10)),
    )
    absorbed = build(
        ("shop.events", order("e2", "O-2", "50.00", 10)),
        ("shop.events", order("e3", "O-3", "25.50", 20)),
        customer_id="c-2",
    )
    merged = merge_profiles(survivor, absorbed, RULES)
    assert merged.customer_id == "c-1"
    assert merged.to_api()["orders"]["count"] == 3
    assert merged.to_api()["orders"]["total"] == "175.50"


def test_anonymous_browsing_counts_for_the_customer_after_merge() -> None:
    anonymous = build(
        ("shop.events", product_view("e1", minutes=0)),
        ("shop.events", product_view("e2", minutes=5)),
        customer_id="anon-1",
    )
    buyer = build(("shop.events", order("e3", "O-1", "10.00", minutes=30)))
    merged = merge_profiles(buyer, anonymous, RULES)
    assert merged.interests["road_bike"] == 1 + 1 + 3
    assert merged.first_seen_at == at(0)
    assert merged.last_seen_at == at(30)
    assert apply_event(merged, "shop.events", product_view("e1"), RULES, NOW) is False


def test_merge_result_does_not_depend_on_which_profile_held_what() -> None:
    first = build(
        ("shop.events", order("e1", "O-1", "10.00", 0)),
        ("consent.events", consent("k1", "analytics", True, 5)),
        ("social.posts", post("p1", "Super Schuhe", 7)),
        ("rfid.production", rfid("r1", "cutting", "completed", 8)),
    )
    second = build(
        ("cms.events", cms("c1", "download", 3, form={"first_name": "Erica", "city": "Leipzig"})),
        ("consent.events", consent("k2", "analytics", False, 9)),
        ("social.posts", post("p2", "Total enttäuscht", 12)),
        ("rfid.production", rfid("r2", "packed", "completed", 40)),
        customer_id="c-2",
    )
    one = merge_profiles(first, second, RULES).to_api()
    other = merge_profiles(second, first, RULES).to_api()
    assert one.pop("customer_id") == "c-1"
    assert other.pop("customer_id") == "c-2"
    assert one == other
    assert one["consent"] == {"analytics": False}
    assert one["production"][0]["current_step"] == "packed"
    assert one["first_name"] == "Erika"


def test_merging_is_idempotent_for_what_the_api_shows() -> None:
    survivor = build(("shop.events", order("e1", "O-1", "10.00")))
    absorbed = build(("cms.events", cms("c1", "download")), customer_id="c-2")
    once = merge_profiles(survivor, absorbed, RULES)
    twice = merge_profiles(once, absorbed, RULES)
    assert has_absorbed(once, "c-2")
    assert twice.to_api() == once.to_api()
    assert twice.orders == once.orders
    assert twice.identities == once.identities
    assert twice.seen_events == once.seen_events


def test_remembered_events_are_bounded() -> None:
    profile = Profile("c-1")
    for index in range(MAX_SEEN_EVENTS + 5):
        apply_event(profile, "shop.events", product_view(f"e{index}"), RULES, NOW)
    assert len(profile.seen_events) == MAX_SEEN_EVENTS
    assert apply_event(profile, "shop.events", product_view(f"e{MAX_SEEN_EVENTS}"), RULES, NOW) is (
        False
    )


def _typical_customer() -> Profile:
    events: list[tuple[str, dict[str, Any]]] = [
        ("shop.events", product_view(f"e{index}", minutes=index)) for index in range(8)
    ]
    events += [
        ("shop.events", order("o1", "O-1", "129.90", 20)),
        ("cms.events", cms("c1", "download", 30)),
        ("cms.events", cms("c2", "email_opened", 40)),
        ("consent.events", consent("k1", "marketing_email", True, 50)),
        ("social.posts", post("p1", "Super Schuhe", 60)),
        ("rfid.production", rfid("r1", "cutting", "started", 70)),
    ]
    return build(*events)


def test_a_typical_profile_stays_small_and_survives_a_json_round_trip() -> None:
    profile = _typical_customer()
    serialized = json.dumps(profile.to_dict())
    assert len(serialized.encode()) <= 2048
    assert Profile.from_dict(json.loads(serialized)) == profile


def test_profile_record_fits_the_topic_schema() -> None:
    codec = SingleObjectCodec()
    record = _typical_customer().to_record()
    decoded = codec.decode("customer360.profiles", codec.encode("customer360.profiles", record))
    assert decoded["orders"]["total"] == Decimal("129.90")
    assert decoded["letter_salutation"] == "Sehr geehrte Frau Dr. Musterfrau"


@given(st.integers(min_value=0, max_value=99_999))
def test_german_postal_code_keeps_its_leading_zero_through_the_profile(number: int) -> None:
    code = f"{number:05d}"
    profile = build(
        ("shop.events", order("e1", "O-1", "1.00") | {"customer": customer(postal_code=code)})
    )
    restored = Profile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert restored.to_api()["postal_code"] == code


_PERSON_TOPICS = ["shop.events", "cms.events", "social.posts", "consent.events", "rfid.production"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_valid_event_gives_a_profile_that_fits_the_schema(data: st.DataObject) -> None:
    profile = Profile("c-1")
    for topic in _PERSON_TOPICS:
        apply_event(profile, topic, data.draw(records(topic), label=topic), _rules(), NOW)
    codec = SingleObjectCodec()
    codec.encode("customer360.profiles", profile.to_record())
    assert Profile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile


def _rules() -> Rules:
    return RULES
