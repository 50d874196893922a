"""The lean registry writes exactly Faust's JSON bytes, without building an encoder each time."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import faust
import pytest
from faust.serializers.registry import Registry

from streams.app import create_worker
from streams.lean_registry import LeanRegistry
from streams.settings import Settings

KEYS = ["c-erika", "email:müller@bücher.de", "phone:+4930123456", "", 'quote"back\\slash']
VALUES: list[Any] = [
    {"customer_id": "c-1", "postal_code": "01067", "visits": 3, "score": 12.5},
    {"nested": [{"ü": "ß", "n": None}], "big": 10**30, "tiny": 1e-12, "large": 1e16},
    {"at": datetime(2026, 11, 23, 9, 30, 0, 123456, tzinfo=UTC), "amount": Decimal("19.90")},
    ["c-1", "c-2"],
    "plain",
    7,
    2.5,
    True,
    {"nan": float("nan"), "inf": float("inf")},
]


class Visit(faust.Record, serializer="json"):
    customer_id: str
    pages: int


@pytest.mark.parametrize("key", KEYS)
def test_a_key_has_the_bytes_faust_writes(key: str) -> None:
    expected = Registry().dumps_key(str, key, serializer="json")

    assert LeanRegistry().dumps_key(str, key, serializer="json") == expected
    assert LeanRegistry(key_serializer="json").dumps_key(str, key) == expected


@pytest.mark.parametrize("value", VALUES)
def test_a_value_has_the_bytes_faust_writes_and_reads_back_as_faust_reads_it(value: Any) -> None:
    written = Registry().dumps_value(None, value, serializer="json")

    assert LeanRegistry().dumps_value(None, value, serializer="json") == written
    assert repr(LeanRegistry().loads_value(None, written, serializer="json")) == repr(
        Registry().loads_value(None, written, serializer="json")
    )


def test_models_bytes_and_other_codecs_are_serialized_as_faust_does() -> None:
    faust_registry, lean = Registry(), LeanRegistry()
    visit = Visit(customer_id="c-1", pages=4)

    assert lean.dumps_value(None, visit) == faust_registry.dumps_value(None, visit)
    assert lean.dumps_value(None, b"\x00raw", serializer="json") == b"\x00raw"
    assert lean.dumps_key(str, "c-1", serializer="raw") == b"c-1"
    assert lean.dumps_value(None, {"a": 1}, serializer="pickle") == faust_registry.dumps_value(
        None, {"a": 1}, serializer="pickle"
    )
    assert lean.loads_key(str, b'"c-1"', serializer="json") == "c-1"
    assert lean.loads_value(Visit, visit.dumps(), serializer="json") == visit


def test_plain_json_is_written_without_building_an_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    build = json.JSONEncoder.__init__

    def noted(self: json.JSONEncoder, **options: Any) -> None:
        built.append(self)
        build(self, **options)

    monkeypatch.setattr(json.JSONEncoder, "__init__", noted)
    Registry().dumps_key(str, "c-1", serializer="json")
    assert len(built) == 1, "Faust's codec builds an encoder for every key"

    LeanRegistry().dumps_key(str, "c-1", serializer="json")
    LeanRegistry().dumps_value(None, {"visits": 3}, serializer="json")
    assert len(built) == 1


def test_the_worker_serializes_with_the_lean_registry() -> None:
    app = create_worker(Settings.from_env({})).app

    assert isinstance(app.serializers, LeanRegistry)
