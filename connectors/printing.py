"""The print connector: `outbound.print` jobs go through render, print, frank and dispatch.

It wires the devices into the step machine and publishes every attempt to `device.steps` and
every failure to `alerts`; retries, dead letters and commits are the sink runtime's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

import aiohttp
import structlog
from confluent_kafka import KafkaError, Message, Producer

from connectors.dead_letters import ALERTS_TOPIC
from connectors.device_steps import (
    Device,
    DeviceError,
    PrintJob,
    Receipt,
    StepAttempt,
    StepContext,
    StepFailed,
    StepMachine,
    StepStore,
    failure_alert,
    step_event,
)
from connectors.devices import (
    DEFAULT_DISPATCH_URL,
    DEFAULT_FRANKING_URL,
    DEVICE_PATHS,
    FaultPlan,
    SimulatedPrinter,
)
from connectors.errors import (
    ConnectorConfigError,
    DeliveryError,
    PartialDeliveryError,
    PermanentDeliveryError,
    RetriableDeliveryError,
)
from connectors.http_client import HttpCall, delivery_error
from connectors.ipp_printer import IppPrinter
from connectors.letter_pdf import Letter, postal_lines, render_letter
from connectors.metrics import ConnectorMetrics
from connectors.retry import RetryPolicy
from connectors.runtime import SinkRunner, process_options, run_sink_process
from connectors.sink import Sink, SinkRecord
from connectors.templates import TemplateRenderError, Templates
from schemas.catalog import get_topic
from schemas.codec import Codec, make_codec
from streams.kafka import ensure_topics, producer_config
from streams.settings import Settings

log = structlog.get_logger(__name__)

PRINT_TOPIC: Final = "outbound.print"
STEPS_TOPIC: Final = "device.steps"
RENDERER_ID: Final = "letter-renderer"
DEVICE_RETRY: Final = RetryPolicy(max_attempts=8, max_elapsed=300.0, base_delay=1.0, max_delay=30.0)
"""Devices recover in seconds to minutes (a paper jam, an empty ink cartridge)."""
Event = tuple[str, str, dict[str, Any]]
"""A message to publish: topic, key and value."""
_FLUSH_SECONDS: Final = 30.0


LETTER_ZONE: Final = ZoneInfo("Europe/Berlin")
"""The letter date is the job's creation day in German time."""


class LetterRenderer:
    """The render step: the job's letter template laid out as a DIN 5008 PDF."""

    device_id = RENDERER_ID

    def __init__(self, templates: Templates | None = None, faults: FaultPlan | None = None):
        self._templates = templates or Templates()
        self._faults = faults or FaultPlan()

    def letter(self, job: PrintJob) -> Letter:
        """The letter of a job.

        Raises:
            TemplateRenderError: The template cannot be rendered with the job's variables.
        """
        context = {**job.variables, "salutation": job.salutation, "job_id": job.job_id}
        body = self._templates.letter(job.template, context)
        address = postal_lines(
            job.address_lines, job.street, job.postal_code, job.city, job.country
        )
        return Letter(
            sender_line=body.sender_line,
            address=address,
            letter_date=job.created_at.astimezone(LETTER_ZONE).date(),
            subject=body.subject,
            salutation=job.salutation,
            body=body.text,
        )

    async def perform(self, context: StepContext) -> Receipt:
        """Render the letter; the receipt carries the PDF and its SHA-256 as reference.

        Raises:
            DeviceError: A drilled fault, or (permanently) a template that cannot render.
        """
        fault = self._faults.due("render", self.device_id)
        if fault is not None:
            raise fault
        try:
            letter = self.letter(context.job)
        except TemplateRenderError as exc:
            raise DeviceError(
                str(exc), device_id=self.device_id, code="TEMPLATE_ERROR", permanent=True
            ) from exc
        pdf = await asyncio.to_thread(render_letter, letter)
        return Receipt(self.device_id, hashlib.sha256(pdf).hexdigest()[:16], document=pdf)


