"""The values of the budget books: plans and postings coming in, verdicts and alerts going out.

Decoded records of ``erp.invoices`` and ``marketing.budget.plans`` become typed, immutable
values here, refused with a message naming the field when they cannot be booked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum, StrEnum
from typing import Any, ClassVar, NoReturn

from streams.errors import JourneyhubError


class BudgetError(JourneyhubError):
    """A plan or posting cannot be booked; the message names the record and the field to fix."""


class PostingRejectedError(BudgetError):
    """A posting cannot count against its campaign's plan; it goes to ``dlq.erp.invoices``."""


class DocumentType(StrEnum):
    """The kinds of ERP incoming-invoice postings."""

    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    REVERSAL = "reversal"


@dataclass(frozen=True)
class _Fields:
    """Typed reading of one decoded record; errors name the record, the field and the value."""

    record: Mapping[str, Any]
    where: str

    def reject(self, name: str, expected: str) -> NoReturn:
        msg = f"{self.where}: {name!r} must be {expected}, got {self.record.get(name)!r}"
        raise BudgetError(msg)

    def optional_text(self, name: str) -> str | None:
        value = self.record.get(name)
        if value is not None and not isinstance(value, str):
            self.reject(name, "a string")
        return (value or "").strip() or None

    def text(self, name: str) -> str:
        value = self.optional_text(name)
        if value is None:
            self.reject(name, "a non-empty string")
        return value

    def money(self, name: str) -> Decimal:
        value = self.record.get(name)
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            self.reject(name, "a decimal amount (never a float)")
        try:
            exponent = Decimal(value).normalize().as_tuple().exponent
        except InvalidOperation:
            self.reject(name, "a decimal amount")
        if not isinstance(exponent, int) or exponent < -2:
            self.reject(name, "a finite amount with at most 2 decimal places")
        return Decimal(value)

    def date(self, name: str) -> dt.date:
        value = self.record.get(name)
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                self.reject(name, "a date (YYYY-MM-DD)")
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            self.reject(name, "a date")
        return value

    def currency(self, name: str) -> str:
        value = self.text(name).upper()
        if len(value) != 3 or not (value.isascii() and value.isalpha()):
            self.reject(name, "an ISO 4217 currency code such as EUR")
        return value


