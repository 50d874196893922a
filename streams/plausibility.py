"""Rules a source record must keep that its Avro schema cannot express.

A schema says a quantity is an int and a posting date is a date; it cannot say that a
quantity of -3 shoes or an invoice dated in the year 9999 is a mistake of the sender. Such
records are dead-lettered with the broken rule as the reason instead of corrupting profiles,
order totals or budgets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from streams.errors import InvalidRecordError

MAX_VALUE_BYTES = 512 * 1024
"""Larger values are not events but accidents (a file pasted into a field)."""

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No source system of ours has events older than this."""

FUTURE_TOLERANCE = timedelta(days=1)
"""Clock skew we accept between a source system and us."""

MAX_PLAN_DAYS = 3 * 366
"""A campaign plan longer than three years is a typo in a date."""


def _moments(record: Mapping[str, Any]) -> Iterator[tuple[str, datetime]]:
    for name in ("occurred_at", "posted_at", "requested_at"):
        value = record.get(name)
        if isinstance(value, datetime):
            yield name, value
    posting_date = record.get("posting_date")
    if isinstance(posting_date, date):
        yield "posting_date", datetime.combine(posting_date, datetime.min.time(), tzinfo=UTC)


def check_times(record: Mapping[str, Any], now: datetime) -> None:
    """Reject event times and posting dates before 2000 or more than a day in the future.

    Plan periods are exempt: a campaign may well be planned for next year.
    """
    latest = now + FUTURE_TOLERANCE
    for name, moment in _moments(record):
        if not EARLIEST <= moment <= latest:
            msg = f"{name} {moment.date().isoformat()} is outside 2000-01-01 .. {latest.date()}"
            raise InvalidRecordError(msg)


def _not_negative(path: str, value: Decimal | int | None) -> None:
    if value is not None and value < 0:
        msg = f"{path} must not be negative, got {value}"
        raise InvalidRecordError(msg)


def check_shop_event(record: Mapping[str, Any]) -> None:
    """Orders have at least one item, positive quantities and no negative prices."""
    product = record.get("product")
    if product is not None:
        _not_negative("product.price", product["price"])
    order = record.get("order")
    if order is None:
        return
    if not order["items"]:
        msg = "order.items must not be empty"
        raise InvalidRecordError(msg)
    for index, item in enumerate(order["items"]):
        if item["quantity"] <= 0:
            msg = f"order.items[{index}].quantity must be positive, got {item['quantity']}"
            raise InvalidRecordError(msg)
        _not_negative(f"order.items[{index}].unit_price", item["unit_price"])
    _not_negative("order.total", order["total"])


def check_budget_plan(record: Mapping[str, Any]) -> None:
    """A plan has a non-negative amount, a threshold in percent and a sane period."""
    _not_negative("planned_amount", record["planned_amount"])
    if not 1 <= record["alert_threshold_pct"] <= 100:
        msg = f"alert_threshold_pct must be 1..100, got {record['alert_threshold_pct']}"
        raise InvalidRecordError(msg)
    start, end = record["start_date"], record["end_date"]
    if end < start or (end - start).days > MAX_PLAN_DAYS:
        msg = f"plan period {start} .. {end} is reversed or longer than three years"
        raise InvalidRecordError(msg)


def check_invoice(record: Mapping[str, Any]) -> None:
    """Amount and local amount of a posting agree in sign (a currency conversion keeps it)."""
    amount, local = record["amount"], record["local_amount"]
    if (amount < 0) != (local < 0) and amount != 0 and local != 0:
        msg = f"amount {amount} and local_amount {local} have different signs"
        raise InvalidRecordError(msg)


TOPIC_CHECKS: Mapping[str, Callable[[Mapping[str, Any]], None]] = {
    "shop.events": check_shop_event,
    "marketing.budget.plans": check_budget_plan,
    "erp.invoices": check_invoice,
}


def check_record(topic: str, record: Mapping[str, Any], now: datetime) -> None:
    """Raise :class:`InvalidRecordError` naming the broken rule, or return quietly."""
    check_times(record, now)
    topic_check = TOPIC_CHECKS.get(topic)
    if topic_check is not None:
        topic_check(record)
