"""Marketing budgets in a real worker: ERP postings and plans in, actuals, alerts, API out.

The first tests cover what the budget agent keeps and forwards; the slow ones run a real
worker on the embedded broker.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest

from streams.budget import CampaignLedger, apply_plan, apply_posting, summarize
from streams.budget_agent import (
    CampaignBook,
    actuals_changed,
    ledger_key,
    read_booking,
)
from streams.budget_records import Plan, Posting
from streams.forwarded import ForwardedEvent
from tests.clitools import run_cli
from tests.workertools import http_get, running_worker, wait_for

OWNER = "sea-owner@example.com"
SETTLE = 60.0


def plan_record(campaign_id: str) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "name": "SEA Q3",
        "channel": "sea",
        "owner_email": OWNER,
        "start_date": "2026-07-01",
        "end_date": "2026-09-30",
        "planned_amount": "10000.00",
        "currency": "EUR",
        "alert_threshold_pct": 80,
    }


def posting_record(
    document_id: str, amount: str, campaign_id: str | None, **changes: Any
) -> dict[str, Any]:
    record = {
        "document_id": document_id,
        "document_type": "invoice",
        "reverses_document_id": None,
        "posting_date": "2026-07-15",
        "company_code": "1000",
        "vendor_id": "V-4711",
        "vendor_name": "Search Ads Europe Ltd.",
        "campaign_id": campaign_id,
        "cost_center": "MK-200",
        "gl_account": "6600",
        "amount": amount,
        "currency": "EUR",
        "local_amount": amount,
        "local_currency": "EUR",
    }
    return record | changes


def produce(env: dict[str, str], topic: str, *records: dict[str, Any]) -> None:
    lines = "".join(json.dumps(record) + "\n" for record in records)
    result = run_cli(env, "produce", topic, "-", stdin=lines)
    assert result.code == 0, result.stderr


def tail(env: dict[str, str], topic: str) -> list[dict[str, Any]]:
    result = run_cli(env, "tail", topic, "--from-beginning", "--json", "--timeout", "3")
    assert result.code == 0, result.stderr
    return result.json_lines()


def metric(base: str, name: str, **labels: str) -> float | None:
    """The value of one sample on /metrics, None when the worker does not show it."""
    status, text = http_get(base + "/metrics")
    assert status == 200
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if found and all(f'{key}="{value}"' in found.group(1) for key, value in labels.items()):
            return float(found.group(2))
    return None


def wait_for_budget(base: str, campaign_id: str, **expected: Any) -> dict[str, Any]:
    """Wait until /budgets/{campaign_id} shows the expected fields; return the body."""
    answers: list[Any] = []

    def shows_expected() -> bool:
        status, body = http_get(f"{base}/budgets/{campaign_id}")
        answers.append((status, body))
        return status == 200 and all(body.get(k) == v for k, v in expected.items())

    wait_for(shows_expected, SETTLE, lambda: f"budget never showed {expected}: {answers[-1:]}")
    return dict(answers[-1][1])


def wait_for_verdicts(base: str, outcome: str, count: int) -> None:
    wait_for(
        lambda: (metric(base, "journeyhub_budget_postings_total", outcome=outcome) or 0) >= count,
        SETTLE,
        lambda: f"fewer than {count} postings were {outcome}",
    )


def alerts_of(env: dict[str, str], campaign_id: str) -> list[dict[str, Any]]:
    return [m["value"] for m in tail(env, "alerts") if m["value"]["campaign_id"] == campaign_id]


def decoded(record: dict[str, Any]) -> dict[str, Any]:
    """A JSON line as the Avro decoder hands it over: with dates and decimals."""
    converted = dict(record)
    for name in ("posting_date", "start_date", "end_date"):
        if name in converted:
            converted[name] = dt.date.fromisoformat(converted[name])
    for name in ("amount", "local_amount", "planned_amount"):
        if name in converted:
            converted[name] = Decimal(converted[name])
    return converted


def plan_of(campaign_id: str) -> Plan:
    return Plan.from_record(decoded(plan_record(campaign_id)))


def posting_of(document_id: str, amount: str, campaign_id: str) -> Posting:
    return Posting.from_record(decoded(posting_record(document_id, amount, campaign_id)))


def test_a_kept_posting_goes_through_the_table_unchanged_without_its_hop_headers() -> None:
    posting = ForwardedEvent(
        "erp.invoices", 3, 1234, b"1000-2026-5100000123", b"\xc3\x01avro-bytes", {}
    )
    assert ForwardedEvent.from_dict(json.loads(json.dumps(posting.to_dict()))) == posting
    travelling = posting.with_headers({"origin.topic": "erp.invoices"})
    assert ForwardedEvent.from_dict(travelling.to_dict()) == posting
    keyless = ForwardedEvent("erp.invoices", 0, 1, None, b"", {})
    assert ForwardedEvent.from_dict(keyless.to_dict()) == keyless


def test_a_book_stored_before_postings_were_kept_as_forwarded_events_still_reads() -> None:
    stored = {"topic": "erp.invoices", "partition": 0, "offset": 5, "key": "D1", "value": "cmF3"}
    assert ForwardedEvent.from_dict(stored) == ForwardedEvent(
        "erp.invoices", 0, 5, b"D1", b"raw", {}
    )


def test_bookings_are_keyed_by_campaign_else_by_company_code() -> None:
    plan = read_booking("marketing.budget.plans", decoded(plan_record("SEA")))
    assigned = read_booking("erp.invoices", decoded(posting_record("D1", "1.00", "SEA")))
    unassigned = read_booking("erp.invoices", decoded(posting_record("D2", "1.00", None)))
    assert [ledger_key(b) for b in (plan, assigned, unassigned)] == ["SEA", "SEA", "1000"]


def test_book_keeps_ledger_origins_and_time_through_the_table() -> None:
    now = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)
    book = CampaignBook(CampaignLedger("SEA"), updated_at=now)
    assert book.summary() is None
    apply_plan(book.ledger, plan_of("SEA"))
    apply_posting(book.ledger, posting_of("D1", "900.00", "SEA"))
    book.origins["D1"] = ForwardedEvent("erp.invoices", 0, 5, b"D1", b"raw", {})
    restored = CampaignBook.from_dict(json.loads(json.dumps(book.to_dict())))
    assert restored == book
    assert restored.summary() == summarize(book.ledger, now)


def test_actuals_are_published_again_only_when_the_position_changes() -> None:
    ledger = CampaignLedger("SEA")
    apply_plan(ledger, plan_of("SEA"))
    first = summarize(ledger, dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    later = summarize(ledger, dt.datetime(2026, 8, 1, tzinfo=dt.UTC))
    assert actuals_changed(None, first)
    assert not actuals_changed(first, later)
    assert not actuals_changed(None, None)
    apply_posting(ledger, posting_of("D1", "5.00", "SEA"))
    assert actuals_changed(first, summarize(ledger, later.updated_at))


@pytest.mark.slow
def test_sea_campaign_is_booked_alerted_published_and_served(test_env: dict[str, str]) -> None:
    campaign = f"SEA-{uuid.uuid4().hex[:8]}"
    company = f"C{uuid.uuid4().hex[:6]}"
    doc = f"{company}-2026-51000"

    def invoice(number: int, amount: str, **changes: Any) -> dict[str, Any]:
        return posting_record(f"{doc}{number:02d}", amount, campaign, **changes)

    with running_worker(test_env) as base:
        # Before the plan: one posting that will count, one in a currency the plan will refuse.
        produce(
            test_env,
            "erp.invoices",
            invoice(0, "1000.00"),
            invoice(9, "70.00", local_currency="CHF"),
        )
        wait_for_verdicts(base, "pending", 2)
        assert http_get(f"{base}/budgets/{campaign}")[0] == 404

        produce(test_env, "marketing.budget.plans", plan_record(campaign))
        wait_for_budget(base, campaign, actual_amount="1000.00", status="ok")

        # A reversal before its document, an out-of-period posting, one in USD, one unassigned
        # and one that cannot be booked at all.
        produce(
            test_env,
            "erp.invoices",
            invoice(10, "0.00", document_type="reversal", reverses_document_id=f"{doc}05"),
            invoice(6, "500.00", posting_date="2026-10-02"),
            invoice(7, "1500.00", local_currency="USD", currency="USD"),
            posting_record(f"{doc}20", "250.00", None, company_code=company),
            invoice(11, "0.00", document_type="reversal"),
        )
        wait_for_verdicts(base, "counted", 2)  # the plan's first posting and the reversal
        wait_for_verdicts(base, "out_of_period", 1)
        wait_for_verdicts(base, "unassigned", 1)
        wait_for_verdicts(base, "rejected", 2)

        # Two SEA invoices cross the 80 % threshold; a credit memo lowers the actual again; the
        # reversed document never counts.
        produce(
            test_env,
            "erp.invoices",
            invoice(1, "4500.00"),
            invoice(2, "3800.00", posting_date="2026-08-10"),
            invoice(3, "300.00", document_type="credit_memo", posting_date="2026-08-20"),
            invoice(5, "2000.00", posting_date="2026-08-25"),
        )
        wait_for_budget(base, campaign, actual_amount="9000.00", status="warning")

        # A redelivered document counts once; the last invoice exceeds the plan.
        produce(test_env, "erp.invoices", invoice(1, "4500.00"))
        wait_for_verdicts(base, "duplicate", 1)
        produce(test_env, "erp.invoices", invoice(8, "1200.00", posting_date="2026-09-30"))
        body = wait_for_budget(base, campaign, status="exceeded")

        assert {k: v for k, v in body.items() if k != "updated_at"} == {
            "campaign_id": campaign,
            "name": "SEA Q3",
            "currency": "EUR",
            "planned_amount": "10000.00",
            "actual_amount": "10200.00",
            "remaining_amount": "-200.00",
            "utilization_pct": 102.0,
            "invoice_count": 5,
            "status": "exceeded",
            "by_month": {"2026-07": "5500.00", "2026-08": "3500.00", "2026-09": "1200.00"},
            "out_of_period_count": 1,
            "out_of_period_document_ids": [f"{doc}06"],
        }
        status, listed = http_get(f"{base}/budgets")
        assert status == 200
        assert [b for b in listed if b["campaign_id"] == campaign] == [body]
        assert http_get(f"{base}/budgets/no-such-campaign")[0] == 404

        gauges = {
            name: metric(base, f"journeyhub_budget_{name}", campaign_id=campaign, currency="EUR")
            for name in ("planned_amount", "actual_amount", "remaining_amount", "utilization_ratio")
        }
        assert gauges == {
            "planned_amount": 10000.0,
            "actual_amount": 10200.0,
            "remaining_amount": -200.0,
            "utilization_ratio": 1.02,
        }
        unassigned = metric(base, "journeyhub_budget_unassigned_amount", company_code=company)
        assert unassigned == 250.0

    actuals = [
        m["value"] for m in tail(test_env, "marketing.budget.actuals") if m["key"] == campaign
    ]
    assert actuals[-1]["actual_amount"] == "10200.00"
    assert actuals[-1]["status"] == "exceeded"
    assert [a["actual_amount"] for a in actuals].count("10200.00") == 1

    alerts = alerts_of(test_env, campaign)
    assert sorted((a["alert_id"], a["kind"], a["severity"]) for a in alerts) == [
        (f"{campaign}:budget_exceeded:1", "budget_exceeded", "critical"),
        (f"{campaign}:budget_threshold:1", "budget_threshold", "warning"),
    ]
    assert {a["responsible"] for a in alerts} == {OWNER}

    letters = {m["key"]: m["headers"] for m in tail(test_env, "dlq.erp.invoices")}
    for rejected, currency in ((f"{doc}07", "USD"), (f"{doc}09", "CHF")):
        headers = letters[rejected]
        assert headers["error.class"] == "streams.budget_records.PostingRejectedError"
        assert currency in headers["error.message"]
        assert "EUR" in headers["error.message"]
        assert headers["origin.topic"] == "erp.invoices"
    assert "reverses_document_id" in letters[f"{doc}11"]["error.message"]


@pytest.mark.slow
def test_restarted_worker_recovers_the_books_and_alerts_no_twice(
    test_env: dict[str, str],
) -> None:
    campaign = f"SEA-{uuid.uuid4().hex[:8]}"

    def invoice(number: int, amount: str) -> dict[str, Any]:
        return posting_record(f"{campaign}-{number}", amount, campaign)

    with running_worker(test_env) as base:
        produce(test_env, "marketing.budget.plans", plan_record(campaign))
        produce(test_env, "erp.invoices", invoice(1, "4500.00"), invoice(2, "3800.00"))
        before = wait_for_budget(base, campaign, actual_amount="8300.00", status="warning")

    with running_worker(test_env, log_name="worker-restarted.log") as base:
        assert wait_for_budget(base, campaign, actual_amount="8300.00") == before
        assert (
            metric(base, "journeyhub_budget_actual_amount", campaign_id=campaign, currency="EUR")
            == 8300.0
        )

        produce(test_env, "erp.invoices", invoice(2, "3800.00"), invoice(3, "200.00"))
        wait_for_budget(base, campaign, actual_amount="8500.00")

    alerts = alerts_of(test_env, campaign)
    assert [a["alert_id"] for a in alerts] == [f"{campaign}:budget_threshold:1"]
