import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import CATALOG
from schemas.errors import JsonConversionError, UnknownTopicError
from schemas.jsonconv import json_to_record, record_to_json
from tests.schemas.strategies import records


def shop_line(**changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "event_id": "evt-1",
        "event_type": "order_placed",
        "occurred_at": "2026-03-01T10:30:00+01:00",
        "session_id": "sess-1",
        "order": {
            "order_id": "order-9",
            "items": [
                {
                    "sku": "RB-1",
                    "name": "Rennrad",
                    "category": "road_bike",
                    "quantity": 1,
                    "unit_price": "1299.00",
                }
            ],
            "total": 1299,
            "currency": "EUR",
        },
        "customer": {
            "first_name": "Erika",
            "last_name": "Musterfrau",
            "gender": "female",
            "email": "erika@example.org",
            "street": "Hauptstraße 1",
            "postal_code": "01067",
            "city": "Dresden",
            "country": "DE",
        },
    }
    line.update(changes)
    return line


def invoice_line(**changes: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "document_id": "1000-2026-5100000123",
        "document_type": "invoice",
        "posting_date": "2026-02-27",
        "company_code": "1000",
        "vendor_id": "V-1",
        "vendor_name": "Druckerei",
        "gl_account": "6600",
        "amount": "12.30",
        "currency": "EUR",
        "local_amount": 12.3,
        "local_currency": "EUR",
    }
    line.update(changes)
    return line


def test_postal_code_with_leading_zero_stays_a_string() -> None:
    record = json_to_record("shop.events", shop_line())
    assert record["customer"]["postal_code"] == "01067"


def test_postal_code_given_as_number_is_refused() -> None:
    line = shop_line()
    line["customer"]["postal_code"] = 1067
    with pytest.raises(JsonConversionError, match=r"^customer\.postal_code: expected a string"):
        json_to_record("shop.events", line)


def test_timestamp_with_offset_is_the_same_instant_in_utc() -> None:
    record = json_to_record("shop.events", shop_line())
    assert record["occurred_at"] == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert record["occurred_at"].tzinfo == UTC


@pytest.mark.parametrize(
    "spelling", ["2026-03-01T09:30:00Z", "2026-03-01T09:30:00", "2026-03-01 09:30:00+00:00"]
)
def test_timestamps_without_offset_are_utc(spelling: str) -> None:
    record = json_to_record("shop.events", shop_line(occurred_at=spelling))
    assert record["occurred_at"] == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_timestamp_as_epoch_milliseconds() -> None:
    record = json_to_record("shop.events", shop_line(occurred_at=1_772_357_400_123))
    assert record["occurred_at"] == datetime(2026, 3, 1, 9, 30, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "01.03.2026 09:30", 1.5e12, True, None])
def test_unreadable_timestamps_are_refused(bad: Any) -> None:
    with pytest.raises(JsonConversionError, match=r"^occurred_at: expected an ISO-8601 timestamp"):
        json_to_record("shop.events", shop_line(occurred_at=bad))


def test_money_as_string_or_number_becomes_a_decimal_at_scale() -> None:
    record = json_to_record("erp.invoices", invoice_line())
    assert str(record["amount"]) == "12.30"
    assert str(record["local_amount"]) == "12.30"
    assert json_to_record("shop.events", shop_line())["order"]["total"] == Decimal("1299.00")


def test_too_many_decimal_places_are_refused_with_the_path() -> None:
    line = shop_line()
    line["order"]["items"][0]["unit_price"] = "1.234"
    with pytest.raises(JsonConversionError) as info:
        json_to_record("shop.events", line)
    assert str(info.value) == (
        'order.items[0].unit_price: expected a decimal with at most 2 places, got "1.234"'
    )
    assert info.value.path == "order.items[0].unit_price"


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-inf", "12,30", "", True, [1]])
def test_amounts_that_are_no_finite_decimal_are_refused(bad: Any) -> None:
    with pytest.raises(JsonConversionError, match=r"^amount: expected a"):
        json_to_record("erp.invoices", invoice_line(amount=bad))


def test_amount_beyond_the_precision_is_refused() -> None:
    with pytest.raises(JsonConversionError, match="at most 13 digits before the point"):
        json_to_record("erp.invoices", invoice_line(amount="12345678901234.00"))


def test_dates_are_iso_days() -> None:
    record = json_to_record("erp.invoices", invoice_line())
    assert record["posting_date"] == date(2026, 2, 27)


@pytest.mark.parametrize("bad", ["27.02.2026", "2026-02-30", "20260227", 20260227])
def test_other_date_spellings_are_refused(bad: Any) -> None:
    with pytest.raises(JsonConversionError, match=r"^posting_date: expected a date as YYYY-MM-DD"):
        json_to_record("erp.invoices", invoice_line(posting_date=bad))


def test_absent_optional_fields_are_null_and_absent_collections_empty() -> None:
    record = json_to_record("shop.events", shop_line())
    assert record["customer_id"] is None
    assert record["product"] is None
    assert record["customer"]["title"] is None
    assert record["customer"]["social_handles"] == []
    cms = json_to_record(
        "cms.events",
        {"event_id": "e", "event_type": "download", "occurred_at": "2026-03-01T09:30:00Z"},
    )
    assert (cms["keywords"], cms["form"]) == ([], {})


def test_absent_required_field_is_reported() -> None:
    line = invoice_line()
    del line["vendor_id"]
    with pytest.raises(JsonConversionError, match=r"^vendor_id: required field is missing"):
        json_to_record("erp.invoices", line)


def test_unknown_field_is_reported_with_its_path() -> None:
    line = shop_line()
    line["customer"]["nickname"] = "Eri"
    with pytest.raises(JsonConversionError, match=r"^customer\.nickname: unknown field"):
        json_to_record("shop.events", line)


def test_enum_symbols_are_checked() -> None:
    with pytest.raises(
        JsonConversionError, match=r'^event_type: expected one of page_view, .*got "bought"'
    ):
        json_to_record("shop.events", shop_line(event_type="bought"))


def test_a_line_that_is_no_object_is_refused() -> None:
    with pytest.raises(JsonConversionError, match=r"^expected a record, got \[1, 2\]"):
        json_to_record("shop.events", [1, 2])  # type: ignore[arg-type]


def test_unknown_topic_is_refused() -> None:
    with pytest.raises(UnknownTopicError):
        json_to_record("shop.event", shop_line())


def test_record_to_json_spells_timestamps_money_and_dates_for_people() -> None:
    record = json_to_record("erp.invoices", invoice_line())
    shop = json_to_record("shop.events", shop_line())
    invoice_json = record_to_json("erp.invoices", record)
    assert invoice_json["amount"] == "12.30"
    assert invoice_json["posting_date"] == "2026-02-27"
    assert record_to_json("shop.events", shop)["occurred_at"] == "2026-03-01T09:30:00.000Z"


def test_record_to_json_writes_other_offsets_as_utc() -> None:
    record = json_to_record("shop.events", shop_line())
    record["occurred_at"] = datetime(
        2026, 3, 1, 10, 30, 0, 5000, tzinfo=timezone(timedelta(hours=1))
    )
    assert record_to_json("shop.events", record)["occurred_at"] == "2026-03-01T09:30:00.005Z"


@pytest.mark.parametrize("topic", sorted(CATALOG))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_topic_value_survives_a_json_round_trip(topic: str, data: st.DataObject) -> None:
    record = data.draw(records(topic))
    line = json.dumps(record_to_json(topic, record), ensure_ascii=False)
    assert json_to_record(topic, json.loads(line)) == record
