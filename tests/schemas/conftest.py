from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest


@pytest.fixture
def alert() -> dict[str, Any]:
    return {
        "alert_id": "alert-1",
        "kind": "device_step_failed",
        "severity": "warning",
        "source": "franking-1",
        "job_id": "job-7",
        "campaign_id": None,
        "message": "franking failed: ink low",
        "responsible": None,
        "occurred_at": datetime(2026, 3, 1, 9, 30, 0, 250000, tzinfo=UTC),
    }


@pytest.fixture
def order_event() -> dict[str, Any]:
    return {
        "event_id": "evt-1",
        "event_type": "order_placed",
        "occurred_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "session_id": "sess-1",
        "customer_id": "shop-42",
        "url": None,
        "product": None,
        "order": {
            "order_id": "order-9",
            "items": [
                {
                    "sku": "RB-1",
                    "name": "Rennrad Größe 56",
                    "category": "road_bike",
                    "quantity": 1,
                    "unit_price": Decimal("1299.00"),
                }
            ],
            "total": Decimal("1299.00"),
            "currency": "EUR",
        },
        "customer": {
            "first_name": "Erika",
            "last_name": "Musterfrau",
            "gender": "female",
            "title": "Dr.",
            "email": "erika@example.org",
            "phone": None,
            "street": "Hauptstraße 1",
            "postal_code": "01067",
            "city": "Dresden",
            "country": "DE",
            "social_handles": [],
        },
    }
