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


def campaign(
    campaign_id: str, category: str, template: str = "run_invitation", minutes: float = 60
) -> dict[str, Any]:
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
        "template": template,
        "segment": segment,
        "responsible": "marketing@example.de",
        "requested_at": at(minutes),
    }


def customers_interested_in(
    env: dict[str, str],
    base: str,
    category: str,
    checkouts: list[dict[str, Any]],
    willing: list[Person],
    refusing: Person,
) -> None:
    """Customers who viewed ``category``; ``refusing`` revoked marketing e-mail after it.

    Returns once every profile shows the interest and the refusal.
    """
    viewers = [*willing, refusing]
    produce(env, "shop.events", *checkouts, *(viewed(person, category) for person in viewers))
    produce(env, "consent.events", revoked(refusing, "marketing_email"))
    for person in willing:
        eventually(base, by_email(person), lambda body: category in body["interests"])
    eventually(
        base,
        by_email(refusing),
        lambda body: (
            category in body["interests"] and body["consent"].get("marketing_email") is False
        ),
    )


def test_a_segment_campaign_mails_the_segment_and_sums_up_who_was_left_out(
    test_env: dict[str, str],
) -> None:
    category = f"running_{uuid.uuid4().hex[:8]}"
    campaign_id = f"cmp-{uuid.uuid4().hex[:8]}"
    runner, refusing, elsewhere = Person(), Person(), Person()
    elsewhere_checkout = checkout(elsewhere, "checkout", 0)
    elsewhere_checkout["customer"]["postal_code"] = "80331"
    with running_worker(test_env) as base:
        checkouts = [checkout(runner, "checkout", 0), checkout(refusing, "checkout", 0)]
        customers_interested_in(
            test_env,
            base,
            category,
            [*checkouts, elsewhere_checkout],
            [runner, elsewhere],
            refusing,
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


def test_service_messages_reach_everyone_while_marketing_heeds_consent_and_the_cap(
    test_env: dict[str, str],
) -> None:
    """Three campaigns to one segment: marketing, a service message, marketing again.

    The packaged rules allow one marketing mail per person and 24 hours, and treat
    ``order_confirmation`` as a service message: never capped, not subject to consent.
    """
    category = f"running_{uuid.uuid4().hex[:8]}"
    invitation, service, reminder = (f"cmp-{uuid.uuid4().hex[:8]}" for _ in range(3))
    runner, refusing = Person(), Person()
    with running_worker(test_env) as base:
        checkouts = [checkout(runner, "checkout", 0), checkout(refusing, "checkout", 0)]
        customers_interested_in(test_env, base, category, checkouts, [runner], refusing)
        ids = {http_get(base + by_email(p))[1]["customer_id"]: p for p in (runner, refusing)}

        summaries = {}
        for campaign_id, template, minutes in (
            (invitation, "run_invitation", 60),
            (service, "order_confirmation", 61),
            (reminder, "run_invitation", 62),
        ):
            produce(
                test_env, "campaign.requests", campaign(campaign_id, category, template, minutes)
            )
            summaries[campaign_id] = eventually(
                base,
                f"/campaigns/{campaign_id}",
                lambda body: body["partitions_reported"] == body["partitions"],
            )

    outcomes = {
        campaign_id: (summary["sent"], {r: n for r, n in summary["suppressed"].items() if n})
        for campaign_id, summary in summaries.items()
    }
    assert outcomes == {
        invitation: (1, {"no_consent": 1}),
        service: (2, {}),
        reminder: (0, {"no_consent": 1, "capped": 1}),
    }
    mails = [m["value"] for m in tail(test_env, "outbound.mail")]
    received = sorted(
        (ids[mail["customer_id"]] is runner, mail["variables"]["campaign_id"])
        for mail in mails
        if mail["variables"].get("campaign_id") in summaries
    )
    assert received == sorted([(True, invitation), (True, service), (False, service)])
