"""Hypothesis strategies that build values from an Avro schema.

Any test that needs realistic topic values can draw them from `records(topic)`; the values
are what the codecs take and return (aware UTC datetimes, Decimals, dates).
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from schemas.codec import load_schema

Schema = str | list[Any] | dict[str, Any]

_TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "double": st.floats(allow_nan=False, allow_infinity=False),
    "string": _TEXT,
}
_TIMESTAMPS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
_DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 1, 1))


def _decimals(schema: dict[str, Any]) -> st.SearchStrategy[Decimal]:
    scale, precision = schema.get("scale", 0), schema["precision"]
    bound = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
    return st.decimals(min_value=-bound, max_value=bound, places=scale)


def from_schema(schema: Schema, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Return a strategy for values of a parsed Avro schema (or a part of one)."""
    named = named if named is not None else {}
    if isinstance(schema, list):
        return st.one_of([from_schema(branch, named) for branch in schema])
    if isinstance(schema, str):
        primitive = _PRIMITIVES.get(schema)
        return primitive if primitive is not None else from_schema(named[schema], named)
    named.update(schema.get("__named_schemas", {}))
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return _TIMESTAMPS
    if logical == "date":
        return _DATES
    if logical == "decimal":
        return _decimals(schema)
    kind = schema["type"]
    if kind == "record":
        fields = {field["name"]: from_schema(field["type"], named) for field in schema["fields"]}
        return st.fixed_dictionaries(fields)
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(from_schema(schema["items"], named), max_size=3)
    if kind == "map":
        return st.dictionaries(_TEXT, from_schema(schema["values"], named), max_size=3)
    return _PRIMITIVES[kind]


def records(topic: str) -> st.SearchStrategy[dict[str, Any]]:
    """Return a strategy for records of a topic's current schema."""
    return from_schema(load_schema(topic))
