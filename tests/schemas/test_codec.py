import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastavro.schema import to_parsing_canonical_form
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import CATALOG, get_topic
from schemas.codec import RegistryCodec, SingleObjectCodec, load_schema, make_codec
from schemas.errors import DecodeError, EncodeError, UnknownTopicError
from tests.schemas.strategies import records

TOPICS = sorted(CATALOG)
PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TICKET_FIELD = {
    "name": "ticket_url",
    "type": ["null", "string"],
    "default": None,
    "doc": "Link to the ticket.",
}


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO as the Avro specification defines it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for index in range(256):
        value = index
        for _ in range(8):
            value = (value >> 1) ^ (empty & -(value & 1))
        table.append(value)
    fingerprint = empty
    for byte in data:
        fingerprint = (fingerprint >> 8) ^ table[(fingerprint ^ byte) & 0xFF]
    return fingerprint


def expected_header(topic: str) -> bytes:
    canonical = to_parsing_canonical_form(load_schema(topic)).encode()
    return b"\xc3\x01" + crc64_avro(canonical).to_bytes(8, "little")


def raw_schema(topic: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(get_topic(topic).schema_path.read_text(encoding="utf-8"))
    return loaded


def with_ticket_field(topic: str) -> dict[str, Any]:
    schema = raw_schema(topic)
    schema["fields"].append(TICKET_FIELD)
    return schema


@pytest.mark.parametrize("topic", TOPICS)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_every_topic_value_survives_a_round_trip(topic: str, data: st.DataObject) -> None:
    codec = SingleObjectCodec()
    record = data.draw(records(topic))
    encoded = codec.encode(topic, record)
    assert encoded[:10] == expected_header(topic)
    assert codec.decode(topic, encoded) == record


def test_reference_crc_matches_the_avro_test_vector() -> None:
    assert crc64_avro(b'"int"') == 0x7275D51A3F395C8F


def test_encoded_value_starts_with_magic_and_schema_fingerprint(alert: dict[str, Any]) -> None:
    data = SingleObjectCodec().encode("alerts", alert)
    assert data[:2] == bytes.fromhex("c301")
    assert data[2:10] == expected_header("alerts")[2:]


def test_decimals_come_back_at_the_schema_scale(order_event: dict[str, Any]) -> None:
    codec = SingleObjectCodec()
    order_event["order"]["total"] = Decimal("1299.5")
    decoded = codec.decode("shop.events", codec.encode("shop.events", order_event))
    assert str(decoded["order"]["total"]) == "1299.50"


def test_absent_optional_fields_decode_as_null(alert: dict[str, Any]) -> None:
    codec = SingleObjectCodec()
    del alert["job_id"], alert["responsible"]
    decoded = codec.decode("alerts", codec.encode("alerts", alert))
    assert decoded["job_id"] is None
    assert decoded["responsible"] is None


def test_encode_error_names_the_nested_field_path(order_event: dict[str, Any]) -> None:
    order_event["order"]["items"][0]["unit_price"] = Decimal("12.345")
    with pytest.raises(EncodeError, match=r"^order\.items\[0\]\.unit_price: expected a decimal"):
        SingleObjectCodec().encode("shop.events", order_event)


def test_naive_datetimes_are_refused(alert: dict[str, Any]) -> None:
    alert["occurred_at"] = datetime(2026, 3, 1, 9, 30)
    with pytest.raises(EncodeError, match="expected a timezone-aware datetime") as info:
        SingleObjectCodec().encode("alerts", alert)
    assert info.value.path == "occurred_at"


def test_encode_error_does_not_reveal_text_values(order_event: dict[str, Any]) -> None:
    order_event["customer"]["postal_code"] = 1067
    order_event["customer"]["gender"] = "Erika"
    with pytest.raises(EncodeError) as info:
        SingleObjectCodec().encode("shop.events", order_event)
    assert "Erika" not in str(info.value)


def test_unknown_fields_are_refused(alert: dict[str, Any]) -> None:
    alert["sevrity"] = "critical"
    with pytest.raises(EncodeError, match="sevrity: unknown field"):
        SingleObjectCodec().encode("alerts", alert)


def test_unknown_topic_is_refused(alert: dict[str, Any]) -> None:
    with pytest.raises(UnknownTopicError):
        SingleObjectCodec().encode("alert", alert)


def test_value_written_for_another_topic_is_named_as_such(alert: dict[str, Any]) -> None:
    codec = SingleObjectCodec()
    with pytest.raises(DecodeError, match="written with the schema of topic alerts"):
        codec.decode("device.steps", codec.encode("alerts", alert))


def test_unknown_fingerprint_is_refused(alert: dict[str, Any]) -> None:
    data = bytearray(SingleObjectCodec().encode("alerts", alert))
    data[2:10] = bytes(8)
    with pytest.raises(DecodeError, match="unknown schema fingerprint 0000000000000000"):
        SingleObjectCodec().decode("alerts", bytes(data))


def test_plain_json_is_not_mistaken_for_avro() -> None:
    with pytest.raises(DecodeError, match="not an Avro single-object value"):
        SingleObjectCodec().decode("alerts", b'{"alert_id": "a"}')


@pytest.mark.parametrize("length", [1, 2, 9])
def test_truncated_header_is_refused(alert: dict[str, Any], length: int) -> None:
    data = SingleObjectCodec().encode("alerts", alert)
    with pytest.raises(DecodeError):
        SingleObjectCodec().decode("alerts", data[:length])


def test_truncated_body_is_refused(alert: dict[str, Any]) -> None:
    data = SingleObjectCodec().encode("alerts", alert)
    with pytest.raises(DecodeError, match="truncated"):
        SingleObjectCodec().decode("alerts", data[:-3])


def test_bytes_after_the_record_are_refused(alert: dict[str, Any]) -> None:
    data = SingleObjectCodec().encode("alerts", alert)
    with pytest.raises(DecodeError, match="2 bytes left"):
        SingleObjectCodec().decode("alerts", data + b"\x00\x00")


@pytest.mark.parametrize("topic", TOPICS)
@PROPERTY_SETTINGS
@given(body=st.binary(max_size=200))
def test_random_bytes_after_a_valid_header_raise_decode_error(topic: str, body: bytes) -> None:
    codec = SingleObjectCodec()
    try:
        decoded = codec.decode(topic, expected_header(topic) + body)
    except DecodeError:
        return
    # A body that happens to be a valid value must then be a valid record of the topic.
    assert codec.decode(topic, codec.encode(topic, decoded)) == decoded


@given(data=st.binary(max_size=100))
def test_random_bytes_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        SingleObjectCodec().decode("shop.events", data)


def test_value_of_a_newer_writer_is_read_by_the_current_reader(alert: dict[str, Any]) -> None:
    newer = with_ticket_field("alerts")
    data = SingleObjectCodec(reader_schemas={"alerts": newer}).encode(
        "alerts", {**alert, "ticket_url": "https://tickets.example.org/7"}
    )
    current = SingleObjectCodec()
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        current.decode("alerts", data)
    current.register_writer_schema("alerts", newer)
    assert current.decode("alerts", data) == alert


def test_value_of_the_current_writer_is_read_by_a_newer_reader(alert: dict[str, Any]) -> None:
    data = SingleObjectCodec().encode("alerts", alert)
    newer = SingleObjectCodec(reader_schemas={"alerts": with_ticket_field("alerts")})
    assert newer.decode("alerts", data) == {**alert, "ticket_url": None}


def test_an_unknown_gender_symbol_is_read_as_unknown(order_event: dict[str, Any]) -> None:
    newer = raw_schema("shop.events")
    customer = next(field for field in newer["fields"] if field["name"] == "customer")
    gender = next(field for field in customer["type"][1]["fields"] if field["name"] == "gender")
    gender["type"]["symbols"].append("not_stated")
    order_event["customer"]["gender"] = "not_stated"
    data = SingleObjectCodec(reader_schemas={"shop.events": newer}).encode(
        "shop.events", order_event
    )
    current = SingleObjectCodec()
    current.register_writer_schema("shop.events", newer)
    assert current.decode("shop.events", data)["customer"]["gender"] == "unknown"


def test_a_writer_the_reader_cannot_resolve_is_refused(alert: dict[str, Any]) -> None:
    newer = raw_schema("alerts")
    severity = next(field for field in newer["fields"] if field["name"] == "severity")
    severity["type"]["symbols"].append("fatal")
    data = SingleObjectCodec(reader_schemas={"alerts": newer}).encode(
        "alerts", {**alert, "severity": "fatal"}
    )
    current = SingleObjectCodec()
    current.register_writer_schema("alerts", newer)
    with pytest.raises(DecodeError, match="cannot be read as the reader schema"):
        current.decode("alerts", data)


def test_make_codec_picks_the_registry_codec_only_with_a_url() -> None:
    assert isinstance(make_codec(None), SingleObjectCodec)
    assert isinstance(make_codec(""), SingleObjectCodec)
    assert isinstance(make_codec("mock://make-codec"), RegistryCodec)


def test_timestamps_are_read_back_as_utc(alert: dict[str, Any]) -> None:
    codec = SingleObjectCodec()
    decoded = codec.decode("alerts", codec.encode("alerts", alert))
    assert decoded["occurred_at"].tzinfo == UTC
