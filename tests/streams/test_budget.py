"""Marketing-budget bookkeeping: ERP postings against campaign plans, alerts and summaries."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.budget import (
    BudgetStatus,
    CampaignLedger,
    UnassignedLedger,
    apply_plan,
    apply_posting,
    apply_unassigned,
    summarize,
)
from streams.budget_records import (
    AlertKind,
    AlertRaised,
    BudgetError,
    BudgetOutcome,
    Cancelled,
    Counted,
    Duplicate,
    OutOfPeriod,
    Pending,
    Plan,
    Posting,
    Rejected,
    Unassigned,
)

CAMPAIGN = "SEA-Q3-2026"
OWNER = "controlling-role@example.com"
NOW = dt.datetime(2026, 10, 1, 8, 0, tzinfo=dt.UTC)


def plan(**changes: Any) -> Plan:
    record = {
        "campaign_id": CAMPAIGN,
        "name": "SEA Q3",
        "channel": "search",
        "owner_email": OWNER,
        "start_date": dt.date(2026, 7, 1),
        "end_date": dt.date(2026, 9, 30),
        "planned_amount": Decimal("10000.00"),
        "currency": "EUR",
        "alert_threshold_pct": 80,
    }
    return Plan.from_record(record | changes)


def posting_record(document_id: str, local_amount: str, /, **changes: Any) -> dict[str, Any]:
    record = {
        "document_id": document_id,
        "document_type": "invoice",
        "reverses_document_id": None,
        "posting_date": dt.date(2026, 7, 15),
        "company_code": "1000",
        "vendor_id": "V-4711",
        "vendor_name": "Search Ads Europe Ltd.",
        "campaign_id": CAMPAIGN,
        "cost_center": "MK-200",
        "gl_account": "6600",
        "amount": Decimal(local_amount),
        "currency": "EUR",
        "local_amount": Decimal(local_amount),
        "local_currency": "EUR",
    }
    return record | changes


def posting(document_id: str, amount: str = "100.00", **changes: Any) -> Posting:
    return Posting.from_record(posting_record(document_id, amount, **changes))


def reversal(document_id: str, reverses: str, **changes: Any) -> Posting:
    return posting(
        document_id, "0.00", document_type="reversal", reverses_document_id=reverses, **changes
    )


def ledger_with_plan(**changes: Any) -> CampaignLedger:
    ledger = CampaignLedger(CAMPAIGN)
    apply_plan(ledger, plan(**changes))
    return ledger


def book(ledger: CampaignLedger, *postings: Posting) -> list[BudgetOutcome]:
    return [outcome for item in postings for outcome in apply_posting(ledger, item)]


def alerts(outcomes: list[BudgetOutcome]) -> list[AlertRaised]:
    return [outcome for outcome in outcomes if isinstance(outcome, AlertRaised)]


def actual(ledger: CampaignLedger) -> Decimal:
    return summarize(ledger, NOW).actual_amount


def test_sea_campaign_quarter_end_to_end() -> None:
    ledger = CampaignLedger(CAMPAIGN)
    sea, printer = {"vendor_id": "V-4711"}, {"vendor_id": "V-0815", "vendor_name": "Druck GmbH"}
    july = dt.date(2026, 7, 31)
    early = apply_posting(ledger, posting("1000-2026-5100000101", "3200.00", posting_date=july))
    assert early == [Pending("1000-2026-5100000101")]
    assert apply_plan(ledger, plan()) == [Counted("1000-2026-5100000101")]

    outcomes = book(
        ledger,
        posting("1000-2026-5100000102", "1150.00", posting_date=dt.date(2026, 7, 20), **printer),
        posting("1000-2026-5100000103", "3400.00", posting_date=dt.date(2026, 8, 31), **sea),
        posting("1000-2026-5100000104", "980.00", posting_date=dt.date(2026, 8, 14), **printer),
    )
    assert [a.kind for a in alerts(outcomes)] == [AlertKind.BUDGET_THRESHOLD]
    assert actual(ledger) == Decimal("8730.00")

    refund = posting(
        "1000-2026-5100000105",
        "430.00",
        document_type="credit_memo",
        posting_date=dt.date(2026, 9, 5),
    )
    wrong = posting("1000-2026-5100000106", "2400.00", posting_date=dt.date(2026, 9, 10), **printer)
    outcomes = book(ledger, refund, wrong)
    assert [a.kind for a in alerts(outcomes)] == [AlertKind.BUDGET_EXCEEDED]

    outcomes = book(
        ledger,
        reversal("1000-2026-5100000107", "1000-2026-5100000106", posting_date=dt.date(2026, 9, 12)),
        posting("1000-2026-5100000108", "1250.00", posting_date=dt.date(2026, 9, 30), **sea),
        posting("1000-2026-5100000109", "500.00", posting_date=dt.date(2026, 10, 2), **sea),
        posting("1000-2026-5100000108", "1250.00", posting_date=dt.date(2026, 9, 30), **sea),
    )
    assert Cancelled("1000-2026-5100000106", "1000-2026-5100000107") in outcomes
    assert OutOfPeriod("1000-2026-5100000109", dt.date(2026, 10, 2)) in outcomes
    assert Duplicate("1000-2026-5100000108") in outcomes
    assert alerts(outcomes) == []

    assert summarize(ledger, NOW).to_api() == {
        "campaign_id": CAMPAIGN,
        "name": "SEA Q3",
        "currency": "EUR",
        "planned_amount": "10000.00",
        "actual_amount": "9550.00",
        "remaining_amount": "450.00",
        "utilization_pct": 95.5,
        "invoice_count": 6,
        "status": "warning",
        "by_month": {"2026-07": "4350.00", "2026-08": "4380.00", "2026-09": "820.00"},
        "out_of_period_count": 1,
        "out_of_period_document_ids": ["1000-2026-5100000109"],
        "updated_at": "2026-10-01T08:00:00+00:00",
    }


def test_invoice_adds_its_local_amount_not_its_document_amount() -> None:
    ledger = ledger_with_plan()
    foreign = posting_record("D1", "1000.00", amount=Decimal("1080.00"), currency="USD")
    assert apply_posting(ledger, Posting.from_record(foreign)) == [Counted("D1")]
    assert actual(ledger) == Decimal("1000.00")


@pytest.mark.parametrize("amount", ["250.00", "-250.00"])
def test_credit_memo_lowers_the_actual_whether_sent_positive_or_negative(amount: str) -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "1000.00"), posting("D2", amount, document_type="credit_memo"))
    assert actual(ledger) == Decimal("750.00")
    assert summarize(ledger, NOW).invoice_count == 2


def test_negative_invoice_is_booked_as_sent() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "1000.00"), posting("D2", "-100.00"))
    assert actual(ledger) == Decimal("900.00")


def test_reversal_cancels_the_referenced_invoice() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "1000.00"), posting("D2", "300.00"))
    assert apply_posting(ledger, reversal("R1", "D1")) == [Counted("R1"), Cancelled("D1", "R1")]
    assert actual(ledger) == Decimal("300.00")
    assert summarize(ledger, NOW).invoice_count == 1


def test_invoice_arriving_after_its_reversal_never_counts() -> None:
    ledger = ledger_with_plan()
    book(ledger, reversal("R1", "D1"))
    assert apply_posting(ledger, posting("D1", "1000.00")) == [Cancelled("D1", "R1")]
    assert actual(ledger) == Decimal("0.00")


@pytest.mark.parametrize("order", [("D1", "R1", "R2"), ("R2", "R1", "D1"), ("R1", "R2", "D1")])
def test_reversing_a_reversal_reinstates_the_document_in_any_order(order: tuple[str, ...]) -> None:
    documents = {
        "D1": posting("D1", "1000.00"),
        "R1": reversal("R1", "D1"),
        "R2": reversal("R2", "R1"),
    }
    ledger = ledger_with_plan()
    book(ledger, *(documents[doc_id] for doc_id in order))
    assert actual(ledger) == Decimal("1000.00")


def test_reversals_that_reverse_each_other_cancel_one_another() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "1000.00"), reversal("R1", "R2"), reversal("R2", "R1"))
    assert actual(ledger) == Decimal("1000.00")


def test_reversal_naming_a_document_of_another_campaign_changes_nothing_here() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "1000.00"))
    assert apply_posting(ledger, reversal("R1", "OTHER-CAMPAIGN-DOC")) == [Counted("R1")]
    assert actual(ledger) == Decimal("1000.00")


def test_reference_on_a_credit_memo_cancels_nothing() -> None:
    ledger = ledger_with_plan()
    memo = posting("D2", "100.00", document_type="credit_memo", reverses_document_id="D1")
    book(ledger, posting("D1", "1000.00"), memo)
    assert actual(ledger) == Decimal("900.00")


def test_redelivered_document_counts_once() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "1000.00"))
    assert apply_posting(ledger, posting("D1", "1000.00")) == [Duplicate("D1")]
    assert actual(ledger) == Decimal("1000.00")


def test_posting_outside_the_plan_period_is_listed_and_not_counted() -> None:
    ledger = ledger_with_plan()
    outcomes = book(
        ledger,
        posting("FIRST-DAY", "1.00", posting_date=dt.date(2026, 7, 1)),
        posting("LAST-DAY", "2.00", posting_date=dt.date(2026, 9, 30)),
        posting("TOO-EARLY", "40.00", posting_date=dt.date(2026, 6, 30)),
        posting("TOO-LATE", "80.00", posting_date=dt.date(2026, 10, 1)),
    )
    assert outcomes[2:] == [
        OutOfPeriod("TOO-EARLY", dt.date(2026, 6, 30)),
        OutOfPeriod("TOO-LATE", dt.date(2026, 10, 1)),
    ]
    summary = summarize(ledger, NOW)
    assert summary.actual_amount == Decimal("3.00")
    assert summary.out_of_period_document_ids == ("TOO-EARLY", "TOO-LATE")
    assert summary.to_record()["out_of_period_count"] == 2


def test_posting_in_another_currency_is_rejected_with_a_reason() -> None:
    ledger = ledger_with_plan()
    [outcome] = apply_posting(ledger, posting("D1", "500.00", local_currency="CHF"))
    assert isinstance(outcome, Rejected)
    assert "CHF" in outcome.reason
    assert "EUR" in outcome.reason
    assert actual(ledger) == Decimal("0.00")


def test_postings_before_the_plan_are_pending_and_decided_when_it_arrives() -> None:
    ledger = CampaignLedger(CAMPAIGN)
    outcomes = book(
        ledger,
        posting("D1", "1000.00"),
        posting("D2", "500.00", local_currency="CHF"),
        posting("D3", "70.00", posting_date=dt.date(2026, 12, 1)),
    )
    assert outcomes == [Pending("D1"), Pending("D2"), Pending("D3")]
    decided = apply_plan(ledger, plan())
    assert [type(outcome) for outcome in decided] == [Counted, Rejected, OutOfPeriod]
    assert actual(ledger) == Decimal("1000.00")


def test_new_plan_version_recomputes_the_actual_from_the_kept_documents() -> None:
    ledger = ledger_with_plan()
    book(
        ledger,
        posting("D1", "1000.00", local_currency="CHF"),
        posting("D2", "300.00", posting_date=dt.date(2026, 10, 15)),
    )
    assert actual(ledger) == Decimal("0.00")
    outcomes = apply_plan(ledger, plan(currency="CHF", end_date=dt.date(2026, 10, 31)))
    assert [type(outcome) for outcome in outcomes] == [Counted, Rejected]
    outcomes = apply_plan(ledger, plan(end_date=dt.date(2026, 10, 31)))
    assert [type(outcome) for outcome in outcomes] == [Rejected, Counted]
    assert actual(ledger) == Decimal("300.00")


def test_posting_without_campaign_is_unassigned_and_totalled_per_company_code() -> None:
    unassigned = UnassignedLedger("1000")
    orphan = posting("D1", "400.00", campaign_id=None)
    assert apply_unassigned(unassigned, orphan) == [Unassigned("D1", "1000")]
    assert apply_unassigned(unassigned, orphan) == [Duplicate("D1")]
    apply_unassigned(
        unassigned, posting("D2", "50.00", campaign_id="  ", document_type="credit_memo")
    )
    apply_unassigned(unassigned, posting("D3", "90.00", campaign_id=None))
    apply_unassigned(unassigned, reversal("R3", "D3", campaign_id=None))
    assert unassigned.totals() == {"EUR": Decimal("350.00")}
    assert UnassignedLedger.from_dict(json.loads(json.dumps(unassigned.to_dict()))) == unassigned
    with pytest.raises(BudgetError, match="campaign"):
        apply_posting(CampaignLedger(CAMPAIGN), orphan)


def test_postings_of_another_campaign_or_company_code_are_refused() -> None:
    with pytest.raises(BudgetError, match="OTHER"):
        apply_posting(CampaignLedger(CAMPAIGN), posting("D1", campaign_id="OTHER"))
    with pytest.raises(BudgetError, match="OTHER"):
        apply_plan(CampaignLedger(CAMPAIGN), plan(campaign_id="OTHER"))
    with pytest.raises(BudgetError, match="2000"):
        apply_unassigned(UnassignedLedger("2000"), posting("D1", campaign_id=None))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"document_type": "reversal"}, "reverses_document_id"),
        ({"document_type": "reversal", "reverses_document_id": "D1"}, "reverses_document_id"),
        ({"document_type": "storno"}, "document_type"),
        ({"document_id": " "}, "document_id"),
        ({"local_amount": 100.5}, "local_amount"),
        ({"local_amount": Decimal("1.005")}, "local_amount"),
        ({"local_amount": Decimal("NaN")}, "local_amount"),
        ({"local_currency": "EURO"}, "local_currency"),
        ({"posting_date": dt.datetime(2026, 7, 1, tzinfo=dt.UTC)}, "posting_date"),
        ({"posting_date": "1st of July"}, "posting_date"),
        ({"company_code": None}, "company_code"),
    ],
)
def test_malformed_posting_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BudgetError, match=field):
        Posting.from_record(posting_record("D1", "100.00", **changes))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_date": dt.date(2026, 6, 30)}, "end_date"),
        ({"planned_amount": Decimal("-1.00")}, "planned_amount"),
        ({"alert_threshold_pct": 120}, "alert_threshold_pct"),
        ({"alert_threshold_pct": True}, "alert_threshold_pct"),
        ({"owner_email": ""}, "owner_email"),
        ({"currency": None}, "currency"),
    ],
)
def test_malformed_plan_is_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BudgetError, match=field):
        plan(**changes)


@pytest.mark.parametrize(
    ("spent", "status", "utilization"),
    [
        ("7999.49", BudgetStatus.OK, "79.99"),
        ("7999.50", BudgetStatus.WARNING, "80.00"),
        ("10000.00", BudgetStatus.WARNING, "100.00"),
        ("10000.01", BudgetStatus.EXCEEDED, "100.00"),
        ("12345.67", BudgetStatus.EXCEEDED, "123.46"),
    ],
)
def test_status_follows_threshold_and_plan(
    spent: str, status: BudgetStatus, utilization: str
) -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", spent))
    summary = summarize(ledger, NOW)
    assert (summary.status, summary.utilization_pct) == (status, Decimal(utilization))
    assert summary.remaining_amount == Decimal("10000.00") - Decimal(spent)


def test_utilization_rounds_half_up() -> None:
    ledger = ledger_with_plan(planned_amount=Decimal("200.00"))
    book(ledger, posting("D1", "24.69"))
    assert summarize(ledger, NOW).utilization_pct == Decimal("12.35")


@pytest.mark.parametrize(("spent", "status"), [("0.00", "ok"), ("0.01", "exceeded")])
def test_plan_of_zero_is_exceeded_by_any_cost(spent: str, status: str) -> None:
    ledger = ledger_with_plan(planned_amount=Decimal("0.00"))
    book(ledger, posting("D1", spent))
    record = summarize(ledger, NOW).to_record()
    assert (record["status"], record["utilization_pct"]) == (status, 0.0)


def test_threshold_alert_is_raised_once_while_the_budget_stays_above_it() -> None:
    ledger = ledger_with_plan()
    outcomes = book(ledger, *(posting(f"D{n}", "2000.00") for n in range(1, 5)))
    assert alerts(outcomes) == [
        AlertRaised(
            alert_id=f"{CAMPAIGN}:budget_threshold:1",
            kind=AlertKind.BUDGET_THRESHOLD,
            severity="warning",
            campaign_id=CAMPAIGN,
            message=f"Campaign {CAMPAIGN} (SEA Q3) reached 80.00 % of its budget "
            "(alert threshold 80 %): 8000.00 of 10000.00 EUR spent.",
            responsible=OWNER,
        )
    ]
    assert alerts(book(ledger, posting("D5", "500.00"))) == []


def test_exceeded_alert_is_critical_and_goes_to_the_plan_owner() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "9000.00"))
    [alert] = alerts(book(ledger, posting("D2", "1000.01")))
    assert (alert.kind, alert.severity, alert.responsible) == (
        AlertKind.BUDGET_EXCEEDED,
        "critical",
        OWNER,
    )
    assert (
        alert.message
        == f"Campaign {CAMPAIGN} (SEA Q3) exceeded its budget: 10000.01 of 10000.00 EUR spent."
    )


def test_jumping_over_both_levels_raises_both_alerts() -> None:
    ledger = ledger_with_plan()
    raised = alerts(book(ledger, posting("D1", "12000.00")))
    assert [alert.kind for alert in raised] == [
        AlertKind.BUDGET_THRESHOLD,
        AlertKind.BUDGET_EXCEEDED,
    ]


def test_alert_is_raised_again_after_a_correction_brings_the_budget_below() -> None:
    ledger = ledger_with_plan()
    first = alerts(book(ledger, posting("D1", "10500.00")))
    assert alerts(book(ledger, posting("D2", "1000.00", document_type="credit_memo"))) == []
    assert alerts(book(ledger, reversal("R1", "D1"))) == []
    again = alerts(book(ledger, posting("D3", "11500.00")))
    assert [alert.alert_id for alert in first] == [
        f"{CAMPAIGN}:budget_threshold:1",
        f"{CAMPAIGN}:budget_exceeded:1",
    ]
    assert [alert.alert_id for alert in again] == [
        f"{CAMPAIGN}:budget_threshold:2",
        f"{CAMPAIGN}:budget_exceeded:2",
    ]


def test_alert_raised_when_the_plan_arrives_after_the_costs() -> None:
    ledger = CampaignLedger(CAMPAIGN)
    assert alerts(book(ledger, posting("D1", "8500.00"))) == []
    assert [alert.kind for alert in alerts(apply_plan(ledger, plan()))] == [
        AlertKind.BUDGET_THRESHOLD
    ]


def test_replay_after_a_crash_yields_the_same_alert_id() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "7000.00"))
    saved = json.dumps(ledger.to_dict())
    [before_crash] = alerts(book(ledger, posting("D2", "1500.00")))
    restored = CampaignLedger.from_dict(json.loads(saved))
    [after_replay] = alerts(book(restored, posting("D2", "1500.00")))
    assert after_replay == before_crash


def test_alert_record_fits_the_alerts_topic() -> None:
    ledger = ledger_with_plan()
    [alert, _] = alerts(book(ledger, posting("D1", "12000.00")))
    assert alert.to_record(NOW) == {
        "alert_id": f"{CAMPAIGN}:budget_threshold:1",
        "kind": "budget_threshold",
        "severity": "warning",
        "source": CAMPAIGN,
        "job_id": None,
        "campaign_id": CAMPAIGN,
        "message": alert.message,
        "responsible": OWNER,
        "occurred_at": NOW,
    }


def test_summary_record_is_ready_for_the_actuals_topic() -> None:
    ledger = ledger_with_plan()
    book(ledger, posting("D1", "1234.5"), posting("D2", "100.00", posting_date=dt.date(2027, 1, 1)))
    assert summarize(ledger, NOW).to_record() == {
        "campaign_id": CAMPAIGN,
        "name": "SEA Q3",
        "currency": "EUR",
        "planned_amount": Decimal("10000.00"),
        "actual_amount": Decimal("1234.50"),
        "remaining_amount": Decimal("8765.50"),
        "utilization_pct": 12.35,
        "invoice_count": 1,
        "status": "ok",
        "by_month": {"2026-07": "1234.50"},
        "owner_email": OWNER,
        "out_of_period_count": 1,
        "updated_at": NOW,
    }


def test_summary_needs_a_plan_and_an_aware_timestamp() -> None:
    ledger = CampaignLedger(CAMPAIGN)
    book(ledger, posting("D1"))
    with pytest.raises(BudgetError, match="no plan"):
        summarize(ledger, NOW)
    apply_plan(ledger, plan())
    with pytest.raises(BudgetError, match="time zone"):
        summarize(ledger, dt.datetime(2026, 10, 1, 8, 0))


# Property tests: delivery order and duplication never change the books.

DAY = dt.timedelta(days=1)
FINAL_PLAN = plan()
EARLIER_PLAN = plan(currency="CHF", start_date=dt.date(2026, 8, 1), planned_amount=Decimal("50.00"))

base_documents = st.lists(
    st.tuples(
        st.sampled_from(["invoice", "credit_memo"]),
        st.decimals(min_value=-5000, max_value=20000, places=2),
        st.integers(min_value=-10, max_value=100),  # posting date: days after 2026-07-01
        st.sampled_from(["EUR", "EUR", "EUR", "CHF"]),
    ),
    min_size=1,
    max_size=8,
)


@st.composite
def bookkeeping_cases(draw: st.DrawFn) -> tuple[list[Posting], list[Plan | Posting], Decimal]:
    """Documents with reversals (some reversed again), a delivery order and the expected actual."""
    documents = [
        posting(
            f"D{n}",
            str(amount),
            document_type=kind,
            local_currency=currency,
            posting_date=dt.date(2026, 7, 1) + offset * DAY,
        )
        for n, (kind, amount, offset, currency) in enumerate(draw(base_documents))
    ]
    targets = draw(
        st.lists(st.sampled_from([*(d.document_id for d in documents), "ELSEWHERE"]), unique=True)
    )
    reversals = [reversal(f"R-{target}", target) for target in targets]
    re_reversed = draw(st.lists(st.sampled_from(reversals), unique=True)) if reversals else []
    reversals += [reversal(f"R-{r.document_id}", r.document_id) for r in re_reversed]
    standing = {r.reverses_document_id for r in reversals if r not in re_reversed}
    expected = sum(
        (d.local_amount if d.document_type == "invoice" else -abs(d.local_amount))
        for d in documents
        if d.document_id not in standing
        and d.local_currency == "EUR"
        and FINAL_PLAN.start_date <= d.posting_date <= FINAL_PLAN.end_date
    )
    everything = [*documents, *reversals]
    redelivered = draw(st.lists(st.sampled_from(everything), max_size=4))
    order: list[Plan | Posting] = draw(st.permutations([*everything, *redelivered, FINAL_PLAN]))
    earlier_at = draw(st.integers(min_value=0, max_value=order.index(FINAL_PLAN)))
    order.insert(earlier_at, EARLIER_PLAN)
    return everything, order, Decimal(expected)


def deliver(ledger: CampaignLedger, item: Plan | Posting) -> list[BudgetOutcome]:
    return apply_plan(ledger, item) if isinstance(item, Plan) else apply_posting(ledger, item)


@settings(max_examples=150, deadline=None)
@given(bookkeeping_cases())
def test_actual_is_the_sum_of_surviving_in_period_documents_whatever_the_delivery(
    case: tuple[list[Posting], list[Plan | Posting], Decimal],
) -> None:
    everything, order, expected = case
    ledger = CampaignLedger(CAMPAIGN)
    alert_ids: list[str] = []
    for item in order:
        alert_ids += [alert.alert_id for alert in alerts(deliver(ledger, item))]
        stored = json.loads(json.dumps(ledger.to_dict()))
        assert CampaignLedger.from_dict(stored) == ledger
        ledger = CampaignLedger.from_dict(stored)

    summary = summarize(ledger, NOW)
    assert summary.actual_amount == expected
    assert sum(summary.by_month.values(), Decimal(0)) == expected
    assert len(alert_ids) == len(set(alert_ids))

    in_canonical_order = CampaignLedger(CAMPAIGN)
    canonical: list[Plan | Posting] = [FINAL_PLAN, *everything]
    for item in canonical:
        deliver(in_canonical_order, item)
    assert summarize(in_canonical_order, NOW) == summary
