from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
from fastavro import parse_schema

from schemas.errors import EncodeError, SchemaError
from schemas.validation import conform


def parsed(schema: dict[str, Any]) -> dict[str, Any]:
    return cast("dict[str, Any]", parse_schema(schema))


def record_of(*fields: dict[str, Any]) -> dict[str, Any]:
    return parsed({"type": "record", "name": "Probe", "namespace": "test", "fields": list(fields)})


MONEY = {"type": "bytes", "logicalType": "decimal", "precision": 15, "scale": 2}


@pytest.mark.parametrize(
    ("avro_type", "value"),
    [
        ("int", 2**31),
        ("int", True),
        ("long", 2**63),
        ("double", "1.5"),
        ("double", 10**400),
        ("boolean", 1),
        ("string", b"bytes"),
        ({"type": "int", "logicalType": "date"}, datetime(2026, 1, 1, tzinfo=UTC)),
        ({"type": "long", "logicalType": "timestamp-millis"}, date(2026, 1, 1)),
        (MONEY, 12.5),
        (MONEY, Decimal("NaN")),
        (MONEY, Decimal("1e13")),
    ],
)
def test_values_of_the_wrong_kind_are_refused(avro_type: Any, value: Any) -> None:
    with pytest.raises(EncodeError, match=r"^amount: expected"):
        conform(record_of({"name": "amount", "type": avro_type}), {"amount": value})


def test_largest_amount_of_precision_15_fits() -> None:
    schema = record_of({"name": "amount", "type": MONEY})
    assert conform(schema, {"amount": Decimal("9999999999999.99")}) == {
        "amount": Decimal("9999999999999.99")
    }


def test_trailing_zeros_beyond_the_scale_are_accepted() -> None:
    schema = record_of({"name": "amount", "type": MONEY})
    assert str(conform(schema, {"amount": Decimal("1.2300")})["amount"]) == "1.23"


def test_value_of_a_union_takes_the_first_branch_it_fits() -> None:
    schema = record_of({"name": "either", "type": ["null", "int", "string"]})
    assert conform(schema, {"either": "7"}) == {"either": "7"}
    assert conform(schema, {"either": 7}) == {"either": 7}
    with pytest.raises(EncodeError, match="either: expected one of the types null, int, string"):
        conform(schema, {"either": 7.5})


def test_null_in_a_required_field_is_refused() -> None:
    with pytest.raises(EncodeError, match="name: expected a string, got null"):
        conform(record_of({"name": "name", "type": "string"}), {"name": None})


def test_map_error_names_the_key() -> None:
    schema = record_of({"name": "form", "type": {"type": "map", "values": "string"}})
    with pytest.raises(EncodeError, match=r'^form\["zip code"\]: expected a string'):
        conform(schema, {"form": {"zip code": 1067}})


def test_a_record_may_refer_to_itself() -> None:
    schema = parsed(
        {
            "type": "record",
            "name": "Node",
            "fields": [
                {"name": "label", "type": "string"},
                {"name": "next", "type": ["null", "Node"], "default": None},
            ],
        }
    )
    chain = {"label": "a", "next": {"label": "b", "next": None}}
    assert conform(schema, chain) == chain
    with pytest.raises(EncodeError, match=r"^next\.next\.label: expected a string"):
        conform(schema, {"label": "a", "next": {"label": "b", "next": {"label": 3}}})


def test_a_type_without_checks_is_reported_as_unsupported() -> None:
    schema = record_of({"name": "raw", "type": {"type": "fixed", "name": "Raw", "size": 2}})
    with pytest.raises(SchemaError, match=r"Avro type test\.Raw is not supported"):
        conform(schema, {"raw": b"ab"})