class HttpDevice:
    """A franking or dispatch device behind the device API of `connectors.devices`.

    Args:
        step: `frank` or `dispatch`.
        base_url: The device's base URL (`FRANKING_URL`, `DISPATCH_URL`).
        timeout: Seconds one request may take.
    """

    def __init__(self, step: str, base_url: str, timeout: float = 30.0) -> None:
        self.step = step
        self.base_url = base_url.rstrip("/")
        self.device_id = self.base_url
        self._path = DEVICE_PATHS[step]
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def perform(self, context: StepContext) -> Receipt:
        """Ask the device to perform its step; `<job_id>:<step>` is the idempotency key.

        Raises:
            DeviceError: The device is unreachable or answered with an error.
        """
        job = context.job
        body = {
            "job_id": job.job_id,
            "destination_country": job.country,
            "references": {step: receipt.reference for step, receipt in context.receipts.items()},
        }
        call = HttpCall("POST", self._path, f"{job.job_id}:{self.step}", body)
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(
                    self.base_url + call.path,
                    json=body,
                    headers={"Idempotency-Key": call.idempotency_key},
                ) as response,
            ):
                text = await response.text(errors="replace")
                status, reason = response.status, response.reason or ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            msg = f"device {self.device_id} is unreachable: {exc or type(exc).__name__}"
            raise DeviceError(msg, device_id=self.device_id, code="UNREACHABLE") from exc
        answer = _json_object(text)
        device_id = str(answer.get("device_id") or self.device_id)
        error = delivery_error(call, status, reason, detail=" ".join(text.split())[:200])
        if error is not None:
            raise DeviceError(
                str(answer.get("error_message") or error),
                device_id=device_id,
                code=str(answer.get("error_code") or f"HTTP_{status}"),
                permanent=isinstance(error, PermanentDeliveryError),
            )
        return Receipt(device_id, str(answer.get("reference") or ""))


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class EventOutlet(Protocol):
    """Where the print connector's events go (Kafka in production)."""

    async def open(self) -> None:
        """Prepare to publish."""

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish events and return once they are stored.

        Raises:
            DeliveryError: Some events were not confirmed.
        """

    async def close(self) -> None:
        """Release what `open()` acquired."""


class KafkaOutlet:
    """Publishes events to Kafka, encoded with the codec, and waits for the broker's ack."""

    def __init__(
        self,
        settings: Settings,
        codec: Codec | None = None,
        metrics: ConnectorMetrics | None = None,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._codec = codec or make_codec(settings.schema_registry_url)
        self._producer = Producer(producer_config(settings))
        self._failures: list[str] = []

    async def open(self) -> None:
        """Create `device.steps` and `alerts` when they are missing."""
        specs = [get_topic(STEPS_TOPIC), get_topic(ALERTS_TOPIC)]
        await asyncio.to_thread(ensure_topics, self._settings, specs)

    async def publish(self, events: Sequence[Event]) -> None:
        """Produce the events and flush.

        Raises:
            RetriableDeliveryError: The broker refused or did not confirm an event in time.
        """
        for topic, key, value in events:
            self._producer.produce(
                topic,
                key=key.encode(),
                value=self._codec.encode(topic, value),
                on_delivery=self._on_delivery,
            )
            self._producer.poll(0)
        remaining = await asyncio.to_thread(self._producer.flush, _FLUSH_SECONDS)
        failures, self._failures = self._failures, []
        if remaining or failures:
            reason = failures[0] if failures else f"{remaining} unconfirmed after 30 s"
            msg = f"device events could not be published: {reason}"
            raise RetriableDeliveryError(msg)
        if self._metrics is not None:
            for topic, _, value in events:
                if topic == STEPS_TOPIC:
                    self._metrics.device_steps.labels(value["step"], value["status"]).inc()

    async def close(self) -> None:
        """Flush what is still queued."""
        await asyncio.to_thread(self._producer.flush, _FLUSH_SECONDS)

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}: {error.str()}")


def attempt_events(
    store: StepStore, responsible: str | None
) -> tuple[list[Event], list[StepAttempt]]:
    """The events of the store's unreported attempts, and those attempts.

    Every attempt becomes a `device.steps` event; a failed one also an `alerts` event, which
    names the job's campaign, and is meant for ``responsible`` (the one who runs the devices)
    or else for the person the campaign's request named.
    """
    attempts = store.unreported()
    events: list[Event] = []
    for attempt in attempts:
        events.append((STEPS_TOPIC, attempt.job_id, step_event(attempt)))
        if attempt.status == "failed":
            campaign_id, campaign_responsible = store.campaign_of(attempt.job_id)
            alert = failure_alert(attempt, responsible or campaign_responsible, campaign_id)
            events.append((ALERTS_TOPIC, alert["alert_id"], alert))
    return events, attempts


