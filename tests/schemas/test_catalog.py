import dataclasses

import pytest

from schemas.catalog import CATALOG, dlq_topic, get_topic, origin_of_dlq, record_key
from schemas.errors import EncodeError, UnknownTopicError


def test_catalog_holds_the_seventeen_topics_of_the_contract() -> None:
    assert list(CATALOG) == [
        "shop.events",
        "cms.events",
        "erp.invoices",
        "marketing.budget.plans",
        "rfid.production",
        "social.posts",
        "consent.events",
        "privacy.requests",
        "campaign.requests",
        "customer360.profiles",
        "crm.leads",
        "marketing.budget.actuals",
        "outbound.mail",
        "outbound.print",
        "device.steps",
        "alerts",
        "privacy.responses",
    ]


def test_catalog_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        CATALOG["extra"] = CATALOG["alerts"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOG["alerts"].partitions = 1  # type: ignore[misc]


def test_compacted_topics_are_the_plans_profiles_and_actuals() -> None:
    compacted = {name for name, spec in CATALOG.items() if spec.compacted}
    assert compacted == {
        "marketing.budget.plans",
        "customer360.profiles",
        "marketing.budget.actuals",
    }


def test_kinds_follow_who_produces_the_topic() -> None:
    assert get_topic("shop.events").kind == "source"
    assert get_topic("crm.leads").kind == "derived"
    assert get_topic("device.steps").kind == "feedback"
    assert {spec.partitions for spec in CATALOG.values()} == {4}


def test_key_fields_follow_the_contract_preference_order() -> None:
    assert get_topic("cms.events").key_fields == ("session_id", "email")
    assert get_topic("consent.events").key_fields == ("customer_id", "email", "session_id")
    assert get_topic("erp.invoices").key_fields == ("document_id",)


def test_schema_path_points_at_the_packaged_file() -> None:
    spec = get_topic("erp.invoices")
    assert spec.schema_path.name == "erp.invoices.avsc"
    assert spec.schema_path.is_file()


def test_unknown_topic_error_lists_the_known_topics() -> None:
    with pytest.raises(UnknownTopicError, match=r"'shop\.event'.*shop\.events, cms\.events"):
        get_topic("shop.event")


def test_dead_letter_topic_names_round_trip() -> None:
    assert dlq_topic("shop.events") == "dlq.shop.events"
    assert get_topic("alerts").dlq == "dlq.alerts"
    assert origin_of_dlq("dlq.shop.events") == "shop.events"


@pytest.mark.parametrize("name", ["shop.events", "dlq.unknown.topic", "dlq."])
def test_origin_of_a_name_that_is_no_dead_letter_topic_is_none(name: str) -> None:
    assert origin_of_dlq(name) is None


def test_dlq_topic_of_an_unknown_topic_is_refused() -> None:
    with pytest.raises(UnknownTopicError):
        dlq_topic("nope")


def test_record_key_takes_the_first_key_field_that_is_set() -> None:
    cms = get_topic("cms.events")
    assert record_key(cms, {"session_id": "s-1", "email": "a@example.org"}) == "s-1"
    assert record_key(cms, {"session_id": None, "email": "a@example.org"}) == "a@example.org"
    assert record_key(cms, {"session_id": "", "email": "a@example.org"}) == "a@example.org"


def test_record_without_any_key_field_cannot_be_keyed() -> None:
    consent = get_topic("consent.events")
    with pytest.raises(EncodeError, match="customer_id, email, session_id"):
        record_key(consent, {"customer_id": None, "email": None, "session_id": None})
