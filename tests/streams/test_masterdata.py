import itertools
from datetime import UTC, datetime, timedelta

import pytest

from streams.masterdata import FieldValue, apply_master_data, choose, master_data

PRIORITY = ["shop.events", "cms.events", "social.posts"]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(hours=1)


def value(text: str, source: str, at: datetime = T0) -> FieldValue:
    return FieldValue(text, source, at)


def test_a_newer_value_from_the_same_source_replaces_the_older() -> None:
    kept = choose(value("Berlin", "shop.events"), value("Hamburg", "shop.events", LATER), PRIORITY)
    assert kept.value == "Hamburg"


def test_an_older_value_from_the_same_source_arriving_late_is_ignored() -> None:
    kept = choose(value("Hamburg", "shop.events", LATER), value("Berlin", "shop.events"), PRIORITY)
    assert kept.value == "Hamburg"


def test_a_higher_priority_source_replaces_a_lower_one() -> None:
    kept = choose(value("Erica", "cms.events"), value("Erika", "shop.events", LATER), PRIORITY)
    assert (kept.value, kept.source_topic) == ("Erika", "shop.events")


def test_a_lower_priority_source_does_not_overwrite_even_when_newer() -> None:
    kept = choose(value("Erika", "shop.events"), value("Erica", "cms.events", LATER), PRIORITY)
    assert kept.value == "Erika"


def test_a_lower_priority_source_fills_an_empty_field() -> None:
    assert choose(None, value("Erica", "social.posts"), PRIORITY).value == "Erica"
    assert choose(value("", "shop.events"), value("Erica", "cms.events"), PRIORITY).value == "Erica"


def test_an_empty_value_never_erases_a_known_one() -> None:
    kept = choose(value("Erika", "cms.events"), value("", "shop.events", LATER), PRIORITY)
    assert kept.value == "Erika"


def test_the_choice_does_not_depend_on_arrival_order() -> None:
    candidates = [
        value("A", "cms.events", LATER),
        value("B", "shop.events"),
        value("C", "shop.events"),
        value("D", "social.posts", LATER + timedelta(hours=1)),
    ]
    results = set()
    for order in itertools.permutations(candidates):
        kept: FieldValue | None = None
        for candidate in order:
            kept = choose(kept, candidate, PRIORITY)
        results.add(kept)
    assert results == {value("C", "shop.events")}


def test_shop_customer_record_becomes_normalised_master_data() -> None:
    customer = {
        "first_name": " Erika ",
        "last_name": "Muster  frau",
        "gender": "female",
        "title": "dr.",
        "email": " Erika@Example.DE",
        "phone": "0171 1234567",
        "street": "Hauptstraße  1",
        "postal_code": "1067",
        "city": "Dresden",
        "country": "de",
        "social_handles": ["@erika_m"],
    }
    assert master_data(customer) == {
        "first_name": "Erika",
        "last_name": "Muster frau",
        "gender": "female",
        "title": "Dr.",
        "email": "erika@example.de",
        "phone": "+491711234567",
        "street": "Hauptstraße 1",
        "postal_code": "01067",
        "city": "Dresden",
        "country": "DE",
    }


def test_phone_is_read_in_the_country_of_the_address() -> None:
    assert master_data({"phone": "0664 1234567", "country": "AT"})["phone"] == "+436641234567"


def test_postal_code_sent_as_a_number_keeps_its_leading_zero() -> None:
    assert master_data({"postal_code": 1067, "country": "DE"})["postal_code"] == "01067"


@pytest.mark.parametrize(
    "values",
    [
        {"gender": "unknown"},
        {"email": "not-an-address"},
        {"phone": "12"},
        {"postal_code": "123456", "country": "DE"},
        {"first_name": "   "},
        {"first_name": None},
    ],
)
def test_unknown_or_invalid_values_are_left_out(values: dict[str, object]) -> None:
    assert set(master_data(values)) <= {"country"}


def test_applying_master_data_reports_a_change_only_when_something_changed() -> None:
    fields: dict[str, FieldValue] = {}
    values = {"first_name": "Erika", "city": "Dresden"}
    assert apply_master_data(fields, values, "cms.events", T0, PRIORITY) is True
    assert apply_master_data(fields, values, "cms.events", T0, PRIORITY) is False
    assert apply_master_data(fields, {"city": "Leipzig"}, "social.posts", LATER, PRIORITY) is False
    assert apply_master_data(fields, {"city": "Dresden"}, "shop.events", LATER, PRIORITY) is True
    assert fields["city"] == FieldValue("Dresden", "shop.events", LATER)


def test_field_value_survives_a_round_trip() -> None:
    original = value("Erika", "shop.events")
    assert FieldValue.from_dict(original.to_dict()) == original
