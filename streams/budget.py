"""Marketing-budget bookkeeping: ERP postings booked as actual costs beside campaign plans.

Pure logic without Kafka: the budget agent feeds plans and postings in, keeps each ledger as
a JSON-able dict in a table, and publishes the summaries and alerts computed here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from streams.budget_records import (
    AlertKind,
    AlertRaised,
    BudgetError,
    BudgetOutcome,
    Cancelled,
    Counted,
    DocumentType,
    DocumentVerdict,
    Duplicate,
    OutOfPeriod,
    Pending,
    Plan,
    Posting,
    Rejected,
    Unassigned,
    to_json,
)

CENT = Decimal("0.01")


class BudgetStatus(StrEnum):
    """How far a campaign has used its budget."""

    OK = "ok"
    WARNING = "warning"
    EXCEEDED = "exceeded"


_SEVERITY = {AlertKind.BUDGET_THRESHOLD: "warning", AlertKind.BUDGET_EXCEEDED: "critical"}


@dataclass
class CampaignLedger:
    """Everything booked for one campaign: its plan, every document received, alert state.

    The documents are the ledger: actuals are always computed from them, so a new plan
    version (other dates or currency) recomputes everything. ``alert_episodes`` counts how
    often each alert was raised, so a crash replaying a posting yields the same alert id.
    """

    campaign_id: str
    plan: Plan | None = None
    documents: dict[str, Posting] = field(default_factory=dict)
    alert_episodes: dict[AlertKind, int] = field(default_factory=dict)
    active_alerts: set[AlertKind] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-able values for a table; ``from_dict`` reads them back unchanged."""
        return dict(to_json(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CampaignLedger:
        """Rebuild a ledger from ``to_dict()`` output."""
        return cls(
            campaign_id=data["campaign_id"],
            plan=None if data["plan"] is None else Plan.from_record(data["plan"]),
            documents=_documents_from(data["documents"]),
            alert_episodes={AlertKind(k): int(n) for k, n in data["alert_episodes"].items()},
            active_alerts={AlertKind(kind) for kind in data["active_alerts"]},
        )


@dataclass
class UnassignedLedger:
    """Postings of one company code that name no campaign, kept until controlling assigns them."""

    company_code: str
    documents: dict[str, Posting] = field(default_factory=dict)

    def totals(self) -> dict[str, Decimal]:
        """Return the unassigned amount per local currency, credit memos and reversals applied."""
        cancelled = _cancellations(self.documents)
        totals: dict[str, Decimal] = {}
        for doc_id, document in self.documents.items():
            if doc_id not in cancelled:
                currency = document.local_currency
                totals[currency] = totals.get(currency, Decimal(0)) + document.effect
        return totals

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-able values for a table; ``from_dict`` reads them back unchanged."""
        return dict(to_json(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnassignedLedger:
        """Rebuild a ledger from ``to_dict()`` output."""
        return cls(data["company_code"], _documents_from(data["documents"]))


def _documents_from(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Posting]:
    return {doc_id: Posting.from_record(record) for doc_id, record in records.items()}


def apply_posting(ledger: CampaignLedger, posting: Posting) -> list[BudgetOutcome]:
    """Book a posting in the ledger of its campaign.

    Returns:
        The verdict on the posting first, then the new verdict of every other document it
        changed (a reversal cancels, a reversed reversal reinstates), then new alerts.
        A document id seen before yields only ``Duplicate``.

    Raises:
        BudgetError: the posting names another campaign or none (see ``apply_unassigned``).
    """
    if posting.campaign_id != ledger.campaign_id:
        msg = (
            f"erp.invoices document {posting.document_id} names campaign {posting.campaign_id}, "
            f"not {ledger.campaign_id}: book it in its own campaign's ledger"
        )
        raise BudgetError(msg)
    if posting.document_id in ledger.documents:
        return [Duplicate(posting.document_id)]
    before = _verdicts(ledger)
    ledger.documents[posting.document_id] = posting
    return _rebook(ledger, before, first=posting.document_id)


def apply_plan(ledger: CampaignLedger, plan: Plan) -> list[BudgetOutcome]:
    """Install a plan version and recompute the campaign from its documents.

    Returns:
        The new verdict of every document it changed (pending ones are decided now: counted,
        rejected for their currency, or out of period), then new alerts.

    Raises:
        BudgetError: the plan belongs to another campaign.
    """
    if plan.campaign_id != ledger.campaign_id:
        msg = f"plan of campaign {plan.campaign_id} given to the ledger of {ledger.campaign_id}"
        raise BudgetError(msg)
    before = _verdicts(ledger)
    ledger.plan = plan
    return _rebook(ledger, before, first=None)


def apply_unassigned(ledger: UnassignedLedger, posting: Posting) -> list[BudgetOutcome]:
    """Keep a posting that names no campaign in its company code's ledger.

    Returns:
        ``Unassigned`` for a new document, ``Duplicate`` for one seen before.

    Raises:
        BudgetError: the posting names a campaign or belongs to another company code.
    """
    if posting.campaign_id is not None or posting.company_code != ledger.company_code:
        msg = (
            f"erp.invoices document {posting.document_id} (campaign {posting.campaign_id}, "
            f"company code {posting.company_code}) is no unassigned posting of company code "
            f"{ledger.company_code}"
        )
        raise BudgetError(msg)
    if posting.document_id in ledger.documents:
        return [Duplicate(posting.document_id)]
    ledger.documents[posting.document_id] = posting
    return [Unassigned(posting.document_id, posting.company_code)]


def _rebook(
    ledger: CampaignLedger, before: Mapping[str, DocumentVerdict], first: str | None
) -> list[BudgetOutcome]:
    after = _verdicts(ledger)
    changed = [verdict for doc_id, verdict in after.items() if before.get(doc_id) != verdict]
    changed.sort(key=lambda verdict: verdict.document_id != first)
    return [*changed, *_raise_alerts(ledger, after)]


def _cancellations(documents: Mapping[str, Posting]) -> dict[str, str]:
    """Map every cancelled document id to the reversal that cancels it.

    A reversal stands unless it is reversed itself, so reversing a reversal reinstates the
    original document, whatever the order of arrival; reversals that reverse each other in a
    cycle cancel one another. A reversal acts within its own ledger only: naming a document
    booked to another campaign changes nothing there.
    """
    reversed_by: dict[str, list[str]] = {}
    for document in documents.values():
        if document.reverses_document_id is not None:
            reversed_by.setdefault(document.reverses_document_id, []).append(document.document_id)

    def standing_reversal(doc_id: str, path: frozenset[str]) -> str | None:
        for reversal_id in sorted(reversed_by.get(doc_id, ())):
            if (
                reversal_id not in path
                and standing_reversal(reversal_id, path | {reversal_id}) is None
            ):
                return reversal_id
        return None

    cancelled = {doc_id: standing_reversal(doc_id, frozenset({doc_id})) for doc_id in reversed_by}
    return {doc_id: reversal for doc_id, reversal in cancelled.items() if reversal is not None}


def _verdicts(ledger: CampaignLedger) -> dict[str, DocumentVerdict]:
    cancelled = _cancellations(ledger.documents)
    plan = ledger.plan
    verdicts: dict[str, DocumentVerdict] = {}
    for doc_id, document in ledger.documents.items():
        if doc_id in cancelled:
            verdicts[doc_id] = Cancelled(doc_id, cancelled[doc_id])
        elif plan is None:
            verdicts[doc_id] = Pending(doc_id)
        elif document.document_type is DocumentType.REVERSAL:
            verdicts[doc_id] = Counted(doc_id)
        elif document.local_currency != plan.currency:
            reason = (
                f"local currency {document.local_currency} of document {doc_id} differs from "
                f"currency {plan.currency} of the plan of campaign {plan.campaign_id}: correct "
                "the posting's campaign or the plan's currency"
            )
            verdicts[doc_id] = Rejected(doc_id, reason)
        elif not plan.start_date <= document.posting_date <= plan.end_date:
            verdicts[doc_id] = OutOfPeriod(doc_id, document.posting_date)
        else:
            verdicts[doc_id] = Counted(doc_id)
    return verdicts


def _counted(ledger: CampaignLedger, verdicts: Mapping[str, DocumentVerdict]) -> list[Posting]:
    """Return the invoices and credit memos that count towards the actual."""
    return [
        document
        for doc_id, document in ledger.documents.items()
        if isinstance(verdicts[doc_id], Counted)
        and document.document_type is not DocumentType.REVERSAL
    ]


def _status(plan: Plan, actual: Decimal) -> BudgetStatus:
    if actual > plan.planned_amount:
        return BudgetStatus.EXCEEDED
    if actual > 0 and _utilization(plan, actual) >= plan.alert_threshold_pct:
        return BudgetStatus.WARNING
    return BudgetStatus.OK


def _utilization(plan: Plan, actual: Decimal) -> Decimal:
    if plan.planned_amount == 0:
        return Decimal("0.00")
    return (actual * 100 / plan.planned_amount).quantize(CENT, ROUND_HALF_UP)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def _raise_alerts(
    ledger: CampaignLedger, verdicts: Mapping[str, DocumentVerdict]
) -> list[AlertRaised]:
    """Raise each alert once when its level is reached; re-arm it when the actual falls below."""
    plan = ledger.plan
    if plan is None:
        return []
    actual = sum((document.effect for document in _counted(ledger, verdicts)), Decimal(0))
    status = _status(plan, actual)
    spent = f"{_cents(actual)} of {_cents(plan.planned_amount)} {plan.currency} spent"
    levels = {
        AlertKind.BUDGET_THRESHOLD: (
            status is not BudgetStatus.OK,
            f"reached {_utilization(plan, actual)} % of its budget "
            f"(alert threshold {plan.alert_threshold_pct} %): {spent}",
        ),
        AlertKind.BUDGET_EXCEEDED: (
            status is BudgetStatus.EXCEEDED,
            f"exceeded its budget: {spent}",
        ),
    }
    alerts = []
    for kind, (reached, message) in levels.items():
        if not reached:
            ledger.active_alerts.discard(kind)
        elif kind not in ledger.active_alerts:
            ledger.active_alerts.add(kind)
            episode = ledger.alert_episodes[kind] = ledger.alert_episodes.get(kind, 0) + 1
            alerts.append(
                AlertRaised(
                    alert_id=f"{ledger.campaign_id}:{kind}:{episode}",
                    kind=kind,
                    severity=_SEVERITY[kind],
                    campaign_id=ledger.campaign_id,
                    message=f"Campaign {ledger.campaign_id} ({plan.name}) {message}.",
                    responsible=plan.owner_email,
                )
            )
    return alerts


@dataclass(frozen=True)
class BudgetSummary:
    """A campaign's budget position beside its plan.

    ``utilization_pct`` is rounded half-up to 2 places, and ``warning`` starts where it
    reaches the plan's alert threshold; ``exceeded`` means the actual is above the planned
    amount by a cent or more. A planned amount of 0 shows 0 %; any cost then is ``exceeded``.
    """

    campaign_id: str
    name: str
    currency: str
    owner_email: str
    planned_amount: Decimal
    actual_amount: Decimal
    remaining_amount: Decimal
    utilization_pct: Decimal
    invoice_count: int
    status: BudgetStatus
    by_month: Mapping[str, Decimal]
    out_of_period_document_ids: tuple[str, ...]
    updated_at: dt.datetime

    def to_record(self) -> dict[str, Any]:
        """Return the Avro-ready value for topic ``marketing.budget.actuals``."""
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "currency": self.currency,
            "planned_amount": self.planned_amount,
            "actual_amount": self.actual_amount,
            "remaining_amount": self.remaining_amount,
            "utilization_pct": float(self.utilization_pct),
            "invoice_count": self.invoice_count,
            "status": self.status.value,
            "by_month": to_json(self.by_month),
            "owner_email": self.owner_email,
            "out_of_period_count": len(self.out_of_period_document_ids),
            "updated_at": self.updated_at,
        }

    def to_api(self) -> dict[str, Any]:
        """Return the JSON body of ``GET /budgets/{campaign_id}``: money as decimal strings."""
        body = {name: value for name, value in to_json(self).items() if name != "owner_email"}
        return {
            **body,
            "utilization_pct": float(self.utilization_pct),
            "out_of_period_count": len(self.out_of_period_document_ids),
        }


def summarize(ledger: CampaignLedger, updated_at: dt.datetime) -> BudgetSummary:
    """Compute a campaign's budget position from its plan and documents.

    Only documents in the plan's currency and period count; ``invoice_count`` counts the
    invoices and credit memos that do; ``by_month`` sums them by month of posting date.

    Raises:
        BudgetError: the campaign has no plan yet, or ``updated_at`` has no time zone.
    """
    plan = ledger.plan
    if plan is None:
        msg = f"campaign {ledger.campaign_id} has no plan yet: there is nothing to compare with"
        raise BudgetError(msg)
    if updated_at.tzinfo is None:
        msg = "updated_at must carry a time zone"
        raise BudgetError(msg)
    verdicts = _verdicts(ledger)
    counted = _counted(ledger, verdicts)
    actual = sum((document.effect for document in counted), Decimal(0))
    by_month: dict[str, Decimal] = {}
    for document in counted:
        month = f"{document.posting_date:%Y-%m}"
        by_month[month] = by_month.get(month, Decimal(0)) + document.effect
    return BudgetSummary(
        campaign_id=plan.campaign_id,
        name=plan.name,
        currency=plan.currency,
        owner_email=plan.owner_email,
        planned_amount=_cents(plan.planned_amount),
        actual_amount=_cents(actual),
        remaining_amount=_cents(plan.planned_amount - actual),
        utilization_pct=_utilization(plan, actual),
        invoice_count=len(counted),
        status=_status(plan, actual),
        by_month={month: _cents(amount) for month, amount in sorted(by_month.items())},
        out_of_period_document_ids=tuple(
            sorted(
                doc_id for doc_id, verdict in verdicts.items() if isinstance(verdict, OutOfPeriod)
            )
        ),
        updated_at=updated_at,
    )
