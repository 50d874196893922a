"""Sink records and profile values for connector tests, with synthetic data only."""

from datetime import UTC, datetime
from typing import Any

from connectors.crm import LEADS_TOPIC, PROFILES_TOPIC
from connectors.sink import SinkRecord
from schemas.jsonconv import json_to_record


def profile(customer_id: str, *, customer: bool = True, **fields: Any) -> dict[str, Any]:
    """A customer360.profiles value; `customer=False` makes a prospect."""
    now = datetime.now(UTC).isoformat()
    document = {
        "customer_id": customer_id,
        "salutation": "",
        "letter_salutation": "Guten Tag Test Person",
        "first_name": "Test",
        "last_name": "Person",
        "email": f"{customer_id}@example.test",
        "postal_code": "01234",
        "identities": {"shop_customer_ids": [f"shop-{customer_id}"] if customer else []},
        "orders": {"count": 0, "total": "0.00"},
        "lead_score": 0,
        "lead_status": "prospect",
        "social": {"mentions": 0},
        "first_seen_at": now,
        "last_seen_at": now,
        "updated_at": now,
        **fields,
    }
    return json_to_record(PROFILES_TOPIC, document)


def lead(customer_id: str, score: int = 60) -> dict[str, Any]:
    """A crm.leads value for a person."""
    document = {
        "lead_id": f"lead-{customer_id}",
        "customer_id": customer_id,
        "score": score,
        "reasons": ["download", "webinar_clicked"],
        "lead_status": "sales_lead",
        "created_at": datetime.now(UTC).isoformat(),
    }
    return json_to_record(LEADS_TOPIC, document)


def record(
    key: str | None,
    value: dict[str, Any] | None,
    offset: int,
    topic: str = PROFILES_TOPIC,
    partition: int = 0,
) -> SinkRecord:
    """A decoded sink record at a position."""
    return SinkRecord(topic=topic, partition=partition, offset=offset, key=key, value=value)
