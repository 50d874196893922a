import json
from importlib import resources
from typing import Any

import pytest

from schemas.catalog import CATALOG, get_topic
from schemas.codec import load_schema

TOPICS = sorted(CATALOG)


def raw_schema(topic: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(get_topic(topic).schema_path.read_text(encoding="utf-8"))
    return loaded


def named_types(schema: Any) -> list[dict[str, Any]]:
    """Every record and enum defined in a raw schema, nested ones included."""
    if isinstance(schema, list):
        return [found for branch in schema for found in named_types(branch)]
    if not isinstance(schema, dict):
        return []
    found = [schema] if schema.get("type") in ("record", "enum") else []
    for field in schema.get("fields", []):
        found += named_types(field["type"])
    for key in ("items", "values"):
        if key in schema:
            found += named_types(schema[key])
    return found


def fields_of(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [field for record in named_types(schema) for field in record.get("fields", [])]


def test_every_topic_has_exactly_one_schema_file_named_after_it() -> None:
    files = {
        entry.name.removesuffix(".avsc")
        for entry in resources.files("schemas").iterdir()
        if entry.name.endswith(".avsc")
    }
    assert files == set(CATALOG)


@pytest.mark.parametrize("topic", TOPICS)
def test_schema_parses_as_a_record_in_the_journeyhub_namespace(topic: str) -> None:
    schema = load_schema(topic)
    assert schema["type"] == "record"
    assert schema["name"].startswith("journeyhub.")


@pytest.mark.parametrize("topic", TOPICS)
def test_every_record_enum_and_field_is_documented(topic: str) -> None:
    schema = raw_schema(topic)
    undocumented = [
        item["name"] for item in named_types(schema) + fields_of(schema) if not item.get("doc")
    ]
    assert undocumented == []


@pytest.mark.parametrize("topic", TOPICS)
def test_optional_fields_default_to_null_and_collections_to_empty(topic: str) -> None:
    for field in fields_of(raw_schema(topic)):
        field_type = field["type"]
        if isinstance(field_type, list):
            assert field_type[0] == "null", field["name"]
            assert field["default"] is None, field["name"]
        elif isinstance(field_type, dict) and field_type["type"] in ("array", "map"):
            assert field["default"] == ({} if field_type["type"] == "map" else []), field["name"]


@pytest.mark.parametrize("topic", TOPICS)
def test_money_fields_are_decimals_of_precision_15_and_scale_2(topic: str) -> None:
    for field in fields_of(raw_schema(topic)):
        field_type = field["type"][-1] if isinstance(field["type"], list) else field["type"]
        if isinstance(field_type, dict) and field_type.get("logicalType") == "decimal":
            assert field_type == {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": 15,
                "scale": 2,
            }


def test_a_type_name_used_by_several_topics_has_the_same_definition_everywhere() -> None:
    definitions: dict[str, tuple[str, dict[str, Any]]] = {}
    for topic in TOPICS:
        for named in named_types(raw_schema(topic)):
            first = definitions.setdefault(named["name"], (topic, named))
            assert first[1] == named, f"{named['name']} differs in {first[0]} and {topic}"


def test_key_fields_of_every_topic_are_fields_of_its_schema() -> None:
    for topic, spec in CATALOG.items():
        names = {field["name"] for field in raw_schema(topic)["fields"]}
        assert set(spec.key_fields) <= names, topic


def test_profile_carries_every_field_of_the_customer_api() -> None:
    api_fields = {
        "customer_id",
        "salutation",
        "letter_salutation",
        "first_name",
        "last_name",
        "gender",
        "title",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "country",
        "field_sources",
        "identities",
        "interests",
        "orders",
        "lead_score",
        "lead_status",
        "consent",
        "social",
        "production",
        "first_seen_at",
        "last_seen_at",
        "updated_at",
    }
    names = {field["name"] for field in raw_schema("customer360.profiles")["fields"]}
    assert names == api_fields
