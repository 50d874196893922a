"""Journey rules in a real worker: lead hand-over, trigger mails, consent and the interest sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from streams.rules import load_rules
from streams.settings import STATE_STORES
from tests.streams.test_customer360_pipeline import (
    PROCESSED_WITHIN,
    Person,
    checkout,
    cms,
    eventually,
    metric,
    produce,
    tail,
)
from tests.workertools import http_get, running_worker, wait_for

pytestmark = pytest.mark.slow

SEEDS = ("download", "survey_answered", "email_opened", "webinar_clicked")
"""The seeds' scoring example: 10 + 20 + 10 + 30 points."""
WINDOW_SECONDS = 3


def by_email(person: Person) -> str:
    return f"/customers?email={quote(person.email)}"


def leads_of(env: dict[str, str], customer_id: str) -> list[dict[str, Any]]:
    return [m["value"] for m in tail(env, "crm.leads") if m["key"] == customer_id]


def test_the_seeds_scoring_example_hands_one_lead_to_sales(test_env: dict[str, str]) -> None:
    erika = Person()
    events = [cms(erika, name, name, minutes) for minutes, name in enumerate(SEEDS)]
    with running_worker(test_env) as base:
        produce(test_env, "cms.events", *events)
        lead = eventually(base, by_email(erika), lambda body: body["lead_score"] == 70)
        assert lead["lead_status"] == "sales_lead"

        produce(test_env, "cms.events", *events)
        produce(test_env, "cms.events", cms(erika, "webinar-2", "webinar_clicked", 10))
        later = eventually(base, by_email(erika), lambda body: body["lead_score"] == 100)
        assert later["lead_status"] == "sales_lead"
        assert metric(base, "journeyhub_journey_leads_total") >= 1

    (record,) = leads_of(test_env, lead["customer_id"])
    assert record["score"] == 70
    assert record["lead_status"] == "sales_lead"
    assert record["email"] == erika.email
    assert record["reasons"] == [
        "download +10",
        "survey_answered +20",
        "email_opened +10",
        "webinar_clicked +30",
    ]


def short_window_rules(tmp_path: Path, seconds: int = WINDOW_SECONDS) -> Path:
    """The packaged rules with a product-interest window of a few seconds."""
    packaged = Path(load_rules.__code__.co_filename).with_name("rules.yaml").read_text()
    assert "    window_hours: 24       # wait" in packaged
    path = tmp_path / "rules.yaml"
    path.write_text(
        packaged.replace("    window_hours: 24       # wait", f"    window_seconds: {seconds} #")
    )
    return path


def now_iso(seconds_ago: float = 0) -> str:
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def viewed(person: Person, category: str, view: int) -> dict[str, Any]:
    """The person's ``view``-th view of a product of ``category``, a second after the last."""
    product = {
        "sku": f"SKU-{category}",
        "name": "Trail Runner",
        "category": category,
        "price": "129.00",
        "currency": "EUR",
    }
    return {
        "event_id": f"view-{view}-{person.run}",
        "event_type": "product_view",
        "occurred_at": now_iso(seconds_ago=10 - view),
        "session_id": person.session,
        "product": product,
    }


def revoked(person: Person, purpose: str) -> dict[str, Any]:
    return {
        "event_id": f"revoke-{person.run}",
        "customer_id": person.account,
        "purpose": purpose,
        "granted": False,
        "occurred_at": now_iso(),
        "source": "preference_center",
    }


def mails_about(env: dict[str, str], category: str) -> list[dict[str, Any]]:
    """The mails on ``outbound.mail`` about a product category."""
    return [
        m["value"]
        for m in tail(env, "outbound.mail")
        if m["value"]["variables"].get("category") == category
    ]


def test_interest_without_an_order_mails_once_after_the_window_unless_consent_was_revoked(
    test_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**test_env, "JOURNEYHUB_RULES": str(short_window_rules(tmp_path))}
    category = f"trail_{uuid.uuid4().hex[:8]}"
    keen, refusing = Person(), Person()
    with running_worker(env) as base:
        suppressed = metric(base, "journeyhub_journey_suppressed_total", reason="no_consent")
        mailed = metric(base, "journeyhub_journey_jobs_total", template="product_interest")
        produce(env, "shop.events", checkout(keen, "checkout", 0), checkout(refusing, "co", 0))
        produce(env, "consent.events", revoked(refusing, "marketing_email"))
        eventually(
            base, by_email(refusing), lambda body: body["consent"].get("marketing_email") is False
        )
        produce(
            env,
            "shop.events",
            *(viewed(person, category, n) for person in (keen, refusing) for n in (1, 2)),
        )
        wait_for(
            lambda: (
                metric(base, "journeyhub_journey_suppressed_total", reason="no_consent")
                > suppressed
            ),
            PROCESSED_WITHIN,
            lambda: "the revoked consent suppressed no product-interest mail",
        )
        wait_for(
            lambda: (
                metric(base, "journeyhub_journey_jobs_total", template="product_interest") > mailed
            ),
            PROCESSED_WITHIN,
            lambda: "no product-interest mail after the window",
        )
        keen_id = http_get(base + by_email(keen))[1]["customer_id"]
        refusing_id = http_get(base + by_email(refusing))[1]["customer_id"]
        wait_for(
            lambda: bool(mails_about(env, category)),
            PROCESSED_WITHIN,
            lambda: "the product-interest mail did not reach outbound.mail",
        )

    mails = mails_about(env, category)
    assert [(mail["customer_id"], mail["template"]) for mail in mails] == [
        (keen_id, "product_interest")
    ]
    assert mails[0]["to"] == keen.email
    assert mails[0]["salutation"] == "Sehr geehrte Frau Dr. Musterfrau"
    assert refusing_id not in {mail["customer_id"] for mail in mails}


@pytest.mark.parametrize("store", STATE_STORES)
def test_a_window_open_when_the_worker_stops_is_mailed_once_by_the_worker_that_recovers_it(
    test_env: dict[str, str], tmp_path: Path, store: str
) -> None:
    window = 25
    rules = str(short_window_rules(tmp_path, window))
    env = {**test_env, "JOURNEYHUB_STATE": store, "JOURNEYHUB_RULES": rules}
    category = f"trail_{uuid.uuid4().hex[:8]}"
    keen = Person()
    views = [viewed(keen, category, n) for n in (1, 2)]
    window_end = datetime.fromisoformat(views[-1]["occurred_at"]) + timedelta(seconds=window)
    with running_worker(env) as base:
        produce(env, "shop.events", checkout(keen, "checkout", 0), *views)
        eventually(base, by_email(keen), lambda body: category in body["interests"])
        keen_id = http_get(base + by_email(keen))[1]["customer_id"]
    assert datetime.now(UTC) < window_end, "the window ended before the worker stopped"
    assert mails_about(env, category) == []

    with running_worker(env, "restarted.log"):
        wait_for(
            lambda: bool(mails_about(env, category)),
            window + PROCESSED_WITHIN,
            lambda: "the restarted worker sent no product-interest mail after the window",
        )

    mails = mails_about(env, category)
    assert [(mail["customer_id"], mail["template"]) for mail in mails] == [
        (keen_id, "product_interest")
    ]
