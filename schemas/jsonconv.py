"""JSON ↔ Avro record conversion for the command line.

`journeyhub produce` reads JSON lines and `journeyhub tail --json` prints them; the topic's
schema decides how timestamps, money and dates are spelled in JSON.
"""

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from schemas.codec import load_schema
from schemas.errors import JsonConversionError
from schemas.validation import PYTHON_LEAVES, fit_decimal
from schemas.walk import LeafFunction, Mismatch, Walker

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
_SHOWN_CHARS = 60


def _timestamp_from_json(_schema: dict[str, Any], value: Any) -> datetime:
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return _EPOCH + timedelta(milliseconds=value)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        pass
    msg = "an ISO-8601 timestamp or epoch milliseconds"
    raise Mismatch(msg)


def _date_from_json(_schema: dict[str, Any], value: Any) -> date:
    if isinstance(value, str) and _DATE_PATTERN.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    msg = "a date as YYYY-MM-DD"
    raise Mismatch(msg)


def _decimal_from_json(schema: dict[str, Any], value: Any) -> Decimal:
    expected = f"a decimal with at most {schema.get('scale', 0)} places"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Mismatch(expected)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Mismatch(expected) from None
    return fit_decimal(amount, schema)


def _timestamp_to_json(schema: dict[str, Any], value: Any) -> str:
    moment: datetime = PYTHON_LEAVES["timestamp-millis"](schema, value)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _date_to_json(schema: dict[str, Any], value: Any) -> str:
    day: date = PYTHON_LEAVES["date"](schema, value)
    return day.isoformat()


def _decimal_to_json(schema: dict[str, Any], value: Any) -> str:
    amount: Decimal = PYTHON_LEAVES["decimal"](schema, value)
    return str(amount)


_FROM_JSON: dict[str, LeafFunction] = {
    **PYTHON_LEAVES,
    "timestamp-millis": _timestamp_from_json,
    "date": _date_from_json,
    "decimal": _decimal_from_json,
}
_TO_JSON: dict[str, LeafFunction] = {
    **PYTHON_LEAVES,
    "timestamp-millis": _timestamp_to_json,
    "date": _date_to_json,
    "decimal": _decimal_to_json,
}


def _show_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}…"


_READER = Walker(_FROM_JSON, _show_json, JsonConversionError)
_WRITER = Walker(_TO_JSON, _show_json, JsonConversionError)


def json_to_record(topic: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a parsed JSON object into a record of the topic's schema.

    Timestamps may be ISO-8601 strings (with ``Z`` or an offset; without one they are
    taken as UTC) or epoch milliseconds; money may be a string or a number with at most
    as many places as the schema's scale; dates are ``YYYY-MM-DD``. Absent optional fields
    become null, absent arrays and maps empty.

    Args:
        topic: Topic whose schema the object must fit.
        obj: The parsed JSON object.

    Returns:
        The record, ready for `Codec.encode`.

    Raises:
        JsonConversionError: The object does not fit; the message names the field path
            and the expected form.
        UnknownTopicError: The topic is not in the catalog.
    """
    record: dict[str, Any] = _READER.walk(load_schema(topic), obj)
    return record


def record_to_json(topic: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a record of the topic's schema into a JSON-serialisable object.

    Timestamps become ISO-8601 UTC strings with ``Z`` and milliseconds, money decimal
    strings, dates ``YYYY-MM-DD``.

    Raises:
        JsonConversionError: The record does not fit the topic's schema.
        UnknownTopicError: The topic is not in the catalog.
    """
    obj: dict[str, Any] = _WRITER.walk(load_schema(topic), record)
    return obj
