"""Poison input drill: every kind of bad record ends in ``dlq.<topic>`` with its reason.

A real worker reads random bytes, damaged Avro, records of the wrong topic, oversized
values, keys that are no UTF-8, absurd dates and negative quantities and amounts, and must
dead-letter each unchanged and then go on with the good records behind them.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from schemas.codec import make_codec
from schemas.deadletter import ERROR_CLASS, ERROR_MESSAGE, ORIGIN_OFFSET, ORIGIN_TOPIC
from streams.plausibility import MAX_VALUE_BYTES
from streams.settings import Settings
from streams.workload import build_workload
from tests.drills.drilltools import header, produce_raw, read_topic, worker, worker_url
from tests.workertools import http_get, wait_for

pytestmark = pytest.mark.slow

CODEC = make_codec(None)
SETTLE = 90.0


@dataclass(frozen=True)
class Poison:
    """One bad record and the error class it must be dead-lettered with."""

    name: str
    topic: str
    key: bytes
    value: bytes
    error_class: str


def _changed(record: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    changed = copy.deepcopy(record)
    change(changed)
    return changed


def _samples() -> dict[str, dict[str, Any]]:
    """One valid record per kind, taken from the generated workload."""
    events, _ = build_workload(20, seed=4)
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.value is None:
            continue
        kind = event.value.get("event_type") or event.value.get("document_type") or event.topic
        found.setdefault(f"{event.topic}:{kind}", event.value)
    return found


def poisons() -> list[Poison]:
    """Every kind of bad input the drill sends, each with a value of its own."""
    samples = _samples()
    order = samples["shop.events:order_placed"]
    cms = (
        samples["cms.events:download"]
        if "cms.events:download" in samples
        else next(v for k, v in samples.items() if k.startswith("cms.events:"))
    )
    invoice = samples["erp.invoices:invoice"]
    plan = samples["marketing.budget.plans:marketing.budget.plans"]
    rng = random.Random(7)
    encoded_order = CODEC.encode("shop.events", order)

    def items(change: Callable[[dict[str, Any]], None]) -> bytes:
        return CODEC.encode("shop.events", _changed(order, change))

    def first_item(name: str, value: object) -> Callable[[dict[str, Any]], None]:
        return lambda r: r["order"]["items"][0].__setitem__(name, value)

    oversized = _changed(cms, lambda r: r.__setitem__("title", "x" * (MAX_VALUE_BYTES + 1024)))
    return [
        Poison("random bytes", "shop.events", b"p-random", rng.randbytes(200), "DecodeError"),
        Poison("empty value", "cms.events", b"p-empty", b"", "DecodeError"),
        Poison("plain JSON", "erp.invoices", b"p-json", b'{"amount": 1}', "DecodeError"),
        Poison(
            "truncated Avro",
            "shop.events",
            b"p-truncated",
            encoded_order[: len(encoded_order) // 2],
            "DecodeError",
        ),
        Poison(
            "record of another topic",
            "shop.events",
            b"p-wrong-topic",
            CODEC.encode("cms.events", cms),
            "DecodeError",
        ),
        Poison(
            "oversized value",
            "cms.events",
            b"p-oversized",
            CODEC.encode("cms.events", oversized),
            "OversizedValueError",
        ),
        Poison(
            "key that is no UTF-8",
            "shop.events",
            b"\xff\xfe\xc3(",
            CODEC.encode(
                "shop.events", _changed(order, lambda r: r.__setitem__("event_id", "p-key"))
            ),
            "UnicodeDecodeError",
        ),
        Poison(
            "event time in 1970",
            "shop.events",
            b"p-1970",
            CODEC.encode(
                "shop.events",
                _changed(
                    order, lambda r: r.__setitem__("occurred_at", datetime(1970, 1, 1, tzinfo=UTC))
                ),
            ),
            "InvalidRecordError",
        ),
        Poison(
            "posting date in 9999",
            "erp.invoices",
            b"p-9999",
            CODEC.encode(
                "erp.invoices",
                _changed(invoice, lambda r: r.__setitem__("posting_date", date(9999, 12, 31))),
            ),
            "InvalidRecordError",
        ),
        Poison(
            "negative quantity",
            "shop.events",
            b"p-quantity",
            items(first_item("quantity", -3)),
            "InvalidRecordError",
        ),
        Poison(
            "negative unit price",
            "shop.events",
            b"p-price",
            items(first_item("unit_price", Decimal("-129.90"))),
            "InvalidRecordError",
        ),
        Poison(
            "negative order total",
            "shop.events",
            b"p-total",
            items(lambda r: r["order"].__setitem__("total", Decimal("-10.00"))),
            "InvalidRecordError",
        ),
        Poison(
            "negative planned amount",
            "marketing.budget.plans",
            b"p-plan",
            CODEC.encode(
                "marketing.budget.plans",
                _changed(plan, lambda r: r.__setitem__("planned_amount", Decimal("-5000.00"))),
            ),
            "InvalidRecordError",
        ),
        Poison(
            "amount and local amount of different signs",
            "erp.invoices",
            b"p-signs",
            CODEC.encode(
                "erp.invoices",
                _changed(invoice, lambda r: r.__setitem__("amount", Decimal("-2500.00"))),
            ),
            "InvalidRecordError",
        ),
    ]


def good_budget(campaign_id: str) -> tuple[bytes, bytes, bytes, bytes]:
    """A plan and an invoice of 123.45 for a fresh campaign: the good records after the poison."""
    samples = _samples()
    plan = samples["marketing.budget.plans:marketing.budget.plans"] | {"campaign_id": campaign_id}
    invoice = samples["erp.invoices:invoice"] | {
        "document_id": "1000-2026-5199999999",
        "campaign_id": campaign_id,
        "amount": Decimal("123.45"),
        "local_amount": Decimal("123.45"),
    }
    return (
        campaign_id.encode(),
        CODEC.encode("marketing.budget.plans", plan),
        invoice["document_id"].encode(),
        CODEC.encode("erp.invoices", invoice),
    )


def actual_amount(base: str, campaign_id: str) -> str | None:
    """The actual amount the worker shows for a campaign, None while it knows none."""
    status, body = http_get(f"{base}/budgets/{campaign_id}")
    return body.get("actual_amount") if status == 200 else None


def test_every_poison_is_dead_lettered_with_its_reason_and_good_records_still_flow(
    drill_env: dict[str, str], drill_settings: Settings
) -> None:
    cases = poisons()
    process = worker(drill_env)
    try:
        for case in cases:
            produce_raw(drill_settings, case.topic, [(case.key, case.value)])
        plan_key, plan, invoice_key, invoice = good_budget("cmp-after-poison")
        produce_raw(drill_settings, "marketing.budget.plans", [(plan_key, plan)])
        produce_raw(drill_settings, "erp.invoices", [(invoice_key, invoice)])

        base = worker_url(drill_env)
        wait_for(
            lambda: (
                http_get(f"{base}/budgets/cmp-after-poison")[1].get("actual_amount") == "123.45"
                if http_get(f"{base}/budgets/cmp-after-poison")[0] == 200
                else False
            ),
            SETTLE,
            lambda: f"good records after the poison were not processed:\n{process.log_tail()}",
            process.process,
        )
        letters = {
            topic: read_topic(drill_settings, f"dlq.{topic}") for topic in {c.topic for c in cases}
        }
        assert process.running, f"worker died:\n{process.log_tail()}"
    finally:
        process.stop()

    print(f"\npoison drill: {len(cases)} kinds of bad input")
    for case in cases:
        found = [m for m in letters[case.topic] if m.value() == case.value and m.key() == case.key]
        assert len(found) == 1, f"{case.name}: {len(found)} dead letters instead of one"
        letter = found[0]
        error_class = header(letter, ERROR_CLASS) or ""
        assert error_class.endswith(case.error_class), f"{case.name}: {error_class}"
        assert header(letter, ERROR_MESSAGE), f"{case.name}: no error.message"
        assert header(letter, ORIGIN_TOPIC) == case.topic
        assert header(letter, ORIGIN_OFFSET) is not None
        reason = (header(letter, ERROR_MESSAGE) or "")[:70]
        print(f"  {case.name:45} -> dlq.{case.topic} {error_class}: {reason}")
