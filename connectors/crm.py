"""The CRM connector: customer profiles become contacts and sales leads become leads in a CRM.

It decides what a batch of `customer360.profiles` or `crm.leads` means for the generic CRM
REST API (documented on `CrmSink`); the sink runtime does the Kafka side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from connectors.contact_fingerprints import ContactFingerprints, fingerprint
from connectors.crm_mapping import DEFAULT_MAPPING, FieldMapping
from connectors.errors import (
    ConnectorConfigError,
    DeliveryError,
    MappingError,
    PartialDeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.http_client import HttpCall, HttpTarget
from connectors.runtime import SinkRunner, process_options, run_sink_process
from connectors.sandbox_crm import DEFAULT_PORT
from connectors.sink import Sink, SinkRecord
from schemas.errors import SchemaError
from schemas.jsonconv import record_to_json
from streams.settings import Settings, revealed

PROFILES_TOPIC: Final = "customer360.profiles"
LEADS_TOPIC: Final = "crm.leads"
DEFAULT_CRM_URL: Final = f"http://127.0.0.1:{DEFAULT_PORT}"
_NOT_FOUND: Final = frozenset({404})
FINGERPRINTS_NAME: Final = "crm-contacts.sqlite3"


def is_customer(profile: Mapping[str, Any]) -> bool:
    """Tell whether a profile is a customer: a shop account, an order, or status `customer`."""
    identities = profile.get("identities") or {}
    orders = profile.get("orders") or {}
    return bool(
        identities.get("shop_customer_ids")
        or (orders.get("count") or 0) > 0
        or profile.get("lead_status") == "customer"
    )


@dataclass(frozen=True)
class PlannedCall:
    """One step of delivering a batch: a call, or nothing to send, for some records.

    Attributes:
        records: The records the step stands for.
        call: The request to send; None when the records need no call (e.g. a prospect).
        error: Why no call could be built; the records are then dead-lettered.
        contact_id: The external id of the contact the call writes or deletes, if any.
        body_fingerprint: The :func:`fingerprint` of the contact body the call writes, if any.
    """

    records: tuple[SinkRecord, ...]
    call: HttpCall | None = None
    error: DeliveryError | None = None
    contact_id: str | None = None
    body_fingerprint: str | None = None


def _by_key(batch: Sequence[SinkRecord]) -> dict[str | None, list[SinkRecord]]:
    groups: dict[str | None, list[SinkRecord]] = {}
    for record in batch:
        groups.setdefault(record.key, []).append(record)
    return groups


def contact_call(records: Sequence[SinkRecord], mapping: FieldMapping) -> PlannedCall:
    """Plan the call for the profile records of one customer: the last one wins.

    A tombstone becomes `DELETE /contacts/{key}` (404 counts as done), a customer's profile
    `PUT /contacts/{customer_id}` with the mapped body, and a prospect's profile no call.
    """
    last = records[-1]
    key = f"{last.topic}:{last.partition}:{last.offset}"
    if last.value is None and last.key is None:
        msg = f"cannot delete a contact for {last.position}: the tombstone has no key"
        return PlannedCall(tuple(records), error=PermanentDeliveryError(msg, records=records))
    if last.value is None:
        contact_id = str(last.key)
        path = f"/contacts/{quote(contact_id, safe='')}"
        call = HttpCall("DELETE", path, key, None, _NOT_FOUND)
        return PlannedCall(tuple(records), call, contact_id=contact_id)
    if not is_customer(last.value):
        return PlannedCall(tuple(records))
    try:
        body = mapping.apply(record_to_json(PROFILES_TOPIC, last.value))
    except (MappingError, SchemaError) as exc:
        msg = f"cannot build the contact of {last.position}: {exc}"
        return PlannedCall(tuple(records), error=PermanentDeliveryError(msg, records=records))
    contact_id = str(last.value["customer_id"])
    path = f"/contacts/{quote(contact_id, safe='')}"
    call = HttpCall("PUT", path, key, body)
    return PlannedCall(
        tuple(records), call, contact_id=contact_id, body_fingerprint=fingerprint(body)
    )


def lead_call(record: SinkRecord) -> PlannedCall:
    """Plan `POST /leads` for a lead record, keyed by its `lead_id`; a tombstone needs no call."""
    lead = record.value
    if lead is None:
        return PlannedCall((record,))
    body = {
        "lead_id": lead["lead_id"],
        "customer_id": lead["customer_id"],
        "score": lead["score"],
        "reasons": list(lead.get("reasons") or []),
    }
    return PlannedCall((record,), HttpCall("POST", "/leads", str(lead["lead_id"]), body))


def plan_calls(batch: Sequence[SinkRecord], mapping: FieldMapping) -> list[list[PlannedCall]]:
    """Plan a batch of one topic-partition: per key, the calls to send in order.

    Profiles of one customer collapse into one call (last value wins, a trailing tombstone
    deletes); every lead is its own call.
    """
    if not batch:
        return []
    if batch[0].topic == PROFILES_TOPIC:
        return [[contact_call(records, mapping)] for records in _by_key(batch).values()]
    return [[lead_call(record) for record in records] for records in _by_key(batch).values()]


class CrmSink(Sink):
    """Delivers profiles and leads to a CRM that speaks the generic CRM REST API.

    The generic CRM REST API (JSON bodies; `Authorization: Bearer <CRM_TOKEN>` when a
    token is configured; every write carries an `Idempotency-Key` header):

    - `PUT /contacts/{external_id}` creates or replaces the contact with that id; the body
      is the mapped profile (by default the profile's own field names: `customer_id`,
      `salutation`, `letter_salutation`, `first_name`, `last_name`, `email`, `phone`,
      `street`, `postal_code`, `city`, `country`, `lead_status`, `lead_score`, …).
      Answers 201 (created) or 200 (updated) with the contact.
    - `DELETE /contacts/{external_id}` deletes the contact: 204, or 404 when there is none
      (which the connector takes as done).
    - `GET /contacts/{external_id}` answers the contact or 404; `GET /contacts?email=…`
      the list of contacts with that e-mail.
    - `POST /leads` creates a lead from `{"lead_id", "customer_id", "score", "reasons"}`,
      once per `Idempotency-Key` (the `lead_id`): a repeated key answers 200 with the
      original lead, a new one 201. Without the header, or without `customer_id` or
      `score`, 400.
    - `GET /leads` answers the list of leads.

    Answers 408, 429 and 5xx, timeouts and connection errors are retried (honouring
    `Retry-After`); any other 4xx is final and dead-letters the record. A contact whose
    mapped body is the one the CRM last confirmed is not sent again (see
    `connectors.contact_fingerprints`); `fingerprints_path` keeps that knowledge across
    restarts.
    """

    name = "crm"
    topics = (PROFILES_TOPIC, LEADS_TOPIC)

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        mapping: FieldMapping = DEFAULT_MAPPING,
        concurrency: int = 8,
        timeout: float = 10.0,
        fingerprints_path: Path | None = None,
    ) -> None:
        self.mapping = mapping
        self._target = HttpTarget(base_url, token, timeout)
        self._slots = asyncio.Semaphore(concurrency)
        self._fingerprints_path = fingerprints_path
        self._fingerprints: ContactFingerprints | None = None

    async def open(self) -> None:
        """Open the HTTP connection pool and the contact fingerprints."""
        self._fingerprints = ContactFingerprints(self._target.base_url, self._fingerprints_path)
        await self._target.open()

    async def close(self) -> None:
        """Close the HTTP connection pool and the contact fingerprints."""
        await self._target.close()
        if self._fingerprints is not None:
            self._fingerprints.close()
            self._fingerprints = None

    async def deliver(self, batch: list[SinkRecord]) -> None:
        """Send the batch's calls, keys side by side, the calls of one key in order.

        Raises:
            PartialDeliveryError: Some calls failed; it names their records.
        """
        per_key = await asyncio.gather(
            *(self._send_in_order(steps) for steps in plan_calls(batch, self.mapping))
        )
        failures = [failure for failures in per_key for failure in failures]
        if failures:
            raise PartialDeliveryError(failures)

    async def _send_in_order(self, steps: list[PlannedCall]) -> list[DeliveryError]:
        """Send the calls of one key; after a retriable failure the rest of the key waits."""
        failures: list[DeliveryError] = []
        for index, step in enumerate(steps):
            if step.error is not None:
                failures.append(step.error)
            if step.call is None or self._is_unchanged(step):
                continue
            try:
                async with self._slots:
                    await self._target.send(step.call)
                self._remember(step)
            except RetriableDeliveryError as exc:
                waiting = [record for later in steps[index:] for record in later.records]
                failures.append(
                    RetriableDeliveryError(
                        str(exc), records=waiting, status=exc.status, retry_after=exc.retry_after
                    )
                )
                break
            except PermanentDeliveryError as exc:
                failures.append(
                    PermanentDeliveryError(str(exc), records=step.records, status=exc.status)
                )
        return failures

    def _is_unchanged(self, step: PlannedCall) -> bool:
        fingerprints = self._require_open()
        return (
            step.contact_id is not None
            and step.body_fingerprint is not None
            and fingerprints.unchanged(step.contact_id, step.body_fingerprint)
        )

    def _remember(self, step: PlannedCall) -> None:
        if step.contact_id is None:
            return
        if step.body_fingerprint is None:
            self._require_open().forget(step.contact_id)
        else:
            self._require_open().confirmed(step.contact_id, step.body_fingerprint)

    def _require_open(self) -> ContactFingerprints:
        if self._fingerprints is None:
            msg = "the CRM sink is not open; call open() first"
            raise ConnectorConfigError(msg)
        return self._fingerprints


def run_crm_connector(
    settings: Settings,
    *,
    mapping: FieldMapping = DEFAULT_MAPPING,
    metrics_port: int | None = None,
) -> None:
    """Run the CRM connector in the foreground until SIGINT or SIGTERM (`journeyhub connect crm`).

    Args:
        settings: `CRM_URL` (default: the sandbox CRM on port 8099), `CRM_TOKEN`, the data
            directory of the contact fingerprints and the Kafka settings are used.
        mapping: The contact field mapping (see `connectors.crm_mapping.load_mapping`).
        metrics_port: Serve `/metrics` on this port (on `JOURNEYHUB_WEB_HOST`) when set;
            default `JOURNEYHUB_METRICS_PORT`.
    """
    token = revealed(settings.crm_token)
    sink = CrmSink(
        settings.crm_url or DEFAULT_CRM_URL,
        token,
        mapping,
        fingerprints_path=settings.data_dir / FINGERPRINTS_NAME,
    )
    options = process_options(settings, metrics_port)
    run_sink_process(SinkRunner(sink, settings, options))
