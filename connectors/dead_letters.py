"""Giving up on a record: its bytes go to `dlq.<topic>` and a `delivery_failed` alert is raised.

The alert says where the record sits and why, with ids only: the personal data stays in the
dead letter, where `journeyhub dlq replay` can send it again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Final

from confluent_kafka import KafkaError, Message, Producer

from connectors.errors import ConnectorError, DeliveryError
from connectors.sink import SinkRecord
from schemas.catalog import dlq_topic
from schemas.codec import Codec
from schemas.deadletter import dead_letter_headers
from schemas.job_variables import campaign_of

ALERTS_TOPIC: Final = "alerts"
Headers = list[tuple[str, str | bytes | None]]
_FLUSH_TIMEOUT: Final = 30.0


def delivery_failed_alert_id(record: SinkRecord) -> str:
    """The alert id of a dead-lettered record: the same for every redelivery of it."""
    return f"delivery_failed:{record.topic}:{record.partition}:{record.offset}"


def delivery_failed_alert(
    connector: str, record: SinkRecord, error: Exception, now: datetime | None = None
) -> dict[str, Any]:
    """Build the `alerts` value telling that a connector dead-lettered a record.

    The message names the error class and HTTP status but not the error text, which may
    quote personal data from the target's answer. A mail or letter job names itself, and a
    campaign's job its campaign and the campaign's responsible, who decides what becomes of
    it; without one the alerts connector falls back to `JOURNEYHUB_RESPONSIBLE`.
    """
    status = error.status if isinstance(error, DeliveryError) else None
    reason = type(error).__name__ + (f", HTTP {status}" if status else "")
    value = record.value or {}
    campaign_id, responsible = campaign_of(value.get("variables") or {})
    return {
        "alert_id": delivery_failed_alert_id(record),
        "kind": "delivery_failed",
        "severity": "critical",
        "source": connector,
        "job_id": value.get("job_id"),
        "campaign_id": campaign_id,
        "message": (
            f"connector {connector} could not deliver {record.position} ({reason}); "
            f"the record is in {dlq_topic(record.topic)}"
        ),
        "responsible": responsible,
        "occurred_at": now or datetime.now(UTC),
    }


class DeadLetterWriter:
    """Writes dead letters and their alerts, and confirms them before offsets are committed."""

    def __init__(self, producer: Producer, codec: Codec, connector: str) -> None:
        self._producer = producer
        self._codec = codec
        self._connector = connector
        self._failures: list[str] = []
        self._unconfirmed = 0

    def write(self, record: SinkRecord, error: Exception) -> None:
        """Queue the dead letter of `record` and, unless it came from `alerts`, its alert.

        The dead letter keeps the record's key, value and headers and adds the dead-letter
        headers after them.

        A failed alert is not alerted again: that would loop when alerts cannot be delivered.
        """
        headers: Headers = [
            *record.headers,
            *dead_letter_headers(error, record.topic, record.partition, record.offset),
        ]
        self._produce(dlq_topic(record.topic), record.raw_key, record.raw_value, headers)
        if record.topic != ALERTS_TOPIC:
            alert = delivery_failed_alert(self._connector, record, error)
            value = self._codec.encode(ALERTS_TOPIC, alert)
            self._produce(ALERTS_TOPIC, alert["alert_id"].encode(), value, [])

    async def confirm(self) -> None:
        """Wait until the broker acknowledged every queued message.

        Raises:
            ConnectorError: A message was refused or not acknowledged in time.
        """
        if not self._unconfirmed:
            return
        remaining = await asyncio.to_thread(self._producer.flush, _FLUSH_TIMEOUT)
        failures, self._failures, self._unconfirmed = self._failures, [], 0
        if remaining or failures:
            reason = failures[0] if failures else f"{remaining} unacknowledged after 30 s"
            msg = f"could not write dead letters or alerts: {reason}"
            raise ConnectorError(msg)

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers,
    ) -> None:
        self._producer.produce(
            topic, key=key, value=value, headers=headers, on_delivery=self._on_delivery
        )
        self._unconfirmed += 1
        self._producer.poll(0)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}: {error.str()}")
