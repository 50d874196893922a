"""The contact field mapping: default names, renames, constants, templates, YAML specs."""

from pathlib import Path

import pytest

from connectors.crm_mapping import DEFAULT_FIELDS, DEFAULT_MAPPING, load_mapping, parse_mapping
from connectors.errors import MappingError

PROFILE = {
    "customer_id": "c-1",
    "first_name": "Test",
    "last_name": "Person",
    "email": "c-1@example.test",
    "lead_status": "customer",
    "lead_score": 40,
    "orders": {"count": 2, "total": "99.90", "currency": "EUR"},
    "identities": {"shop_customer_ids": ["shop-1"]},
}


def test_the_default_mapping_keeps_the_profile_field_names() -> None:
    body = DEFAULT_MAPPING.apply(PROFILE)

    assert list(body) == list(DEFAULT_FIELDS)
    assert body["customer_id"] == "c-1"
    assert body["email"] == "c-1@example.test"
    assert body["orders"] == PROFILE["orders"]
    assert body["phone"] is None
    assert "identities" not in body


def test_a_spec_renames_sets_constants_renders_templates_and_drops_fields() -> None:
    mapping = parse_mapping(
        {
            "fields": {
                "external_ref": "customer_id",
                "order_count": "orders.count",
                "source_system": {"constant": "journeyhub"},
                "display_name": {"template": "{{ first_name }} {{ last_name }}"},
                "phone": None,
            }
        }
    )

    body = mapping.apply(PROFILE)

    assert body["external_ref"] == "c-1"
    assert body["order_count"] == 2
    assert body["source_system"] == "journeyhub"
    assert body["display_name"] == "Test Person"
    assert "phone" not in body
    assert body["email"] == "c-1@example.test"


def test_extends_none_sends_only_the_given_fields() -> None:
    mapping = parse_mapping({"extends": "none", "fields": {"id": "customer_id"}})

    assert mapping.apply(PROFILE) == {"id": "c-1"}


def test_a_missing_source_field_maps_to_null() -> None:
    mapping = parse_mapping({"extends": "none", "fields": {"x": "orders.nothing.deeper"}})

    assert mapping.apply(PROFILE) == {"x": None}


def test_a_mapping_is_loaded_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "crm-mapping.yaml"
    path.write_text(
        "extends: none\nfields:\n  id: customer_id\n  kind: {constant: person}\n",
        encoding="utf-8",
    )

    assert load_mapping(path).apply(PROFILE) == {"id": "c-1", "kind": "person"}


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ({"fields": {"x": {"template": "{{ unclosed"}}}, "'x'"),
        ({"fields": {"x": {"constant": 1, "template": "t"}}}, "'x'"),
        ({"fields": {"x": 42}}, "'x'"),
        ({"fields": ["x"]}, "fields"),
        ({"extends": "other"}, "extends"),
        ({"field": {}}, "unknown mapping keys"),
    ],
    ids=["bad-template", "two-rules", "number", "fields-list", "bad-extends", "typo"],
)
def test_a_malformed_spec_names_what_is_wrong(spec: dict[str, object], complaint: str) -> None:
    with pytest.raises(MappingError, match=complaint):
        parse_mapping(spec)


def test_an_unreadable_yaml_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("fields: [unclosed", encoding="utf-8")

    with pytest.raises(MappingError, match=r"broken\.yaml"):
        load_mapping(path)


def test_templates_cannot_reach_python_internals() -> None:
    mapping = parse_mapping(
        {"extends": "none", "fields": {"x": {"template": "{{ ''.__class__.__mro__ }}"}}}
    )

    with pytest.raises(MappingError, match="'x'"):
        mapping.apply(PROFILE)