def to_json(value: Any) -> Any:
    """Turn dataclasses into dicts, decimals, dates and enums into strings, sets into lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: to_json(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, Mapping):
        return {to_json(key): to_json(item) for key, item in value.items()}
    if isinstance(value, set):
        return sorted(to_json(item) for item in value)
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | Enum):
        return str(value)
    return value


@dataclass(frozen=True)
class Plan:
    """One version of a campaign's budget plan (topic ``marketing.budget.plans``)."""

    campaign_id: str
    name: str
    channel: str
    owner_email: str
    start_date: dt.date
    end_date: dt.date
    planned_amount: Decimal
    currency: str
    alert_threshold_pct: int

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Plan:
        """Validate a decoded plan record (or a ``to_dict()`` result).

        Raises:
            BudgetError: a field is missing or out of range; the message names it.
        """
        campaign_id = _Fields(record, "marketing.budget.plans record").text("campaign_id")
        read = _Fields(record, f"plan of campaign {campaign_id}")
        start, end = read.date("start_date"), read.date("end_date")
        if end < start:
            read.reject("end_date", f"on or after start_date {start}")
        planned = read.money("planned_amount")
        if planned < 0:
            read.reject("planned_amount", "zero or more")
        threshold = record.get("alert_threshold_pct")
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int)
            or not 0 <= threshold <= 100
        ):
            read.reject("alert_threshold_pct", "a whole percentage from 0 to 100")
        return cls(
            campaign_id=campaign_id,
            name=read.text("name"),
            channel=read.text("channel"),
            owner_email=read.text("owner_email"),
            start_date=start,
            end_date=end,
            planned_amount=planned,
            currency=read.currency("currency"),
            alert_threshold_pct=threshold,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-able values that ``from_record`` reads back unchanged."""
        return dict(to_json(self))


@dataclass(frozen=True)
class Posting:
    """The bookkeeping part of one ERP incoming-invoice posting (topic ``erp.invoices``).

    The ERP may send a credit memo's amount positive or negative: a credit memo always lowers
    the actual by its absolute amount. A negative invoice is unusual but booked as sent. Only a
    reversal cancels, completely, whatever its own amount and date; a ``reverses_document_id``
    on an invoice or credit memo is ignored. Amounts are the company code's (``local_*``).
    """

    document_id: str
    document_type: DocumentType
    posting_date: dt.date
    company_code: str
    campaign_id: str | None
    local_amount: Decimal
    local_currency: str
    reverses_document_id: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Posting:
        """Validate a decoded ``erp.invoices`` record (or a ``to_dict()`` result).

        Raises:
            BudgetError: a field is missing or malformed, or a reversal names no document
                or itself.
        """
        document_id = _Fields(record, "erp.invoices record").text("document_id")
        read = _Fields(record, f"erp.invoices document {document_id}")
        if record.get("document_type") not in tuple(DocumentType):
            read.reject("document_type", "invoice, credit_memo or reversal")
        document_type = DocumentType(record["document_type"])
        reverses = None
        if document_type is DocumentType.REVERSAL:
            reverses = read.optional_text("reverses_document_id")
            if reverses is None or reverses == document_id:
                read.reject("reverses_document_id", "the id of the document it cancels")
        return cls(
            document_id=document_id,
            document_type=document_type,
            posting_date=read.date("posting_date"),
            company_code=read.text("company_code"),
            campaign_id=read.optional_text("campaign_id"),
            local_amount=read.money("local_amount"),
            local_currency=read.currency("local_currency"),
            reverses_document_id=reverses,
        )

    @property
    def effect(self) -> Decimal:
        """Return what this document adds to the actual when it counts."""
        if self.document_type is DocumentType.CREDIT_MEMO:
            return -abs(self.local_amount)
        if self.document_type is DocumentType.REVERSAL:
            return Decimal(0)
        return self.local_amount

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-able values that ``from_record`` reads back unchanged."""
        return dict(to_json(self))


class AlertKind(StrEnum):
    """The budget alerts on topic ``alerts``."""

    BUDGET_THRESHOLD = "budget_threshold"
    BUDGET_EXCEEDED = "budget_exceeded"


@dataclass(frozen=True)
class Counted:
    """The document takes effect: it counts towards the actual (a reversal: it cancels)."""

    outcome: ClassVar[str] = "counted"
    document_id: str


@dataclass(frozen=True)
class Pending:
    """The campaign has no plan yet: the document is kept and decided when the plan arrives."""

    outcome: ClassVar[str] = "pending"
    document_id: str


@dataclass(frozen=True)
class Rejected:
    """The document cannot count against the plan; the agent dead-letters it with ``reason``.

    It stays in the ledger and counts once a plan version in its currency arrives, so a replay
    from the dead-letter topic yields ``Duplicate``.
    """

    outcome: ClassVar[str] = "rejected"
    document_id: str
    reason: str


@dataclass(frozen=True)
class OutOfPeriod:
    """The posting date lies outside the plan's period: kept, listed, not counted."""

    outcome: ClassVar[str] = "out_of_period"
    document_id: str
    posting_date: dt.date


@dataclass(frozen=True)
class Cancelled:
    """A standing reversal cancels the document: it does not count."""

    outcome: ClassVar[str] = "cancelled"
    document_id: str
    reversal_id: str


@dataclass(frozen=True)
class Duplicate:
    """The document id was booked before: the redelivery changes nothing."""

    outcome: ClassVar[str] = "duplicate"
    document_id: str


@dataclass(frozen=True)
class Unassigned:
    """The posting names no campaign: it is kept in its company code's unassigned ledger."""

    outcome: ClassVar[str] = "unassigned"
    document_id: str
    company_code: str


@dataclass(frozen=True)
class AlertRaised:
    """A budget level was reached; the agent publishes ``to_record()`` on topic ``alerts``."""

    outcome: ClassVar[str] = "alert"
    alert_id: str
    kind: AlertKind
    severity: str
    campaign_id: str
    message: str
    responsible: str

    def to_record(self, occurred_at: dt.datetime) -> dict[str, Any]:
        """Return the Avro-ready value for topic ``alerts``."""
        return {
            **to_json(self),
            "source": self.campaign_id,
            "job_id": None,
            "occurred_at": occurred_at,
        }


DocumentVerdict = Counted | Pending | Rejected | OutOfPeriod | Cancelled
BudgetOutcome = DocumentVerdict | Duplicate | Unassigned | AlertRaised
