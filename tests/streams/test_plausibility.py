from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from streams.errors import InvalidRecordError
from streams.plausibility import check_record

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def order_event(quantity: int = 1, unit_price: str = "129.90") -> dict[str, Any]:
    return {
        "event_id": "e-1",
        "occurred_at": datetime(2026, 11, 20, tzinfo=UTC),
        "product": None,
        "order": {
            "order_id": "o-1",
            "items": [
                {
                    "sku": "RS-100",
                    "name": "Laufschuh",
                    "category": "running_shoes",
                    "quantity": quantity,
                    "unit_price": Decimal(unit_price),
                }
            ],
            "total": Decimal("129.90"),
            "currency": "EUR",
        },
    }


def plan(**changes: Any) -> dict[str, Any]:
    return {
        "planned_amount": Decimal("10000.00"),
        "alert_threshold_pct": 80,
        "start_date": date(2026, 7, 1),
        "end_date": date(2026, 9, 30),
        **changes,
    }


def test_a_normal_order_passes() -> None:
    check_record("shop.events", order_event(), NOW)


@pytest.mark.parametrize("quantity", [0, -3])
def test_an_order_of_no_or_negative_shoes_is_rejected(quantity: int) -> None:
    with pytest.raises(InvalidRecordError, match=r"order.items\[0\].quantity must be positive"):
        check_record("shop.events", order_event(quantity=quantity), NOW)


def test_a_negative_price_is_rejected_with_its_path() -> None:
    with pytest.raises(InvalidRecordError, match=r"order.items\[0\].unit_price"):
        check_record("shop.events", order_event(unit_price="-1.00"), NOW)


@pytest.mark.parametrize(
    "moment", [datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)]
)
def test_absurd_event_times_are_rejected(moment: datetime) -> None:
    event = {**order_event(), "occurred_at": moment}
    with pytest.raises(InvalidRecordError, match="occurred_at"):
        check_record("shop.events", event, NOW)


def test_an_invoice_posted_in_the_far_future_is_rejected() -> None:
    invoice = {
        "posting_date": date(2099, 1, 1),
        "amount": Decimal("1"),
        "local_amount": Decimal("1"),
    }
    with pytest.raises(InvalidRecordError, match="posting_date 2099-01-01"):
        check_record("erp.invoices", invoice, NOW)


def test_an_invoice_whose_amounts_disagree_in_sign_is_rejected() -> None:
    invoice = {
        "posting_date": date(2026, 8, 1),
        "amount": Decimal("100.00"),
        "local_amount": Decimal("-100.00"),
    }
    with pytest.raises(InvalidRecordError, match="different signs"):
        check_record("erp.invoices", invoice, NOW)


def test_a_credit_memo_with_negative_amounts_passes() -> None:
    credit = {
        "posting_date": date(2026, 8, 1),
        "amount": Decimal("-100.00"),
        "local_amount": Decimal("-108.00"),
    }
    check_record("erp.invoices", credit, NOW)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"planned_amount": Decimal("-1.00")}, "planned_amount must not be negative"),
        ({"alert_threshold_pct": 0}, "alert_threshold_pct"),
        ({"alert_threshold_pct": 250}, "alert_threshold_pct"),
        ({"end_date": date(2026, 6, 1)}, "reversed"),
        ({"end_date": date(2036, 1, 1)}, "longer than three years"),
    ],
)
def test_implausible_plans_are_rejected(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidRecordError, match=reason):
        check_record("marketing.budget.plans", plan(**changes), NOW)


def test_topics_without_extra_rules_only_check_times() -> None:
    check_record("social.posts", {"posted_at": datetime(2026, 11, 1, tzinfo=UTC)}, NOW)
