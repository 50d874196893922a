"""Checks that a Python value fits a topic's schema before it is encoded.

fastavro alone would write a naive datetime as if it were UTC and report a bad value
without its position; this check refuses the first and names the field path of the second.
"""

from datetime import date, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from schemas.errors import EncodeError
from schemas.walk import LeafFunction, Mismatch, Walker

_INT_RANGE = {"int": 2**31, "long": 2**63}


def fit_decimal(value: Decimal, schema: dict[str, Any]) -> Decimal:
    """Return ``value`` at the scale of a decimal schema, e.g. ``12.3`` → ``12.30``.

    Args:
        value: The amount.
        schema: An Avro decimal schema with ``precision`` and ``scale``.

    Raises:
        Mismatch: The value is not finite, has more places than the scale, or more digits
            than the precision.
    """
    scale, precision = schema.get("scale", 0), schema["precision"]
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity
        msg = "a finite decimal"
        raise Mismatch(msg)
    excess_places = -scale - exponent
    if excess_places > 0 and any(digits[-excess_places:]):
        msg = f"a decimal with at most {scale} places"
        raise Mismatch(msg)
    try:
        return value.quantize(Decimal(1).scaleb(-scale), context=Context(prec=precision))
    except InvalidOperation:
        msg = f"a decimal with at most {precision - scale} digits before the point"
        raise Mismatch(msg) from None


def _null(_schema: dict[str, Any], value: Any) -> None:
    if value is not None:
        msg = "null"
        raise Mismatch(msg)


def _boolean(_schema: dict[str, Any], value: Any) -> bool:
    if not isinstance(value, bool):
        msg = "a boolean"
        raise Mismatch(msg)
    return value


def _integer(schema: dict[str, Any], value: Any) -> int:
    bound = _INT_RANGE[schema["type"]]
    if not isinstance(value, int) or isinstance(value, bool) or not -bound <= value < bound:
        msg = f"an integer from {-bound} to {bound - 1}"
        raise Mismatch(msg)
    return value


def _floating(_schema: dict[str, Any], value: Any) -> float:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    except OverflowError:
        pass
    msg = "a number in the range of a double"
    raise Mismatch(msg)


def _string(_schema: dict[str, Any], value: Any) -> str:
    if not isinstance(value, str):
        msg = "a string"
        raise Mismatch(msg)
    return value


def _timestamp(_schema: dict[str, Any], value: Any) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        msg = "a timezone-aware datetime"
        raise Mismatch(msg)
    return value


def _date(_schema: dict[str, Any], value: Any) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        msg = "a date"
        raise Mismatch(msg)
    return value


def _decimal(schema: dict[str, Any], value: Any) -> Decimal:
    if not isinstance(value, Decimal):
        msg = "a Decimal"
        raise Mismatch(msg)
    return fit_decimal(value, schema)


PYTHON_LEAVES: dict[str, LeafFunction] = {
    "null": _null,
    "boolean": _boolean,
    "int": _integer,
    "long": _integer,
    "float": _floating,
    "double": _floating,
    "string": _string,
    "timestamp-millis": _timestamp,
    "date": _date,
    "decimal": _decimal,
}
"""Leaf checks for Python values as the codecs take and return them."""


def _describe(value: Any) -> str:
    """Describe a value for an error message without revealing text a person entered."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float | Decimal):
        return repr(value)
    if isinstance(value, datetime) and value.utcoffset() is None:
        return "a datetime without time zone"
    return f"a value of type {type(value).__name__}"


_CHECKER = Walker(PYTHON_LEAVES, _describe, EncodeError)


def conform(schema: dict[str, Any], record: Any) -> dict[str, Any]:
    """Check a record against a parsed schema and return it ready for fastavro.

    Absent fields with a default get it, and decimals are brought to the schema's scale.

    Args:
        schema: Parsed record schema.
        record: The record to check.

    Returns:
        A new record with the same values.

    Raises:
        EncodeError: The record does not fit; the message names the field path.
    """
    conformed: dict[str, Any] = _CHECKER.walk(schema, record)
    return conformed
