from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import CATALOG
from schemas.codec import RegistryCodec, SingleObjectCodec
from schemas.errors import DecodeError
from tests.schemas.strategies import records


@pytest.fixture
def codec() -> RegistryCodec:
    return RegistryCodec("mock://journeyhub-tests")


def schema_id(data: bytes) -> int:
    return int.from_bytes(data[1:5], "big")


@pytest.mark.parametrize("topic", sorted(CATALOG))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_topic_value_survives_a_round_trip_through_the_registry(
    topic: str, data: st.DataObject
) -> None:
    codec = RegistryCodec("mock://round-trip")
    record = data.draw(records(topic))
    assert codec.decode(topic, codec.encode(topic, record)) == record


def test_value_uses_the_confluent_wire_format(
    codec: RegistryCodec, alert: dict[str, Any], order_event: dict[str, Any]
) -> None:
    alert_data = codec.encode("alerts", alert)
    order_data = codec.encode("shop.events", order_event)
    assert alert_data[0] == 0
    assert schema_id(codec.encode("alerts", alert)) == schema_id(alert_data)
    assert schema_id(order_data) != schema_id(alert_data)


def test_schema_is_registered_under_the_topic_value_subject(
    codec: RegistryCodec, alert: dict[str, Any]
) -> None:
    data = codec.encode("alerts", alert)
    # The in-memory registry belongs to the codec; ask it what it holds.
    registered = codec._client.get_latest_version("alerts-value")
    assert registered.schema_id == schema_id(data)


def test_unknown_schema_id_is_refused(codec: RegistryCodec, alert: dict[str, Any]) -> None:
    data = bytearray(codec.encode("alerts", alert))
    data[1:5] = (999).to_bytes(4, "big")
    with pytest.raises(DecodeError, match="unknown schema id 999"):
        codec.decode("alerts", bytes(data))


def test_single_object_value_is_not_mistaken_for_wire_format(
    codec: RegistryCodec, alert: dict[str, Any]
) -> None:
    with pytest.raises(DecodeError, match="not a Confluent wire-format value"):
        codec.decode("alerts", SingleObjectCodec().encode("alerts", alert))


def test_truncated_header_is_refused(codec: RegistryCodec) -> None:
    with pytest.raises(DecodeError, match="truncated"):
        codec.decode("alerts", b"\x00\x00\x01")


def test_value_of_another_topic_is_refused(codec: RegistryCodec, alert: dict[str, Any]) -> None:
    with pytest.raises(DecodeError, match="cannot be read as the reader schema"):
        codec.decode("device.steps", codec.encode("alerts", alert))
