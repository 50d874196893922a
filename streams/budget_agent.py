"""The budget domain in the running worker: plans and postings re-keyed by campaign, then booked.

Faust tables live on the partition of the stream that writes them, so the intake's handlers
forward each record to an internal topic keyed by campaign (by company code when it names
none); one agent there keeps the ledgers and publishes actuals, alerts and dead letters.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

import faust
import structlog

from schemas.codec import Codec
from schemas.errors import SchemaError
from streams.budget import (
    BudgetSummary,
    CampaignLedger,
    UnassignedLedger,
    apply_plan,
    apply_posting,
    apply_unassigned,
    summarize,
)
from streams.budget_api import register_budget_views
from streams.budget_records import (
    AlertRaised,
    BudgetError,
    BudgetOutcome,
    Duplicate,
    Plan,
    Posting,
    PostingRejectedError,
    Rejected,
)
from streams.context import WorkerContext
from streams.errors import InvalidRecordError
from streams.forwarded import ForwardedEvent, internal_topic, key_partition
from streams.in_order_producer import acknowledged
from streams.intake import SourceRecord
from streams.metrics import WorkerMetrics

log = structlog.get_logger(__name__)

PLANS = "marketing.budget.plans"
POSTINGS = "erp.invoices"
ACTUALS = "marketing.budget.actuals"
ALERTS = "alerts"
EVENTS_TOPIC = "journeyhub-budget-events"
"""Internal topic: plans and postings keyed by campaign id (company code if unassigned)."""
LEDGERS_TABLE = "budget-ledgers"
UNASSIGNED_TABLE = "budget-unassigned"


def read_booking(topic: str, value: Mapping[str, Any]) -> Plan | Posting:
    """Validate a decoded plan or posting record.

    Raises:
        BudgetError: A field is missing or malformed; the message names it.
    """
    return Plan.from_record(value) if topic == PLANS else Posting.from_record(value)


def ledger_key(booking: Plan | Posting) -> str:
    """Return the table key a booking belongs to: its campaign, else its company code."""
    if isinstance(booking, Posting) and booking.campaign_id is None:
        return booking.company_code
    return str(booking.campaign_id)


@dataclass
class CampaignBook:
    """A campaign's ledger, each document as it entered and when its actuals last changed.

    A document is kept as it entered so that a posting rejected later, when its plan comes
    (:class:`streams.budget.Rejected`), can still be dead-lettered unchanged.
    """

    ledger: CampaignLedger
    origins: dict[str, ForwardedEvent] = field(default_factory=dict)
    updated_at: dt.datetime | None = None

    def summary(self) -> BudgetSummary | None:
        """Return the campaign's budget position, or None while it has no plan."""
        if self.ledger.plan is None or self.updated_at is None:
            return None
        return summarize(self.ledger, self.updated_at)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-able values for a table; ``from_dict`` reads them back unchanged."""
        return {
            "ledger": self.ledger.to_dict(),
            "origins": {doc_id: origin.to_dict() for doc_id, origin in self.origins.items()},
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CampaignBook:
        """Rebuild a book from ``to_dict()`` output."""
        updated_at = data["updated_at"]
        return cls(
            ledger=CampaignLedger.from_dict(data["ledger"]),
            origins={
                doc_id: ForwardedEvent.from_dict(item) for doc_id, item in data["origins"].items()
            },
            updated_at=None if updated_at is None else dt.datetime.fromisoformat(updated_at),
        )


def actuals_changed(before: BudgetSummary | None, after: BudgetSummary | None) -> bool:
    """Tell whether a booking changed what ``marketing.budget.actuals`` shows, time aside."""
    if before is None or after is None:
        return after is not None
    return dataclasses.replace(before, updated_at=after.updated_at) != after


class BudgetAgent:
    """The budget tables, the agent that books into them and what it publishes."""

    def __init__(self, context: WorkerContext) -> None:
        """Declare the internal topic, the tables and the agent on the context's app."""
        self._app = app = context.app
        self._codec: Codec = context.codec
        self._metrics: WorkerMetrics = context.metrics
        self._partitions: int = app.conf.topic_partitions
        self._events = internal_topic(app, EVENTS_TOPIC)
        self.ledgers = app.Table(
            LEDGERS_TABLE, key_type=str, partitions=self._partitions, on_recover=self._export_all
        )
        self.unassigned = app.Table(UNASSIGNED_TABLE, key_type=str, partitions=self._partitions)
        self._outputs: dict[str, faust.TopicT] = {}

        @app.agent(self._events, name="budget")
        async def budget(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
            async for event in stream.events():
                with self._metrics.processing_seconds.labels(agent="budget").time():
                    await self._book(event)
                yield None

    async def forward(self, record: SourceRecord) -> None:
        """Intake handler: validate a plan or posting and re-key it by campaign.

        Raises:
            InvalidRecordError: The record cannot be booked; the intake dead-letters it.
        """
        try:
            booking = read_booking(record.topic, record.value)
        except BudgetError as error:
            raise InvalidRecordError(str(error)) from error
        await ForwardedEvent.from_record(record).send(self._events, ledger_key(booking))

    def summary(self, campaign_id: str) -> BudgetSummary | None:
        """Return a campaign's budget position from this worker's table, None if unknown."""
        stored = self.ledgers.get(campaign_id)
        return None if stored is None else CampaignBook.from_dict(stored).summary()

    def local_summaries(self) -> list[BudgetSummary]:
        """Return the budget position of every planned campaign this worker owns."""
        books = (CampaignBook.from_dict(stored) for _, stored in self._owned(self.ledgers))
        return [summary for book in books if (summary := book.summary()) is not None]

    async def _book(self, event: faust.EventT) -> None:
        origin = ForwardedEvent.read(event)
        if origin is None:
            return
        try:
            booking = read_booking(origin.topic, origin.decode(self._codec))
        except (SchemaError, BudgetError) as error:
            await origin.dead_letter(self._app, self._metrics, error)
            return
        if isinstance(booking, Posting) and booking.campaign_id is None:
            self._book_unassigned(booking)
        else:
            await self._book_campaign(booking, origin)

    async def _book_campaign(self, booking: Plan | Posting, origin: ForwardedEvent) -> None:
        campaign_id = ledger_key(booking)
        stored = self.ledgers.get(campaign_id)
        if stored is None:
            book = CampaignBook(CampaignLedger(campaign_id))
            self._metrics.table_entries.labels(table=LEDGERS_TABLE).inc()
        else:
            book = CampaignBook.from_dict(stored)
        before = book.summary()
        if isinstance(booking, Plan):
            outcomes = apply_plan(book.ledger, booking)
        else:
            book.origins.setdefault(booking.document_id, origin.with_headers({}))
            outcomes = apply_posting(book.ledger, booking)
        self._count(campaign_id, outcomes)
        if outcomes and isinstance(outcomes[0], Duplicate):
            return
        now = dt.datetime.now(dt.UTC)
        after = None if book.ledger.plan is None else summarize(book.ledger, now)
        pending = [await self._publish(outcome, book, now) for outcome in outcomes]
        if after is not None and actuals_changed(before, after):
            book.updated_at = now
            value = self._codec.encode(ACTUALS, after.to_record())
            pending.append(await self._send(ACTUALS, campaign_id, value))
            self._export(before, after)
        await acknowledged(self._app, (future for future in pending if future is not None))
        self.ledgers[campaign_id] = book.to_dict()

    async def _publish(
        self, outcome: BudgetOutcome, book: CampaignBook, now: dt.datetime
    ) -> Awaitable[Any] | None:
        """Send what an outcome asks for: an alert, or a dead letter for a rejected posting."""
        if isinstance(outcome, AlertRaised):
            log.info("budget_alert", campaign_id=outcome.campaign_id, alert_id=outcome.alert_id)
            value = self._codec.encode(ALERTS, outcome.to_record(now))
            return await self._send(ALERTS, outcome.alert_id, value)
        if isinstance(outcome, Rejected):
            error = PostingRejectedError(outcome.reason)
            return await book.origins[outcome.document_id].dead_letter(
                self._app, self._metrics, error
            )
        return None

    def _book_unassigned(self, posting: Posting) -> None:
        code = posting.company_code
        stored = self.unassigned.get(code)
        ledger = UnassignedLedger(code) if stored is None else UnassignedLedger.from_dict(stored)
        outcomes = apply_unassigned(ledger, posting)
        self._count(None, outcomes)
        if isinstance(outcomes[0], Duplicate):
            return
        if stored is None:
            self._metrics.table_entries.labels(table=UNASSIGNED_TABLE).inc()
        self.unassigned[code] = ledger.to_dict()
        self._export_unassigned(ledger)

    def _count(self, campaign_id: str | None, outcomes: list[BudgetOutcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, AlertRaised):
                continue
            self._metrics.budget_postings.labels(outcome=outcome.outcome).inc()
            if isinstance(outcome, Duplicate):
                self._metrics.duplicates.labels(topic=POSTINGS).inc()
            log.info(
                "budget_posting",
                campaign_id=campaign_id,
                document_id=outcome.document_id,
                outcome=outcome.outcome,
            )

    async def _send(self, topic: str, key: str | None, value: bytes) -> Awaitable[Any]:
        """Send a record; return the future that resolves once the broker stored it."""
        channel = self._outputs.get(topic)
        if channel is None:
            channel = self._app.topic(topic, key_serializer="raw", value_serializer="raw")
            self._outputs[topic] = channel
        future = await channel.send(key=key, value=value)
        self._metrics.events_out.labels(topic=topic).inc()
        return future

    def _export(self, before: BudgetSummary | None, after: BudgetSummary) -> None:
        metrics = self._metrics
        values = {
            metrics.budget_planned: after.planned_amount,
            metrics.budget_actual: after.actual_amount,
            metrics.budget_remaining: after.remaining_amount,
            metrics.budget_utilization: after.utilization_pct / 100,
        }
        for gauge, value in values.items():
            if before is not None and before.currency != after.currency:
                with contextlib.suppress(KeyError):  # already cleared by a rebalance
                    gauge.remove(before.campaign_id, before.currency)
            gauge.labels(campaign_id=after.campaign_id, currency=after.currency).set(float(value))

    def _export_unassigned(self, ledger: UnassignedLedger) -> None:
        for currency, amount in ledger.totals().items():
            labels = {"company_code": ledger.company_code, "currency": currency}
            self._metrics.budget_unassigned.labels(**labels).set(float(amount))

    async def _export_all(self) -> None:
        """After recovery: show the gauges of exactly the campaigns this worker now owns."""
        metrics = self._metrics
        for gauge in (
            metrics.budget_planned,
            metrics.budget_actual,
            metrics.budget_remaining,
            metrics.budget_utilization,
            metrics.budget_unassigned,
        ):
            gauge.clear()
        for summary in self.local_summaries():
            self._export(None, summary)
        unassigned = self._owned(self.unassigned)
        for _, stored in unassigned:
            self._export_unassigned(UnassignedLedger.from_dict(stored))
        metrics.table_entries.labels(table=LEDGERS_TABLE).set(len(self._owned(self.ledgers)))
        metrics.table_entries.labels(table=UNASSIGNED_TABLE).set(len(unassigned))

    def _owned(self, table: faust.types.TableT) -> list[tuple[str, Any]]:
        """Entries of partitions this worker owns; a memory table keeps revoked ones too."""
        owned = {
            tp.partition for tp in self._app.assignor.assigned_actives() if tp.topic == EVENTS_TOPIC
        }
        return [
            (key, stored)
            for key, stored in table.items()
            if key_partition(key, self._partitions) in owned
        ]


def register(context: WorkerContext) -> None:
    """Add the budget domain to the worker: handlers, internal topic, tables, agent, views."""
    agent = BudgetAgent(context)
    context.handlers[PLANS] = agent.forward
    context.handlers[POSTINGS] = agent.forward
    register_budget_views(context, agent)