class PrintSink(Sink):
    """Delivers `outbound.print` jobs through the device steps, each step exactly once.

    A failed step is retried by the runner with backoff; after the retry budget the job goes
    to `dlq.outbound.print`, and `journeyhub dlq replay outbound.print` resumes it at the
    step that failed (the steps that succeeded are remembered in the step store).

    Args:
        data_dir: Where the step store lives (`print-steps.sqlite3`).
        devices: The device of each step (`render`, `print`, `frank`, `dispatch`).
        outlet: Where `device.steps` and `alerts` events are published.
        responsible: E-mail of the person alerted about device failures.
        concurrency: Jobs in progress at once.
    """

    name = "print"
    topics = (PRINT_TOPIC,)

    def __init__(
        self,
        data_dir: Path,
        devices: Mapping[str, Device],
        outlet: EventOutlet,
        responsible: str | None = None,
        concurrency: int = 4,
    ) -> None:
        self.data_dir = data_dir
        self.devices = devices
        self.outlet = outlet
        self.responsible = responsible
        self._slots = asyncio.Semaphore(concurrency)
        self._report_lock = asyncio.Lock()
        self._machine: StepMachine | None = None

    async def open(self) -> None:
        """Open the step store and the outlet."""
        await self.outlet.open()
        self._machine = StepMachine(StepStore(self.data_dir), self.devices)

    async def close(self) -> None:
        """Close the step store and the outlet."""
        if self._machine is not None:
            self._machine.store.close()
            self._machine = None
        await self.outlet.close()

    async def deliver(self, batch: list[SinkRecord]) -> None:
        """Advance every job of the batch as far as its devices allow, then report.

        Jobs run side by side; records of one job id run in order, so a job delivered twice
        in a batch is performed once.

        Raises:
            PartialDeliveryError: Some jobs stopped at a failed step; it names their records.
            RetriableDeliveryError: The events could not be published (the steps that
                succeeded are not repeated on the retry).
        """
        machine = self._require_open()
        by_job: dict[str, list[tuple[SinkRecord, PrintJob]]] = {}
        for record in batch:
            if record.value is not None:
                job = PrintJob.from_value(record.value)
                by_job.setdefault(job.job_id, []).append((record, job))
        outcomes = await asyncio.gather(*(self._advance(machine, jobs) for jobs in by_job.values()))
        await self._report(machine.store)
        failures = [failure for failure in outcomes if failure is not None]
        if failures:
            raise PartialDeliveryError(failures)

    async def _advance(
        self, machine: StepMachine, jobs: list[tuple[SinkRecord, PrintJob]]
    ) -> DeliveryError | None:
        for index, (record, job) in enumerate(jobs):
            try:
                async with self._slots:
                    performed = await machine.advance(job)
            except StepFailed as exc:
                failed = [failed_record for failed_record, _ in jobs[index:]]
                if exc.attempt.permanent:
                    return PermanentDeliveryError(str(exc), records=failed)
                return RetriableDeliveryError(str(exc), records=failed)
            if not performed:
                log.info("print_job_already_done", job_id=job.job_id, position=record.position)
        return None

    async def _report(self, store: StepStore) -> None:
        async with self._report_lock:
            events, attempts = attempt_events(store, self.responsible)
            if events:
                await self.outlet.publish(events)
                store.mark_reported(attempts)

    def _require_open(self) -> StepMachine:
        if self._machine is None:
            msg = "the print sink is not open; call open() first"
            raise ConnectorConfigError(msg)
        return self._machine


def print_devices(settings: Settings, templates: Templates | None = None) -> dict[str, Device]:
    """The devices `settings` name: `PRINTER_URI`, `FRANKING_URL`, `DISPATCH_URL`.

    Unset device URLs mean the simulators of `connectors.devices` on 127.0.0.1 (franking on
    port 8101, dispatch on 8102) and the simulated printer writing to `<data_dir>/print/`.
    `JOURNEYHUB_DEVICE_FAULTS` drills the render step and the simulated printer here; the
    franking and dispatch simulators read it themselves.
    """
    faults = FaultPlan.from_settings(settings)
    printer: Device
    if settings.printer_uri:
        printer = IppPrinter(settings.printer_uri)
    else:
        printer = SimulatedPrinter(settings.data_dir, faults)
    return {
        "render": LetterRenderer(templates, faults),
        "print": printer,
        "frank": HttpDevice("frank", settings.franking_url or DEFAULT_FRANKING_URL),
        "dispatch": HttpDevice("dispatch", settings.dispatch_url or DEFAULT_DISPATCH_URL),
    }


def run_print_connector(settings: Settings, *, metrics_port: int | None = None) -> None:
    """Run the print connector until SIGINT or SIGTERM (`journeyhub connect print`).

    Args:
        settings: Device URLs, `JOURNEYHUB_DEVICE_FAULTS`, `JOURNEYHUB_RESPONSIBLE`, the data
            directory of the step store and the Kafka settings are used.
        metrics_port: Serve `/metrics` on this port (on `JOURNEYHUB_WEB_HOST`) when set.
    """
    metrics = ConnectorMetrics()
    sink = PrintSink(
        settings.data_dir,
        print_devices(settings),
        KafkaOutlet(settings, metrics=metrics),
        settings.default_responsible,
    )
    options = process_options(settings, metrics_port, retry=DEVICE_RETRY)
    run_sink_process(SinkRunner(sink, settings, options, metrics=metrics))
