"""Segment campaigns in a real worker: one job per matching person, a summary over partitions."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.streams.test_customer360_pipeline import (
    Person,
    at,
    checkout,
    eventually,
    produce,
    shop,
    tail,
)
from tests.streams.test_journey_pipeline import by_email, revoked
from tests.workertools import http_get, running_worker

pytestmark = pytest.mark.slow


def viewed(person: Person, category: str) -> dict[str, Any]:
    product = {
        "sku": "RUN-1",
        "name": "Trail Runner",
        "category": category,
        "price": "129.00",
        "currency": "EUR",
    }
    return shop(person, "view", "product_view", 5, product=product)


def campaign(campaign_id: str, category: str) -> dict[str, Any]:
    segment = {
        "interests_any": [category],
        "lead_status_any": [],
        "postal_code_prefixes": ["01"],
        "countries": ["DE"],
        "min_orders": None,
        "exclude_contacted_within_days": None,
    }
    return {
        "campaign_id": campaign_id,
        "name": "Einladung zum Stadtlauf",
        "channel": "mail",
        "template": "run_invitation",
        "segment": segment,
        "responsible": "marketing@example.de",
        "requested_at": at(60),
    }


def test_a_segment_campaign_mails_the_segment_and_sums_up_who_was_left_out(
    test_env: dict[str, str],
) -> None:
    category = f"running_{uuid.uuid4().hex[:8]}"
    campaign_id = f"cmp-{uuid.uuid4().hex[:8]}"
    runner, refusing, elsewhere = Person(), Person(), Person()
    elsewhere_checkout = checkout(elsewhere, "checkout", 0)
    elsewhere_checkout["customer"]["postal_code"] = "80331"
    with running_worker(test_env) as base:
        produce(
            test_env,
            "shop.events",
            checkout(runner, "checkout", 0),
            checkout(refusing, "checkout", 0),
            elsewhere_checkout,
            *(viewed(person, category) for person in (runner, refusing, elsewhere)),
        )
        produce(test_env, "consent.events", revoked(refusing, "marketing_email"))
        for person in (runner, elsewhere):
            eventually(base, by_email(person), lambda body: category in body["interests"])
        eventually(
            base,
            by_email(refusing),
            lambda body: (
                category in body["interests"] and body["consent"].get("marketing_email") is False
            ),
        )
        runner_id = http_get(base + by_email(runner))[1]["customer_id"]

        produce(test_env, "campaign.requests", campaign(campaign_id, category))
        summary = eventually(
            base,
            f"/campaigns/{campaign_id}",
            lambda body: body["partitions_reported"] == body["partitions"],
        )

    assert (summary["matched"], summary["sent"]) == (2, 1)
    assert summary["suppressed"]["no_consent"] == 1
    mails = [m["value"] for m in tail(test_env, "outbound.mail")]
    sent = [mail for mail in mails if mail["variables"].get("campaign_id") == campaign_id]
    assert [(mail["customer_id"], mail["template"]) for mail in sent] == [
        (runner_id, "run_invitation")
    ]
    assert sent[0]["subject"] == "Einladung zum Stadtlauf"
