"""What a batch of profiles or leads means for the CRM: which calls, in which order."""

from typing import Any

import pytest

from connectors.crm import LEADS_TOPIC, is_customer, plan_calls
from connectors.crm_mapping import DEFAULT_MAPPING, parse_mapping
from tests.connectors.records import lead, profile, record


def calls_of(plan: list[list[Any]]) -> list[list[tuple[str, str] | None]]:
    return [
        [(step.call.method, step.call.path) if step.call else None for step in steps]
        for steps in plan
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"customer": True}, True),
        ({"customer": False, "orders": {"count": 1, "total": "10.00"}}, True),
        ({"customer": False, "lead_status": "customer"}, True),
        ({"customer": False, "lead_status": "sales_lead", "lead_score": 80}, False),
        ({"customer": False}, False),
    ],
    ids=["shop-account", "order", "status-customer", "sales-lead", "prospect"],
)
def test_customers_are_people_with_a_shop_account_or_an_order(
    fields: dict[str, Any], expected: bool
) -> None:
    assert is_customer(profile("c-1", **fields)) is expected


def test_a_burst_of_changes_for_one_customer_becomes_one_put_of_the_last_value() -> None:
    batch = [
        record("c-1", profile("c-1", lead_score=10), 0),
        record("c-2", profile("c-2"), 1),
        record("c-1", profile("c-1", lead_score=20), 2),
        record("c-1", profile("c-1", lead_score=30), 3),
    ]

    plan = plan_calls(batch, DEFAULT_MAPPING)

    assert calls_of(plan) == [[("PUT", "/contacts/c-1")], [("PUT", "/contacts/c-2")]]
    (c1,) = plan[0]
    assert c1.call is not None and c1.call.body is not None
    assert c1.call.body["lead_score"] == 30
    assert [r.offset for r in c1.records] == [0, 2, 3]
    assert c1.call.idempotency_key == "customer360.profiles:0:3"


def test_a_trailing_tombstone_deletes_the_contact_and_404_counts_as_done() -> None:
    batch = [record("c-1", profile("c-1"), 0), record("c-1", None, 1)]

    ((step,),) = plan_calls(batch, DEFAULT_MAPPING)

    assert step.call is not None
    assert (step.call.method, step.call.path) == ("DELETE", "/contacts/c-1")
    assert step.call.done_statuses == frozenset({404})


def test_a_profile_after_a_tombstone_wins() -> None:
    batch = [record("c-1", None, 0), record("c-1", profile("c-1"), 1)]

    assert calls_of(plan_calls(batch, DEFAULT_MAPPING)) == [[("PUT", "/contacts/c-1")]]


def test_prospects_do_not_become_contacts() -> None:
    batch = [record("p-1", profile("p-1", customer=False, lead_score=80), 0)]

    assert calls_of(plan_calls(batch, DEFAULT_MAPPING)) == [[None]]


def test_contact_ids_are_escaped_in_the_path() -> None:
    batch = [record("a/b c", profile("a/b c"), 0)]

    assert calls_of(plan_calls(batch, DEFAULT_MAPPING)) == [[("PUT", "/contacts/a%2Fb%20c")]]


def test_the_contact_body_follows_the_mapping_in_json_form() -> None:
    mapping = parse_mapping(
        {"extends": "none", "fields": {"id": "customer_id", "seen": "updated_at"}}
    )
    batch = [record("c-1", profile("c-1", updated_at="2026-03-01T10:00:00Z"), 0)]

    ((step,),) = plan_calls(batch, mapping)

    assert step.call is not None
    assert step.call.body == {"id": "c-1", "seen": "2026-03-01T10:00:00.000Z"}


def test_a_template_that_fails_turns_into_a_permanent_error_for_the_customer() -> None:
    mapping = parse_mapping({"fields": {"x": {"template": "{{ 1 / 0 }}"}}})
    batch = [record("c-1", profile("c-1"), 0), record("c-2", profile("c-2"), 1)]

    plan = plan_calls(batch, parse_mapping({}))
    broken = plan_calls(batch, mapping)

    assert all(step.error is None for steps in plan for step in steps)
    assert [type(steps[0].error).__name__ for steps in broken] == ["PermanentDeliveryError"] * 2
    assert broken[0][0].call is None


def test_every_lead_is_posted_with_its_lead_id_as_idempotency_key() -> None:
    batch = [
        record("c-1", lead("c-1"), 0, topic=LEADS_TOPIC),
        record("c-2", lead("c-2", score=75), 1, topic=LEADS_TOPIC),
    ]

    plan = plan_calls(batch, DEFAULT_MAPPING)

    assert calls_of(plan) == [[("POST", "/leads")], [("POST", "/leads")]]
    second = plan[1][0].call
    assert second is not None
    assert second.idempotency_key == "lead-c-2"
    assert second.body == {
        "lead_id": "lead-c-2",
        "customer_id": "c-2",
        "score": 75,
        "reasons": ["download", "webinar_clicked"],
    }
